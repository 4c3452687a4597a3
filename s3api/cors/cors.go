// Package cors holds a bucket's CORS configuration as AWS S3 documents it:
// parsing and validating PutBucketCors bodies, writing GetBucketCors bodies,
// and answering preflight (OPTIONS) and actual cross-origin requests.
package cors

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/s3xml"
)

// Namespace is the S3 XML namespace.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// MaxBodySize is the largest CORS document that Parse accepts (AWS: 64 KB).
const MaxBodySize = 64 << 10

// MaxRules is the most rules one configuration may hold.
const MaxRules = 100

// maxIDLen is the longest rule ID AWS accepts.
const maxIDLen = 255

// ErrForbidden is the error a caller answers when Preflight finds no rule,
// or when the bucket has no CORS configuration.
var ErrForbidden = s3err.ErrCORSForbidden // AWS's message, typo included

// Config is a bucket's CORS configuration.
type Config struct {
	XMLName xml.Name `xml:"CORSConfiguration"`
	Rules   []Rule   `xml:"CORSRule"`
}

// Rule is one CORSRule.
type Rule struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds,omitempty"`
}

// allowedMethods are the methods a rule may allow; AWS compares them
// case-sensitively.
var allowedMethods = map[string]bool{
	http.MethodGet:    true,
	http.MethodPut:    true,
	http.MethodPost:   true,
	http.MethodDelete: true,
	http.MethodHead:   true,
}

// Parse reads and validates a PutBucketCors body. Errors are
// *s3err.APIError values, except a failure to read body, which is returned
// as it is.
func Parse(body io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBodySize {
		return nil, s3err.ErrMalformedXML.WithMessage("The CORS configuration must not be larger than 64 KB.")
	}
	var c Config
	if err := s3xml.DecodeDocument(data, &c); err != nil {
		return nil, s3err.ErrMalformedXML
	}
	if c.XMLName.Space != "" && c.XMLName.Space != Namespace {
		return nil, s3err.ErrMalformedXML
	}
	c.XMLName = xml.Name{}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// validate checks c the way AWS does, trimming the white space around
// values as it goes.
func (c *Config) validate() error {
	if len(c.Rules) == 0 {
		// The schema requires at least one CORSRule.
		return s3err.ErrMalformedXML
	}
	if len(c.Rules) > MaxRules {
		return s3err.ErrInvalidRequest.WithMessage(fmt.Sprintf(
			"The number of CORS rules should not exceed allowed limit of %d rules.", MaxRules))
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		r.ID = strings.TrimSpace(r.ID)
		trimAll(r.AllowedHeaders)
		trimAll(r.AllowedMethods)
		trimAll(r.AllowedOrigins)
		trimAll(r.ExposeHeaders)

		// AllowedMethod and AllowedOrigin are required by the schema.
		if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
			return s3err.ErrMalformedXML
		}
		if len([]rune(r.ID)) > maxIDLen {
			return s3err.ErrInvalidArgument.WithMessage(fmt.Sprintf(
				"The ID of a CORS rule must not be longer than %d characters.", maxIDLen))
		}
		for _, m := range r.AllowedMethods {
			if !allowedMethods[m] {
				return s3err.ErrInvalidRequest.WithMessage(
					"Found unsupported HTTP method in CORS config. Unsupported method is " + m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return s3err.ErrInvalidRequest.WithMessage(
					fmt.Sprintf("AllowedOrigin %q can not have more than one wildcard.", o))
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return s3err.ErrInvalidRequest.WithMessage(
					fmt.Sprintf("AllowedHeader %q can not have more than one wildcard.", h))
			}
		}
		for _, h := range slices.Concat(r.AllowedHeaders, r.ExposeHeaders) {
			if !IsToken(h) {
				return s3err.ErrInvalidRequest.WithMessage(`AllowedHeader "` + h + `" contains invalid character.`)
			}
		}
	}
	return nil
}

func trimAll(s []string) {
	for i := range s {
		s[i] = strings.TrimSpace(s[i])
	}
}

// Marshal returns c as a GetBucketCors body, in the S3 namespace.
func (c *Config) Marshal() []byte {
	// The tag on Config's XMLName has no namespace and would win over a
	// namespace set in the field, so write through a type whose tag has it.
	out := struct {
		XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CORSConfiguration"`
		Rules   []Rule   `xml:"CORSRule"`
	}{Rules: c.Rules}
	b, err := xml.Marshal(&out)
	if err != nil {
		// Strings, slices and an *int always marshal.
		panic("cors: marshal: " + err.Error())
	}
	return append([]byte(xml.Header), b...)
}

// Preflight answers an OPTIONS request from origin that asks for method
// (Access-Control-Request-Method) and the headers reqHeaders
// (Access-Control-Request-Headers; entries may themselves be
// comma-separated lists). It returns the headers of the first rule that
// allows all of them, or ok=false, which the caller answers with
// ErrForbidden.
func (c *Config) Preflight(origin, method string, reqHeaders []string) (h http.Header, ok bool) {
	if c == nil || origin == "" || method == "" {
		return nil, false
	}
	headers := splitHeaderList(reqHeaders)
	for i := range c.Rules {
		r := &c.Rules[i]
		allowOrigin, okOrigin := r.matchOrigin(origin)
		if !okOrigin || !r.allowsMethod(method) || !r.allowsHeaders(headers) {
			continue
		}
		h = r.headers(allowOrigin)
		if len(headers) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.ToLower(strings.Join(headers, ", ")))
		}
		return h, true
	}
	return nil, false
}

