package cors

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-storage/strata/s3api/s3err"
)

func rulesXML(rules ...string) string {
	return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		strings.Join(rules, "") + `</CORSConfiguration>`
}

func TestParseValid(t *testing.T) {
	body := `<?xml version="1.0" encoding="UTF-8"?>
<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CORSRule>
    <ID>rule1</ID>
    <AllowedOrigin>http://www.example.com</AllowedOrigin>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
  <CORSRule>
    <AllowedOrigin> * </AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
  </CORSRule>
</CORSConfiguration>
<!-- trailing comment -->
`
	c, err := Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	age := 3000
	want := []Rule{
		{
			ID:             "rule1",
			AllowedHeaders: []string{"*"},
			AllowedMethods: []string{"PUT", "POST"},
			AllowedOrigins: []string{"http://www.example.com"},
			ExposeHeaders:  []string{"ETag"},
			MaxAgeSeconds:  &age,
		},
		{
			AllowedMethods: []string{"GET"},
			AllowedOrigins: []string{"*"}, // trimmed
		},
	}
	if !reflect.DeepEqual(c.Rules, want) {
		t.Fatalf("rules = %+v, want %+v", c.Rules, want)
	}
}

func TestParseNoNamespace(t *testing.T) {
	body := `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`
	if _, err := Parse(strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	rule := `<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`
	tooMany := rulesXML(strings.Repeat(rule, MaxRules+1))
	hundred := rulesXML(strings.Repeat(rule, MaxRules))

	tests := []struct {
		name string
		body string
		code string // "" means valid
		msg  string // substring of the message, if set
	}{
		{"empty body", ``, "MalformedXML", ""},
		{"not xml", `hello`, "MalformedXML", ""},
		{"truncated", `<CORSConfiguration><CORSRule>`, "MalformedXML", ""},
		{"wrong root", `<Tagging><CORSRule/></Tagging>`, "MalformedXML", ""},
		{"wrong namespace", `<CORSConfiguration xmlns="urn:other">` + rule + `</CORSConfiguration>`, "MalformedXML", ""},
		{"trailing element", rulesXML(rule) + `<x/>`, "MalformedXML", ""},
		{"trailing text", rulesXML(rule) + `junk`, "MalformedXML", ""},
		{"no rules", rulesXML(), "MalformedXML", ""},
		{"bad max age", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule>`), "MalformedXML", ""},
		{"100 rules", hundred, "", ""},
		{"101 rules", tooMany, "InvalidRequest", "100 rules"},
		{"no method", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>`), "MalformedXML", ""},
		{"no origin", rulesXML(`<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>`), "MalformedXML", ""},
		{"lowercase method", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod></CORSRule>`),
			"InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is get"},
		{"PATCH", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PATCH</AllowedMethod></CORSRule>`),
			"InvalidRequest", "Unsupported method is PATCH"},
		{"all methods", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>DELETE</AllowedMethod><AllowedMethod>HEAD</AllowedMethod></CORSRule>`), "", ""},
		{"two wildcards origin", rulesXML(`<CORSRule><AllowedOrigin>http://*.*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`),
			"InvalidRequest", `AllowedOrigin "http://*.*.example.com" can not have more than one wildcard.`},
		{"one wildcard origin", rulesXML(`<CORSRule><AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), "", ""},
		{"two wildcards header", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader></CORSRule>`),
			"InvalidRequest", `AllowedHeader "x-*-*" can not have more than one wildcard.`},
		{"one wildcard header", rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader></CORSRule>`), "", ""},
		{"long id", rulesXML(`<CORSRule><ID>` + strings.Repeat("a", 256) + `</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), "InvalidArgument", ""},
		{"id 255", rulesXML(`<CORSRule><ID>` + strings.Repeat("a", 255) + `</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), "", ""},
		{"too large", rulesXML(rule) + strings.Repeat(" ", MaxBodySize), "MalformedXML", "64 KB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.body))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ae *s3err.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *s3err.APIError %s", err, tt.code)
			}
			if ae.Code != tt.code || ae.Status != 400 {
				t.Fatalf("err = %s %d, want %s 400", ae.Code, ae.Status, tt.code)
			}
			if !strings.Contains(ae.Message, tt.msg) {
				t.Fatalf("message %q does not contain %q", ae.Message, tt.msg)
			}
		})
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Parse(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the read error", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	age := 60
	c := &Config{Rules: []Rule{
		{ID: "a", AllowedOrigins: []string{"http://*.example.com"}, AllowedMethods: []string{"GET", "HEAD"},
			AllowedHeaders: []string{"x-amz-*"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: &age},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PUT"}},
	}}
	out := c.Marshal()
	s := string(out)
	if !strings.HasPrefix(s, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML header: %s", s)
	}
	if !strings.Contains(s, `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`) {
		t.Errorf("no namespace: %s", s)
	}
	// The second rule has neither ID nor MaxAgeSeconds.
	if strings.Count(s, "<ID>") != 1 || strings.Count(s, "<MaxAgeSeconds>") != 1 {
		t.Errorf("omitempty fields written: %s", s)
	}
	back, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Rules, c.Rules) {
		t.Fatalf("round trip: %+v, want %+v", back.Rules, c.Rules)
	}
	// Marshal must not change its receiver.
	if c.XMLName.Space != "" {
		t.Error("Marshal changed the receiver")
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"http://*.example.com", "http://www.example.com", true},
		{"http://*.example.com", "http://a.b.example.com", true},
		{"http://*.example.com", "http://example.com", false},
		{"http://*.example.com", "https://www.example.com", false},
		{"http://*.example.com", "http://www.example.com.evil.org", false},
		{"http://*.example.com", "http://.example.com", true},
		{"x-amz-*", "x-amz-date", true},
		{"x-amz-*", "x-amz-", true},
		{"x-amz-*", "x-am", false},
		{"*-id", "x-amz-request-id", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abbbc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"ä*ö", "äxyö", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func testConfig(t *testing.T) *Config {
	t.Helper()
	body := rulesXML(
		// 0: one exact origin, write methods, any header.
		`<CORSRule><ID>exact</ID><AllowedOrigin>http://www.example1.com</AllowedOrigin>
		 <AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>DELETE</AllowedMethod>
		 <AllowedHeader>*</AllowedHeader></CORSRule>`,
		// 1: wildcard subdomain, GET only, some headers, expose + max age.
		`<CORSRule><ID>sub</ID><AllowedOrigin>https://*.example2.com</AllowedOrigin>
		 <AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>
		 <AllowedHeader>Content-Type</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader>
		 <ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-meta-custom</ExposeHeader>
		 <MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>`,
		// 2: same wildcard origin, PUT with a different header set: only reached
		// when rule 1 does not match.
		`<CORSRule><ID>sub-put</ID><AllowedOrigin>https://*.example2.com</AllowedOrigin>
		 <AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-acl</AllowedHeader></CORSRule>`,
		// 3: any origin, GET.
		`<CORSRule><ID>any</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`,
	)
	c, err := Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const vary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

func TestPreflight(t *testing.T) {
	c := testConfig(t)
	tests := []struct {
		name    string
		origin  string
		method  string
		headers []string
		want    http.Header // nil: not allowed
	}{
		{
			name: "exact origin, any header", origin: "http://www.example1.com", method: "PUT",
			headers: []string{"Content-Type, x-amz-date", "X-Custom"},
			want: http.Header{
				"Access-Control-Allow-Origin":      {"http://www.example1.com"},
				"Access-Control-Allow-Methods":     {"PUT, POST, DELETE"},
				"Access-Control-Allow-Headers":     {"content-type, x-amz-date, x-custom"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name: "exact origin, no headers", origin: "http://www.example1.com", method: "DELETE",
			want: http.Header{
				"Access-Control-Allow-Origin":      {"http://www.example1.com"},
				"Access-Control-Allow-Methods":     {"PUT, POST, DELETE"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name: "origin case-insensitive", origin: "HTTP://WWW.Example1.com", method: "POST",
			want: http.Header{
				"Access-Control-Allow-Origin":      {"HTTP://WWW.Example1.com"},
				"Access-Control-Allow-Methods":     {"PUT, POST, DELETE"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name: "wildcard origin, wildcard header, case-insensitive header", origin: "https://app.example2.com", method: "GET",
			headers: []string{"content-type", "X-Amz-Date"},
			want: http.Header{
				"Access-Control-Allow-Origin":      {"https://app.example2.com"},
				"Access-Control-Allow-Methods":     {"GET, HEAD"},
				"Access-Control-Allow-Headers":     {"content-type, x-amz-date"},
				"Access-Control-Expose-Headers":    {"ETag, x-amz-meta-custom"},
				"Access-Control-Max-Age":           {"3000"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name:   "header not allowed by the wildcard-origin GET rule falls to the any-origin rule: no headers there",
			origin: "https://app.example2.com", method: "GET", headers: []string{"authorization"},
		},
		{
			name: "first rule with PUT for the origin is rule 2", origin: "https://app.example2.com", method: "PUT",
			headers: []string{"x-amz-acl"},
			want: http.Header{
				"Access-Control-Allow-Origin":      {"https://app.example2.com"},
				"Access-Control-Allow-Methods":     {"PUT"},
				"Access-Control-Allow-Headers":     {"x-amz-acl"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name: "rule 2 does not allow this header", origin: "https://app.example2.com", method: "PUT",
			headers: []string{"x-amz-acl", "x-amz-date"},
		},
		{
			name: "any origin GET", origin: "http://elsewhere.org", method: "GET",
			want: http.Header{
				"Access-Control-Allow-Origin":  {"*"},
				"Access-Control-Allow-Methods": {"GET"},
				"Vary":                         {vary},
			},
		},
		{
			name: "earlier rule wins over any-origin rule", origin: "https://x.example2.com", method: "GET",
			want: http.Header{
				"Access-Control-Allow-Origin":      {"https://x.example2.com"},
				"Access-Control-Allow-Methods":     {"GET, HEAD"},
				"Access-Control-Expose-Headers":    {"ETag, x-amz-meta-custom"},
				"Access-Control-Max-Age":           {"3000"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{name: "method mismatch", origin: "http://elsewhere.org", method: "PUT"},
		{name: "method case-sensitive", origin: "http://www.example1.com", method: "put"},
		{name: "wildcard does not cover the bare domain", origin: "https://example2.com", method: "PUT"},
		{name: "wildcard scheme mismatch", origin: "http://app.example2.com", method: "PUT"},
		{name: "no origin", origin: "", method: "GET"},
		{name: "no method", origin: "http://www.example1.com", method: ""},
		{name: "OPTIONS is never allowed", origin: "http://www.example1.com", method: "OPTIONS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.Preflight(tt.origin, tt.method, tt.headers)
			if tt.want == nil {
				if ok || got != nil {
					t.Fatalf("allowed: %v", got)
				}
				return
			}
			if !ok {
				t.Fatal("not allowed")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("headers:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestPreflightNoAllowedHeaders(t *testing.T) {
	c := &Config{Rules: []Rule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}}}}
	if _, ok := c.Preflight("http://a.com", "GET", nil); !ok {
		t.Error("no requested headers: want allowed")
	}
	if _, ok := c.Preflight("http://a.com", "GET", []string{" , "}); !ok {
		t.Error("empty header list: want allowed")
	}
	if _, ok := c.Preflight("http://a.com", "GET", []string{"x-amz-date"}); ok {
		t.Error("rule without AllowedHeader allowed a requested header")
	}
}

func TestNilConfig(t *testing.T) {
	var c *Config
	if h, ok := c.Preflight("http://a.com", "GET", nil); ok || h != nil {
		t.Error("nil config allowed a preflight")
	}
	if h := c.Actual("http://a.com", "GET"); h != nil {
		t.Error("nil config allowed a request")
	}
}

func TestActual(t *testing.T) {
	c := testConfig(t)
	tests := []struct {
		name, origin, method string
		want                 http.Header
	}{
		{
			name: "exact", origin: "http://www.example1.com", method: "PUT",
			want: http.Header{
				"Access-Control-Allow-Origin":      {"http://www.example1.com"},
				"Access-Control-Allow-Methods":     {"PUT, POST, DELETE"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name: "wildcard origin with expose and max age", origin: "https://cdn.example2.com", method: "HEAD",
			want: http.Header{
				"Access-Control-Allow-Origin":      {"https://cdn.example2.com"},
				"Access-Control-Allow-Methods":     {"GET, HEAD"},
				"Access-Control-Expose-Headers":    {"ETag, x-amz-meta-custom"},
				"Access-Control-Max-Age":           {"3000"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			// Rule 2's AllowedHeader does not matter for actual requests.
			name: "headers not checked", origin: "https://cdn.example2.com", method: "PUT",
			want: http.Header{
				"Access-Control-Allow-Origin":      {"https://cdn.example2.com"},
				"Access-Control-Allow-Methods":     {"PUT"},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {vary},
			},
		},
		{
			name: "any origin", origin: "http://other.net", method: "GET",
			want: http.Header{
				"Access-Control-Allow-Origin":  {"*"},
				"Access-Control-Allow-Methods": {"GET"},
				"Vary":                         {vary},
			},
		},
		{name: "method mismatch", origin: "http://other.net", method: "DELETE"},
		{name: "no origin", origin: "", method: "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Actual(tt.origin, tt.method)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("headers:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestErrForbidden(t *testing.T) {
	if ErrForbidden.Code != "AccessForbidden" || ErrForbidden.Status != 403 ||
		!strings.HasPrefix(ErrForbidden.Message, "CORSResponse: This CORS request is not allowed.") {
		t.Fatalf("ErrForbidden = %+v", ErrForbidden)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(rulesXML(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`))
	f.Add(`<CORSConfiguration><CORSRule><AllowedOrigin>http://*.a.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-*</AllowedHeader><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule></CORSConfiguration>`)
	f.Fuzz(func(t *testing.T, body string) {
		c, err := Parse(strings.NewReader(body))
		if err != nil {
			var ae *s3err.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("non-S3 error %v", err)
			}
			return
		}
		// What parses must survive a round trip.
		back, err := Parse(strings.NewReader(string(c.Marshal())))
		if err != nil {
			t.Fatalf("re-parse of marshalled config: %v", err)
		}
		if len(back.Rules) != len(c.Rules) {
			t.Fatalf("round trip lost rules")
		}
	})
}
