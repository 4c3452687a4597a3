package tagging

import (
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-storage/strata/s3api/s3err"
)

func tagsXML(tags ...[2]string) string {
	var b strings.Builder
	b.WriteString(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>`)
	for _, t := range tags {
		b.WriteString("<Tag><Key>")
		xml.EscapeText(&b, []byte(t[0]))
		b.WriteString("</Key><Value>")
		xml.EscapeText(&b, []byte(t[1]))
		b.WriteString("</Value></Tag>")
	}
	b.WriteString(`</TagSet></Tagging>`)
	return b.String()
}

func nTags(n int) [][2]string {
	tags := make([][2]string, n)
	for i := range tags {
		tags[i] = [2]string{fmt.Sprintf("k%d", i), "v"}
	}
	return tags
}

func checkErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var ae *s3err.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *s3err.APIError %s", err, code)
	}
	if ae.Code != code || ae.Status != 400 {
		t.Fatalf("err = %s %d (%s), want %s 400", ae.Code, ae.Status, ae.Message, code)
	}
	if msg != "" && ae.Message != msg {
		t.Fatalf("message = %q, want %q", ae.Message, msg)
	}
}

const (
	msgDup     = "Cannot provide multiple Tags with the same key"
	msgSystem  = "System tags cannot be added/updated by requester"
	msgKey     = "The TagKey you have provided is invalid"
	msgValue   = "The TagValue you have provided is invalid"
	msgObjects = "Object tags cannot be greater than 10"
	msgBuckets = "Bucket tag count cannot be greater than 50"
)

func TestParseXML(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		forBucket bool
		want      map[string]string // when no error
		code, msg string
	}{
		{name: "two tags", body: tagsXML([2]string{"project", "blue"}, [2]string{"env", ""}),
			want: map[string]string{"project": "blue", "env": ""}},
		{name: "no namespace", body: `<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`,
			want: map[string]string{"a": "b"}},
		{name: "xml header and comment", body: xml.Header + tagsXML([2]string{"a", "b"}) + "\n<!-- x -->\n",
			want: map[string]string{"a": "b"}},
		{name: "empty tag set", body: `<Tagging><TagSet/></Tagging>`, want: map[string]string{}},
		{name: "all allowed characters", body: tagsXML([2]string{"Aa 09 +-=._:/@", "Zz 9 +-=._:/@"}),
			want: map[string]string{"Aa 09 +-=._:/@": "Zz 9 +-=._:/@"}},
		{name: "unicode letters and numbers", body: tagsXML([2]string{"Größe", "日本語 ٣ Ⅻ"}),
			want: map[string]string{"Größe": "日本語 ٣ Ⅻ"}},
		{name: "no-break space is a separator", body: tagsXML([2]string{"a\u00a0b", "c\u2003d"}),
			want: map[string]string{"a\u00a0b": "c\u2003d"}},
		{name: "10 object tags", body: tagsXML(nTags(10)...), want: func() map[string]string {
			m := map[string]string{}
			for _, t := range nTags(10) {
				m[t[0]] = t[1]
			}
			return m
		}()},

		{name: "empty body", body: ``, code: "MalformedXML"},
		{name: "not xml", body: `key=value`, code: "MalformedXML"},
		{name: "wrong root", body: `<Tags><TagSet/></Tags>`, code: "MalformedXML"},
		{name: "wrong namespace", body: `<Tagging xmlns="urn:x"><TagSet/></Tagging>`, code: "MalformedXML"},
		{name: "no tag set", body: `<Tagging></Tagging>`, code: "MalformedXML"},
		{name: "tag without key", body: `<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>`, code: "MalformedXML"},
		{name: "tag without value", body: `<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>`, code: "MalformedXML"},
		{name: "trailing element", body: tagsXML() + `<Tagging/>`, code: "MalformedXML"},
		{name: "too large", body: tagsXML() + strings.Repeat(" ", MaxBodySize), code: "MalformedXML"},

		{name: "11 object tags", body: tagsXML(nTags(11)...), code: "BadRequest", msg: msgObjects},
		{name: "11 bucket tags", body: tagsXML(nTags(11)...), forBucket: true, want: func() map[string]string {
			m := map[string]string{}
			for _, t := range nTags(11) {
				m[t[0]] = t[1]
			}
			return m
		}()},
		{name: "50 bucket tags", body: tagsXML(nTags(50)...), forBucket: true, want: func() map[string]string {
			m := map[string]string{}
			for _, t := range nTags(50) {
				m[t[0]] = t[1]
			}
			return m
		}()},
		{name: "51 bucket tags", body: tagsXML(nTags(51)...), forBucket: true, code: "BadRequest", msg: msgBuckets},

		{name: "duplicate key", body: tagsXML([2]string{"a", "1"}, [2]string{"a", "2"}), code: "InvalidTag", msg: msgDup},
		{name: "keys differ in case", body: tagsXML([2]string{"a", "1"}, [2]string{"A", "2"}),
			want: map[string]string{"a": "1", "A": "2"}},
		{name: "aws: prefix", body: tagsXML([2]string{"aws:createdBy", "me"}), code: "InvalidTag", msg: msgSystem},
		{name: "AWS: prefix", body: tagsXML([2]string{"AWS:x", "me"}), code: "InvalidTag", msg: msgSystem},
		{name: "aws without colon", body: tagsXML([2]string{"awsome", "x"}), want: map[string]string{"awsome": "x"}},
		{name: "aws: in value", body: tagsXML([2]string{"k", "aws:x"}), want: map[string]string{"k": "aws:x"}},
		{name: "empty key", body: tagsXML([2]string{"", "v"}), code: "InvalidTag", msg: msgKey},
		{name: "key 128 runes", body: tagsXML([2]string{strings.Repeat("é", 128), "v"}),
			want: map[string]string{strings.Repeat("é", 128): "v"}},
		{name: "key 129 runes", body: tagsXML([2]string{strings.Repeat("k", 129), "v"}), code: "InvalidTag", msg: msgKey},
		{name: "value 256 runes", body: tagsXML([2]string{"k", strings.Repeat("ü", 256)}),
			want: map[string]string{"k": strings.Repeat("ü", 256)}},
		{name: "value 257 runes", body: tagsXML([2]string{"k", strings.Repeat("v", 257)}), code: "InvalidTag", msg: msgValue},
		{name: "key with asterisk", body: tagsXML([2]string{"a*b", "v"}), code: "InvalidTag", msg: msgKey},
		{name: "key with comma", body: tagsXML([2]string{"a,b", "v"}), code: "InvalidTag", msg: msgKey},
		{name: "key with newline", body: tagsXML([2]string{"a\nb", "v"}), code: "InvalidTag", msg: msgKey},
		{name: "key with tab", body: tagsXML([2]string{"a\tb", "v"}), code: "InvalidTag", msg: msgKey},
		{name: "key with emoji", body: tagsXML([2]string{"a😀", "v"}), code: "InvalidTag", msg: msgKey},
		{name: "value with ampersand", body: tagsXML([2]string{"k", "a&b"}), code: "InvalidTag", msg: msgValue},
		{name: "value with quote", body: tagsXML([2]string{"k", `"x"`}), code: "InvalidTag", msg: msgValue},
		{name: "value with percent", body: tagsXML([2]string{"k", "50%"}), code: "InvalidTag", msg: msgValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXML(strings.NewReader(tt.body), tt.forBucket)
			checkErr(t, err, tt.code, tt.msg)
			if tt.code == "" {
				if got == nil || !maps.Equal(got, tt.want) {
					t.Fatalf("tags = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestParseXMLReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := ParseXML(iotest.ErrReader(boom), false); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the read error", err)
	}
}

func TestParseHeader(t *testing.T) {
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("k%d=v", i))
	}
	tests := []struct {
		name      string
		header    string
		want      map[string]string
		code, msg string
	}{
		{name: "empty", header: "", want: map[string]string{}},
		{name: "two", header: "k1=v1&k2=v2", want: map[string]string{"k1": "v1", "k2": "v2"}},
		{name: "no value", header: "k1&k2=", want: map[string]string{"k1": "", "k2": ""}},
		{name: "empty segments skipped", header: "&a=1&&b=2&", want: map[string]string{"a": "1", "b": "2"}},
		{name: "percent and plus encoded spaces", header: "my%20key=a+b%20c", want: map[string]string{"my key": "a b c"}},
		{name: "encoded specials", header: "a%2Bb=%3D%2F%3A%40", want: map[string]string{"a+b": "=/:@"}},
		{name: "utf-8", header: "Gr%C3%B6%C3%9Fe=%E6%97%A5", want: map[string]string{"Größe": "日"}},
		{name: "value with raw equals", header: "k=a=b", want: map[string]string{"k": "a=b"}},
		{name: "10 tags", header: strings.Join(eleven[:10], "&"), want: func() map[string]string {
			m := map[string]string{}
			for i := range 10 {
				m[fmt.Sprintf("k%d", i)] = "v"
			}
			return m
		}()},

		{name: "bad escape in key", header: "k%zz=v", code: "InvalidArgument"},
		{name: "bad escape in value", header: "k=%4", code: "InvalidArgument"},
		{name: "invalid utf-8", header: "k=%FF", code: "InvalidArgument"},
		{name: "11 tags", header: strings.Join(eleven, "&"), code: "BadRequest", msg: msgObjects},
		{name: "duplicate", header: "a=1&a=2", code: "InvalidArgument"},
		{name: "system tag", header: "aws%3Ax=1", code: "InvalidTag", msg: msgSystem},
		{name: "empty key", header: "=v", code: "InvalidArgument"},
		{name: "only equals", header: "=", code: "InvalidArgument"},
		{name: "bad key char", header: "a%2Cb=1", code: "InvalidTag", msg: msgKey},
		{name: "semicolon", header: "a=1;b=2", code: "InvalidTag", msg: msgValue},
		{name: "bad value char", header: "a=%21", code: "InvalidTag", msg: msgValue},
		{name: "long key", header: strings.Repeat("k", 129) + "=v", code: "InvalidTag", msg: msgKey},
		{name: "long value", header: "k=" + strings.Repeat("v", 257), code: "InvalidTag", msg: msgValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.header)
			checkErr(t, err, tt.code, tt.msg)
			if tt.code == "" {
				if got == nil || !maps.Equal(got, tt.want) {
					t.Fatalf("tags = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestMarshalXML(t *testing.T) {
	got := string(MarshalXML(map[string]string{"b": "2", "a": "1 & <x>", "c": ""}))
	want := xml.Header + `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>` +
		`<Tag><Key>a</Key><Value>1 &amp; &lt;x&gt;</Value></Tag>` +
		`<Tag><Key>b</Key><Value>2</Value></Tag>` +
		`<Tag><Key>c</Key><Value></Value></Tag>` +
		`</TagSet></Tagging>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	empty := string(MarshalXML(nil))
	if want := xml.Header + `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet></TagSet></Tagging>`; empty != want {
		t.Fatalf("empty: got %s\nwant %s", empty, want)
	}

	// The exported Tagging type reads what MarshalXML writes.
	var tg Tagging
	if err := xml.Unmarshal([]byte(got), &tg); err != nil {
		t.Fatal(err)
	}
	if len(tg.TagSet) != 3 || tg.TagSet[0] != (Tag{"a", "1 & <x>"}) {
		t.Fatalf("Tagging = %+v", tg)
	}
}

func TestMarshalXMLRoundTrip(t *testing.T) {
	in := map[string]string{"Größe": "日本語 ٣", "k+=.:/@_-": "", "a b": "c  d"}
	out, err := ParseXML(strings.NewReader(string(MarshalXML(in))), false)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(in, out) {
		t.Fatalf("round trip: %v, want %v", out, in)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		in   map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"k": "v"}, "k=v"},
		{map[string]string{"b": "2", "a": "1", "c": ""}, "a=1&b=2&c="},
		{map[string]string{"a b": "c+d", "x/y": "1=2"}, "a%20b=c%2Bd&x%2Fy=1%3D2"},
		{map[string]string{"Größe": "日"}, "Gr%C3%B6%C3%9Fe=%E6%97%A5"},
	}
	for _, tt := range tests {
		got := Encode(tt.in)
		if got != tt.want {
			t.Errorf("Encode(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := ParseHeader(got)
		if err != nil {
			t.Errorf("ParseHeader(Encode(%v)): %v", tt.in, err)
			continue
		}
		if len(tt.in) == 0 && len(back) == 0 {
			continue
		}
		if !maps.Equal(back, tt.in) {
			t.Errorf("round trip %v -> %q -> %v", tt.in, got, back)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("k1=v1&k2=v2")
	f.Add("a%20b=c+d")
	f.Fuzz(func(t *testing.T, h string) {
		m, err := ParseHeader(h)
		if err != nil {
			var ae *s3err.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("non-S3 error %v", err)
			}
			return
		}
		back, err := ParseHeader(Encode(m))
		if err != nil || !maps.Equal(back, m) {
			t.Fatalf("round trip of %v: %v, %v", m, back, err)
		}
		back, err = ParseXML(strings.NewReader(string(MarshalXML(m))), false)
		if err != nil || !maps.Equal(back, m) {
			t.Fatalf("XML round trip of %v: %v, %v", m, back, err)
		}
	})
}