// Actual returns the headers to add to the response to a request with an
// Origin header and the given method, or nil when no rule allows them.
// Request headers are not checked: the browser did that in its preflight.
func (c *Config) Actual(origin, method string) http.Header {
	if c == nil || origin == "" {
		return nil
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		if allowOrigin, ok := r.matchOrigin(origin); ok && r.allowsMethod(method) {
			return r.headers(allowOrigin)
		}
	}
	return nil
}

// headers are the response headers common to preflight and actual
// requests when r matched.
func (r *Rule) headers(allowOrigin string) http.Header {
	h := http.Header{}
	h.Set("Access-Control-Allow-Origin", allowOrigin)
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*r.MaxAgeSeconds))
	}
	// A response to any origin ("*") must not allow credentials; browsers
	// refuse that combination.
	if allowOrigin != "*" {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
	return h
}

// matchOrigin reports whether origin matches one of r's AllowedOrigins, and
// the Access-Control-Allow-Origin value to answer: "*" for a rule that
// allows every origin with exactly "*", else the request's origin.
// Origins (scheme, host, port) are case-insensitive.
func (r *Rule) matchOrigin(origin string) (string, bool) {
	lo := strings.ToLower(origin)
	for _, o := range r.AllowedOrigins {
		if o == "*" {
			return "*", true
		}
		if wildcardMatch(strings.ToLower(o), lo) {
			return origin, true
		}
	}
	return "", false
}

func (r *Rule) allowsMethod(method string) bool {
	for _, m := range r.AllowedMethods {
		if m == method {
			return true
		}
	}
	return false
}

// allowsHeaders reports whether every requested header matches one of r's
// AllowedHeaders, case-insensitively.
func (r *Rule) allowsHeaders(headers []string) bool {
	for _, h := range headers {
		lh := strings.ToLower(h)
		found := false
		for _, a := range r.AllowedHeaders {
			if wildcardMatch(strings.ToLower(a), lh) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// splitHeaderList flattens Access-Control-Request-Headers values, which are
// comma-separated lists, into trimmed, non-empty names.
func splitHeaderList(values []string) []string {
	var out []string
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// IsToken reports whether s can be a header name: an HTTP token (RFC
// 9110), which is also what a wildcard AllowedHeader is made of.
func IsToken(s string) bool {
	return httpguts.ValidHeaderFieldName(s)
}

// wildcardMatch reports whether s matches pattern, in which '*' stands for
// any run of bytes, the empty run included. Validated rules hold at most one
// '*', but a Config built in code may hold more, so any number is handled.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, retry := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, retry = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			// Let the last '*' swallow one more byte and try again.
			retry++
			p, i = star+1, retry
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
