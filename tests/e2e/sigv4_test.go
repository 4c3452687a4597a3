package e2e

// A small, independent AWS Signature V4 signer, written from the public
// specification, for requests an SDK would never send: raw `..` paths, bad
// chunk signatures, skewed clocks, malformed XML, POST policies.

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	amzDateFormat     = "20060102T150405Z"
	emptySHA256       = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	unsignedPayload   = "UNSIGNED-PAYLOAD"
	streamingPayload  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	unsignedTrailer   = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	sigv4Algorithm    = "AWS4-HMAC-SHA256"
	chunkAlgorithm    = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgorithm  = "AWS4-HMAC-SHA256-TRAILER"
	s3Service         = "s3"
	defaultChunkBytes = 64 << 10
)

type sigv4 struct {
	access, secret, region string
}

func defaultSigner() sigv4 { return sigv4{accessKey, secretKey, region} }

func (v sigv4) scope(t time.Time) string {
	return t.UTC().Format("20060102") + "/" + v.region + "/" + s3Service + "/aws4_request"
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (v sigv4) signingKey(t time.Time) []byte {
	k := hmacSHA256([]byte("AWS4"+v.secret), t.UTC().Format("20060102"))
	k = hmacSHA256(k, v.region)
	k = hmacSHA256(k, s3Service)
	return hmacSHA256(k, "aws4_request")
}

func (v sigv4) sign(t time.Time, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(v.signingKey(t), stringToSign))
}

// s3Escape percent-encodes everything but the unreserved characters (and
// '/' when keepSlash), as SigV4 wants.
func s3Escape(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', keepSlash && c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		uk, err := url.PathUnescape(k)
		if err != nil {
			uk = k
		}
		uv, err := url.PathUnescape(v)
		if err != nil {
			uv = v
		}
		pairs = append(pairs, kv{s3Escape(uk, false), s3Escape(uv, false)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// canonicalHeaders returns the canonical header block and the signed header
// list for host plus every header in h.
func canonicalHeaders(host string, h http.Header) (block, signed string) {
	vals := map[string]string{"host": host}
	for name, vs := range h {
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		vals[strings.ToLower(name)] = strings.Join(trimmed, ",")
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + ":" + vals[n] + "\n")
	}
	return b.String(), strings.Join(names, ";")
}

// signRequest signs req in the Authorization header. It sets X-Amz-Date and
// X-Amz-Content-Sha256 and signs host plus every header already in req.Header.
// It returns the signature (the seed signature of a chunked upload).
func (v sigv4) signRequest(req *http.Request, payloadHash string, t time.Time) string {
	t = t.UTC()
	req.Header.Set("X-Amz-Date", t.Format(amzDateFormat))
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	hdrs, signed := canonicalHeaders(host, req.Header)
	creq := strings.Join([]string{
		req.Method,
		s3Escape(req.URL.Path, true),
		canonicalQuery(req.URL.RawQuery),
		hdrs,
		signed,
		payloadHash,
	}, "\n")
	sts := strings.Join([]string{sigv4Algorithm, t.Format(amzDateFormat), v.scope(t), sha256Hex([]byte(creq))}, "\n")
	sig := v.sign(t, sts)
	req.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		sigv4Algorithm, v.access, v.scope(t), signed, sig))
	return sig
}

// presign returns rawURL with a SigV4 query signature (host only signed).
func (v sigv4) presign(method, rawURL string, t time.Time, expires int) string {
	t = t.UTC()
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	q := u.RawQuery
	add := func(k, val string) {
		if q != "" {
			q += "&"
		}
		q += k + "=" + s3Escape(val, false)
	}
	add("X-Amz-Algorithm", sigv4Algorithm)
	add("X-Amz-Credential", v.access+"/"+v.scope(t))
	add("X-Amz-Date", t.Format(amzDateFormat))
	add("X-Amz-Expires", strconv.Itoa(expires))
	add("X-Amz-SignedHeaders", "host")
	creq := strings.Join([]string{
		method,
		s3Escape(u.Path, true),
		canonicalQuery(q),
		"host:" + u.Host + "\n",
		"host",
		unsignedPayload,
	}, "\n")
	sts := strings.Join([]string{sigv4Algorithm, t.Format(amzDateFormat), v.scope(t), sha256Hex([]byte(creq))}, "\n")
	add("X-Amz-Signature", v.sign(t, sts))
	u.RawQuery = q
	return u.String()
}

// chunkSpec describes an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// or -TRAILER when trailerName is set).
type chunkSpec struct {
	data          []byte
	chunkSize     int    // default 64 KiB
	badChunk      int    // index of the chunk to give a wrong signature; -1 for none
	trailerName   string // e.g. x-amz-checksum-crc32
	trailerValue  string
	badTrailerSig bool
}

