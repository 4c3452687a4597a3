package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SigningKey derives the SigV4 signing key of a secret for one day
// (YYYYMMDD), region and service.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(data string) string {
	h := sha256.Sum256([]byte(data))
	return hex.EncodeToString(h[:])
}

// signing is what signs a request and then, chained, its chunks and trailer.
type signing struct {
	key   []byte
	date  string // the request time, ISO 8601 basic format
	scope string // date/region/s3/aws4_request
	prev  string // the last signature: the request's (the seed), then each chunk's
}

func newSigning(secret string, t time.Time, region string) *signing {
	day := t.Format(yyyymmdd)
	return &signing{
		key:   SigningKey(secret, day, region, service),
		date:  t.Format(iso8601Basic),
		scope: day + "/" + region + "/" + service + "/" + terminator,
	}
}

func (s *signing) sign(stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(s.key, stringToSign))
}

// chunk is the signature of a chunk whose data has the SHA-256 sum.
func (s *signing) chunk(sum []byte) string {
	return s.sign("AWS4-HMAC-SHA256-PAYLOAD\n" + s.date + "\n" + s.scope + "\n" + s.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum))
}

// trailer is the signature of trailing headers in canonical form.
func (s *signing) trailer(canonical string) string {
	return s.sign("AWS4-HMAC-SHA256-TRAILER\n" + s.date + "\n" + s.scope + "\n" + s.prev + "\n" + sha256Hex(canonical))
}

func stringToSign(date, scope, canonicalRequest string) string {
	return Algorithm + "\n" + date + "\n" + scope + "\n" + sha256Hex(canonicalRequest)
}

// canonicalRequest is the SigV4 canonical request of r. signed holds the
// lower-case names of the signed headers, in the order the client listed them.
func canonicalRequest(r *http.Request, query string, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL.EscapedPath()))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI re-encodes a path the way S3 clients sign it: each byte of
// the decoded path is kept if unreserved and %XX-encoded otherwise, and
// slashes that were literal stay literal while %2F stays encoded. S3 encodes
// once and does not normalise the path.
func canonicalURI(escaped string) string {
	if escaped == "" {
		return "/"
	}
	b := make([]byte, 0, len(escaped)+16)
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c == '%' && i+2 < len(escaped) && isHex(escaped[i+1]) && isHex(escaped[i+2]):
			b = appendEscaped(b, unhex(escaped[i+1])<<4|unhex(escaped[i+2]))
			i += 2
		case c == '/':
			b = append(b, '/')
		default:
			b = appendEscaped(b, c)
		}
	}
	return string(b)
}

// canonicalQuery sorts the parameters of a raw query by encoded name, then
// encoded value, each URI-encoded, '=' always present. The X-Amz-Signature
// parameter is left out when presigned.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type param struct{ k, v string }
	var params []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = queryUnescape(k), queryUnescape(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, param{uriEncode(k), uriEncode(v)})
	}
	slices.SortFunc(params, func(a, b param) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s // not valid escaping: taken literally, the signature decides
}

// uriEncode encodes every byte but the unreserved ones (A-Za-z0-9-._~).
func uriEncode(s string) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			b := make([]byte, 0, len(s)+16)
			b = append(b, s[:i]...)
			for ; i < len(s); i++ {
				b = appendEscaped(b, s[i])
			}
			return string(b)
		}
	}
	return s
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func appendEscaped(b []byte, c byte) []byte {
	if unreserved(c) {
		return append(b, c)
	}
	const upperhex = "0123456789ABCDEF"
	return append(b, '%', upperhex[c>>4], upperhex[c&15])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// headerValue is the canonical value of a signed header: its values
// trimmed, inner runs of spaces collapsed, joined by commas. Go's server
// moves Host, and for chunked requests Content-Length and
// Transfer-Encoding, out of the header map; they are taken from r.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	case "content-length":
		if len(r.Header.Values("Content-Length")) == 0 {
			if r.ContentLength < 0 {
				return ""
			}
			return strconv.FormatInt(r.ContentLength, 10)
		}
	case "transfer-encoding":
		if len(r.Header.Values("Transfer-Encoding")) == 0 {
			return strings.Join(r.TransferEncoding, ",")
		}
	}
	vs := r.Header.Values(name)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return trimAll(vs[0])
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(trimAll(v))
	}
	return b.String()
}

// trimAll trims a header value and collapses runs of spaces into one.
func trimAll(v string) string {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}

// checkSignedHeaders refuses a request whose host, or one of whose x-amz-*
// headers, is not signed, as S3 does, listing them in HeadersNotSigned.
// x-amz-content-sha256 may go unsigned: its value is part of the
// canonical request anyway.
func checkSignedHeaders(r *http.Request, signed []string) error {
	var unsigned []string
	if !slices.Contains(signed, "host") {
		unsigned = append(unsigned, "host")
	}
	for k := range r.Header {
		k = strings.ToLower(k)
		if strings.HasPrefix(k, "x-amz-") && k != "x-amz-content-sha256" && !slices.Contains(signed, k) {
			unsigned = append(unsigned, k)
		}
	}
	if len(unsigned) == 0 {
		return nil
	}
	slices.Sort(unsigned)
	return errHeadersNotSigned.With("HeadersNotSigned", strings.Join(unsigned, ", "))
}