// encode builds the chunked body, chaining signatures from seed.
func (v sigv4) encodeChunks(seed string, t time.Time, c chunkSpec) []byte {
	t = t.UTC()
	size := c.chunkSize
	if size <= 0 {
		size = defaultChunkBytes
	}
	var b bytes.Buffer
	prev := seed
	data := c.data
	for i := 0; ; i++ {
		n := min(size, len(data))
		chunk := data[:n]
		data = data[n:]
		sts := strings.Join([]string{chunkAlgorithm, t.Format(amzDateFormat), v.scope(t), prev, emptySHA256, sha256Hex(chunk)}, "\n")
		sig := v.sign(t, sts)
		if i == c.badChunk {
			sig = strings.Repeat("0", len(sig))
		}
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, sig)
		b.Write(chunk)
		prev = sig
		if n == 0 {
			break
		}
		b.WriteString("\r\n")
	}
	if c.trailerName == "" {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	trailer := c.trailerName + ":" + c.trailerValue + "\n"
	sts := strings.Join([]string{trailerAlgorithm, t.Format(amzDateFormat), v.scope(t), prev, sha256Hex([]byte(trailer))}, "\n")
	tsig := v.sign(t, sts)
	if c.badTrailerSig {
		tsig = strings.Repeat("0", len(tsig))
	}
	fmt.Fprintf(&b, "%s:%s\r\n", c.trailerName, c.trailerValue)
	fmt.Fprintf(&b, "x-amz-trailer-signature:%s\r\n\r\n", tsig)
	return b.Bytes()
}

// postPolicySignature signs a base64 POST policy document.
func (v sigv4) postPolicySignature(policyB64 string, t time.Time) string {
	return v.sign(t, policyB64)
}

// ---- raw requests ----

type rawReq struct {
	method string
	target string // path and query as sent, e.g. "/bkt/../x" or "/bkt?delete"
	header http.Header
	body   []byte

	payloadHash string     // default: hex SHA-256 of body
	date        time.Time  // default: now
	signer      *sigv4     // default: the server's credentials
	anonymous   bool       // send no signature
	chunked     *chunkSpec // aws-chunked body instead of body
}

type rawResp struct {
	Status  int
	Header  http.Header
	Body    []byte
	Code    string // S3 error code parsed from an XML error body
	Message string
}

func (r rawResp) String() string {
	body := string(r.Body)
	if len(body) > 2000 {
		body = body[:2000] + "..."
	}
	return fmt.Sprintf("HTTP %d %s\n%s", r.Status, r.Code, body)
}

// do sends a hand-signed request to the server and reads the whole answer.
func (s *server) do(t testing.TB, r rawReq) rawResp {
	t.Helper()
	u, err := url.Parse(s.URL + r.target)
	if err != nil {
		t.Fatalf("bad target %q: %v", r.target, err)
	}
	req, err := http.NewRequest(r.method, s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u // keep the path exactly as given: no cleaning of ".."
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	date := r.date
	if date.IsZero() {
		date = time.Now()
	}
	sg := defaultSigner()
	if r.signer != nil {
		sg = *r.signer
	}
	var body []byte
	switch {
	case r.anonymous:
		body = r.body
	case r.chunked != nil:
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(r.chunked.data)))
		hash := streamingPayload
		if r.chunked.trailerName != "" {
			req.Header.Set("X-Amz-Trailer", r.chunked.trailerName)
			hash = streamingTrailer
		}
		seed := sg.signRequest(req, hash, date)
		body = sg.encodeChunks(seed, date, *r.chunked)
	default:
		body = r.body
		hash := r.payloadHash
		if hash == "" {
			hash = sha256Hex(body)
		}
		sg.signRequest(req, hash, date)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	if len(body) == 0 && r.method != http.MethodPut && r.method != http.MethodPost {
		req.Body = nil
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.target, err)
	}
	defer resp.Body.Close()
	out := rawResp{Status: resp.StatusCode, Header: resp.Header}
	out.Body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading response: %v", r.method, r.target, err)
	}
	out.Code, out.Message = parseS3Error(out.Body)
	return out
}

// parseS3Error extracts Code and Message from an S3 XML error body.
func parseS3Error(body []byte) (code, msg string) {
	var e struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}
	if xml.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Code, e.Message
}

func contentMD5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// wantRaw fails unless the response has the given status and S3 error code.
func wantRaw(t testing.TB, what string, r rawResp, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.Code != code) {
		t.Errorf("%s: got %s\nwant HTTP %d %s", what, r, status, code)
	}
}
