package e2e

// AWS Signature Version 2: presigned URLs and POST policies from boto3 with
// its default settings, boto3 with signature_version="s3", `aws s3 presign`
// (aws CLI v1), and a small V2 signer of our own, written from the S3
// developer guide, for what clients would not send: skewed clocks, wrong
// keys, expired and tampered URLs.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ---- a V2 signer ----

func v2Sign(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// v2Presign is a path-style V2 presigned URL that expires at the epoch
// second expires.
func (s *server) v2Presign(method, bucket, key string, expires int64) string {
	path := "/" + bucket + "/" + s3Escape(key, true)
	exp := strconv.FormatInt(expires, 10)
	sig := v2Sign(secretKey, method+"\n\n\n"+exp+"\n"+path)
	return s.URL + path + "?AWSAccessKeyId=" + url.QueryEscape(accessKey) + "&Expires=" + exp + "&Signature=" + url.QueryEscape(sig)
}

type v2Req struct {
	method, bucket, key string
	body                []byte
	header              http.Header // one value per name
	date                time.Time   // default: now
	xAmzDate            bool        // date in x-amz-date instead of Date
	secret              string      // default: the server's
}

// v2Do sends a path-style request signed with V2 in its Authorization
// header.
func (s *server) v2Do(t testing.TB, r v2Req) rawResp {
	t.Helper()
	path := "/" + r.bucket + "/" + s3Escape(r.key, true)
	req, err := http.NewRequest(r.method, s.URL+path, bytes.NewReader(r.body))
	must(t, err, "new request")
	if len(r.body) == 0 {
		req.Body, req.ContentLength = nil, 0
	}
	for k, vs := range r.header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	date := r.date
	if date.IsZero() {
		date = time.Now()
	}
	dateLine := date.UTC().Format(http.TimeFormat)
	if r.xAmzDate {
		req.Header.Set("X-Amz-Date", dateLine)
		dateLine = ""
	} else {
		req.Header.Set("Date", dateLine)
	}
	var amz []string
	for k, vs := range req.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz = append(amz, lk+":"+strings.TrimSpace(vs[0])+"\n")
		}
	}
	sort.Strings(amz)
	sts := r.method + "\n" + req.Header.Get("Content-MD5") + "\n" + req.Header.Get("Content-Type") + "\n" + dateLine + "\n" + strings.Join(amz, "") + path
	secret := r.secret
	if secret == "" {
		secret = secretKey
	}
	req.Header.Set("Authorization", "AWS "+accessKey+":"+v2Sign(secret, sts))
	return httpDo(t, s.HTTPClient(), req)
}

// v2PostForm is a browser POST upload signed with V2.
func (s *server) v2PostForm(t testing.TB, bucket, key string, file []byte) rawResp {
	t.Helper()
	pol, _ := json.Marshal(map[string]any{
		"expiration": time.Now().UTC().Add(10 * time.Minute).Format("2006-01-02T15:04:05.000Z"),
		"conditions": []any{map[string]string{"bucket": bucket}, map[string]string{"key": key}},
	})
	p64 := base64.StdEncoding.EncodeToString(pol)
	return s.postFields(t, s.URL+"/"+bucket, map[string]string{
		"key": key, "AWSAccessKeyId": accessKey, "policy": p64, "signature": v2Sign(secretKey, p64),
	}, "upload.bin", file)
}

// postFields sends a multipart/form-data POST: the fields, then the file.
func (s *server) postFields(t testing.TB, target string, fields map[string]string, filename string, file []byte) rawResp {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range sortedKeys(fields) {
		mw.WriteField(k, fields[k])
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(file)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, target, &body)
	must(t, err, "new POST")
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return httpDo(t, s.HTTPClient(), req)
}

// httpDo sends req with hc and reads the whole answer.
func httpDo(t testing.TB, hc *http.Client, req *http.Request) rawResp {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	out := rawResp{Status: resp.StatusCode, Header: resp.Header}
	out.Body, err = io.ReadAll(resp.Body)
	must(t, err, "reading the response")
	out.Code, out.Message = parseS3Error(out.Body)
	return out
}

// fetch sends method to a URL with an optional body and headers.
func fetch(t testing.TB, hc *http.Client, method, u string, body []byte, header http.Header) rawResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	must(t, err, "new request")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return httpDo(t, hc, req)
}

// ---- boto3 ----

// boto3Presigned is what `boto3_sigv2.py presign` prints.
type boto3Presigned struct {
	Boto3          string `json:"boto3"`
	Botocore       string `json:"botocore"`
	Get            string `json:"get"`
	GetDisposition string `json:"get_disposition"`
	GetShort       string `json:"get_short"`
	Put            string `json:"put"`
	PutTyped       string `json:"put_typed"`
	PutShort       string `json:"put_short"`
	Post           struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	} `json:"post"`
}

// runBoto3V2 runs testdata/boto3_sigv2.py in mode against endpoint and
// returns its standard output.
func runBoto3V2(t *testing.T, py, mode, endpoint, caFile, bucket string, env ...string) []byte {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_sigv2.py"))
	must(t, err, "script path")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, mode)
	cmd.Env = append(os.Environ(),
		"STRATA_ENDPOINT="+endpoint,
		"STRATA_ACCESS_KEY="+accessKey,
		"STRATA_SECRET_KEY="+secretKey,
		"STRATA_BUCKET="+bucket,
		"STRATA_WORKDIR="+t.TempDir(),
		"STRATA_CA_BUNDLE="+caFile,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"NO_PROXY=*", "no_proxy=*",
	)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("boto3_sigv2.py %s (%v):\n%s", mode, time.Since(start).Round(time.Millisecond), stderr.String())
	if err != nil {
		t.Fatalf("boto3_sigv2.py %s failed: %v\n%s", mode, err, stdout.String())
	}
	return stdout.Bytes()
}

func boto3Presign(t *testing.T, py, endpoint, bucket string, env ...string) boto3Presigned {
	t.Helper()
	var p boto3Presigned
	out := runBoto3V2(t, py, "presign", endpoint, "", bucket, env...)
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("boto3_sigv2.py presign printed %q: %v", out, err)
	}
	// boto3's default for a custom endpoint is V2; if a release changes
	// that, this test no longer tests what it is about.
	for _, u := range []string{p.Get, p.GetDisposition, p.GetShort, p.Put, p.PutTyped, p.PutShort} {
		wantV2URL(t, "boto3 "+p.Boto3+" default presigned URL", u)
	}
	if p.Post.Fields["AWSAccessKeyId"] == "" || p.Post.Fields["signature"] == "" {
		t.Fatalf("boto3 %s default presigned POST is not V2: %v", p.Boto3, p.Post.Fields)
	}
	return p
}

func wantV2URL(t *testing.T, what, u string) {
	t.Helper()
	if !strings.Contains(u, "AWSAccessKeyId=") || !strings.Contains(u, "Signature=") || !strings.Contains(u, "Expires=") || strings.Contains(u, "X-Amz-") {
		t.Fatalf("%s is not a V2 URL: %s", what, u)
	}
}

// expiresOf is the Expires parameter of a V2 URL.
func expiresOf(t *testing.T, u string) int64 {
	t.Helper()
	pu, err := url.Parse(u)
	must(t, err, "parse URL")
	n, err := strconv.ParseInt(pu.Query().Get("Expires"), 10, 64)
	must(t, err, "Expires of "+u)
	return n
}

// tamperSignature changes one character of a V2 URL's signature.
func tamperSignature(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	must(t, err, "parse URL")
	q := pu.Query()
	sig := []byte(q.Get("Signature"))
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	q.Set("Signature", string(sig))
	pu.RawQuery = q.Encode()
	return pu.String()
}

// TestSigV2 drives V2 with real clients' presigned URLs and POST forms and
// with hand-signed requests that must be refused without changing anything.
func TestSigV2(t *testing.T) {
	py := needBoto3(t)
	needAWSCLI(t)
	s := startServer(t)
	c := s.S3(t)
	hc := s.HTTPClient()

	t.Run("boto3Presigned", func(t *testing.T) {
		ctx := ctxT(t)
		b := newBucket(t, c)
		data := randBytes(21, 300<<10)
		putBytes(t, c, b, "pre/get.bin", data)
		p := boto3Presign(t, py, s.URL, b)
		t.Logf("boto3 %s, botocore %s: %s", p.Boto3, p.Botocore, p.Get)

		r := fetch(t, hc, "GET", p.Get, nil, nil)
		if r.Status != 200 || !bytes.Equal(r.Body, data) {
			t.Errorf("presigned GET: HTTP %d, %d bytes (want 200, %d)\n%.300s", r.Status, len(r.Body), len(data), r.Body)
		}
		r = fetch(t, hc, "GET", p.GetDisposition, nil, nil)
		if r.Status != 200 || r.Header.Get("Content-Disposition") != `attachment; filename="x.bin"` {
			t.Errorf("presigned GET with response-content-disposition: HTTP %d, Content-Disposition %q\n%.300s", r.Status, r.Header.Get("Content-Disposition"), r.Body)
		}

		body := []byte("uploaded through a boto3 V2 presigned PUT")
		r = fetch(t, hc, "PUT", p.Put, body, nil)
		wantRaw(t, "presigned PUT", r, 200, "")
		wantObject(t, c, b, "pre/put.bin", body)

		// The signed Content-Type is in the query too, where botocore puts
		// it: the upload may send it or not, but not another one.
		r = fetch(t, hc, "PUT", p.PutTyped, []byte("typed"), http.Header{"Content-Type": {"text/plain"}})
		wantRaw(t, "presigned PUT with its Content-Type", r, 200, "")
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("pre/typed.txt")})
		must(t, err, "HeadObject")
		if aws.ToString(h.ContentType) != "text/plain" {
			t.Errorf("presigned PUT stored Content-Type %q, want text/plain", aws.ToString(h.ContentType))
		}
		r = fetch(t, hc, "PUT", p.PutTyped, []byte("typed"), nil)
		wantRaw(t, "presigned PUT without its Content-Type header", r, 200, "")
		r = fetch(t, hc, "PUT", p.PutTyped, []byte("html"), http.Header{"Content-Type": {"text/html"}})
		wantRaw(t, "presigned PUT with another Content-Type", r, 403, "SignatureDoesNotMatch")

		// Tampered URLs.
		for _, tc := range []struct{ what, method, url string }{
			{"another key", "GET", strings.Replace(p.Get, "/pre/get.bin", "/pre/put.bin", 1)},
			{"a later Expires", "GET", strings.Replace(p.Get, "Expires=", "Expires=1", 1)},
			{"another signature", "GET", tamperSignature(t, p.Get)},
			{"a sub-resource added", "GET", p.Get + "&acl"},
			{"a response override added", "GET", p.Get + "&response-content-type=text%2Fhtml"},
			{"another method", "DELETE", p.Get},
			{"PUT URL used to DELETE", "DELETE", p.Put},
		} {
			r := fetch(t, hc, tc.method, tc.url, nil, nil)
			wantRaw(t, "presigned URL with "+tc.what, r, 403, "SignatureDoesNotMatch")
		}
		r = fetch(t, hc, "PUT", p.Put+"&tagging", []byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`), nil)
		wantRaw(t, "presigned PUT turned into PutObjectTagging", r, 403, "SignatureDoesNotMatch")
		r = fetch(t, hc, "PUT", strings.Replace(p.Put, "/pre/put.bin", "/pre/other.bin", 1), []byte("overwritten"), nil)
		wantRaw(t, "presigned PUT to another key", r, 403, "SignatureDoesNotMatch")
		wantNoObject(t, c, b, "pre/other.bin")
		wantObject(t, c, b, "pre/put.bin", body)
		tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("pre/put.bin")})
		must(t, err, "GetObjectTagging")
		if len(tags.TagSet) != 0 {
			t.Errorf("tags set through a tampered URL: %v", tags.TagSet)
		}

		// Expired URLs.
		exp := max(expiresOf(t, p.GetShort), expiresOf(t, p.PutShort))
		time.Sleep(time.Until(time.Unix(exp+1, 100e6)))
		r = fetch(t, hc, "GET", p.GetShort, nil, nil)
		wantRaw(t, "expired presigned GET", r, 403, "AccessDenied")
		if r.Message != "Request has expired" {
			t.Errorf("expired presigned GET: message %q, want %q", r.Message, "Request has expired")
		}
		r = fetch(t, hc, "PUT", p.PutShort, []byte("overwritten"), nil)
		wantRaw(t, "expired presigned PUT", r, 403, "AccessDenied")
		wantObject(t, c, b, "pre/get.bin", data)

		// The presigned POST (V2 policy).
		file := []byte("uploaded with a boto3 V2 presigned POST")
		r = s.postFields(t, p.Post.URL, p.Post.Fields, "upload.txt", file)
		wantRaw(t, "presigned POST", r, 201, "")
		wantObject(t, c, b, "post/upload.txt", file)
		bad := map[string]string{}
		for k, v := range p.Post.Fields {
			bad[k] = v
		}
		bad["signature"] = v2Sign("not-the-secret", bad["policy"])
		r = s.postFields(t, p.Post.URL, bad, "evil.txt", []byte("evil"))
		wantRaw(t, "presigned POST with another signature", r, 403, "SignatureDoesNotMatch")
		bad["signature"] = p.Post.Fields["signature"]
		bad["policy"] = base64.StdEncoding.EncodeToString([]byte(`{"expiration": "2099-01-01T00:00:00Z", "conditions": [["starts-with", "$key", ""]]}`))
		r = s.postFields(t, p.Post.URL, bad, "evil.txt", []byte("evil"))
		wantRaw(t, "presigned POST with another policy", r, 403, "SignatureDoesNotMatch")
		wantNoObject(t, c, b, "post/evil.txt")
	})

	t.Run("awsCLIPresign", func(t *testing.T) {
		b := newBucket(t, c)
		data := randBytes(22, 200<<10)
		putBytes(t, c, b, "cli/get.bin", data)
		out := s.mustAWS(t, "s3", "presign", "s3://"+b+"/cli/get.bin", "--expires-in", "300")
		u := strings.TrimSpace(out)
		wantV2URL(t, "aws s3 presign", u)
		r := fetch(t, hc, "GET", u, nil, nil)
		if r.Status != 200 || !bytes.Equal(r.Body, data) {
			t.Errorf("GET %s: HTTP %d, %d bytes; want 200, %d bytes\n%.300s", u, r.Status, len(r.Body), len(data), r.Body)
		}
		dst := filepath.Join(t.TempDir(), "curl.bin")
		cout, err := exec.Command("curl", "-sS", "--noproxy", "*", "-o", dst, "-w", "%{http_code}", u).CombinedOutput()
		if err != nil || string(cout) != "200" {
			t.Errorf("curl %s: %v, %s", u, err, cout)
		} else if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Errorf("curl fetched %d bytes that differ from the %d put", len(got), len(data))
		}
		r = fetch(t, hc, "GET", tamperSignature(t, u), nil, nil)
		wantRaw(t, "aws s3 presign URL with another signature", r, 403, "SignatureDoesNotMatch")
	})

	t.Run("headerSigned", func(t *testing.T) {
		b := newBucket(t, c)
		putBytes(t, c, b, "k", []byte("original"))
		body := []byte("written with a V2 Authorization header")
		r := s.v2Do(t, v2Req{method: "PUT", bucket: b, key: "v2/obj.txt", body: body, header: http.Header{
			"Content-Type": {"text/plain"}, "Content-MD5": {contentMD5(body)}, "X-Amz-Meta-Signed": {"v2"},
		}})
		wantRaw(t, "V2 PUT", r, 200, "")
		h, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("v2/obj.txt")})
		must(t, err, "HeadObject")
		if aws.ToString(h.ContentType) != "text/plain" || h.Metadata["signed"] != "v2" {
			t.Errorf("V2 PUT stored Content-Type %q, metadata %v", aws.ToString(h.ContentType), h.Metadata)
		}
		r = s.v2Do(t, v2Req{method: "GET", bucket: b, key: "v2/obj.txt", xAmzDate: true})
		if r.Status != 200 || !bytes.Equal(r.Body, body) {
			t.Errorf("V2 GET with x-amz-date: %s", r)
		}
		r = s.v2Do(t, v2Req{method: "PUT", bucket: b, key: "k", body: []byte("bad md5"), header: http.Header{"Content-MD5": {contentMD5([]byte("other"))}}})
		wantRaw(t, "V2 PUT with a wrong Content-MD5", r, 400, "BadDigest")

		for _, tc := range []struct {
			what string
			req  v2Req
			code string
		}{
			{"a clock 20 minutes late", v2Req{date: time.Now().Add(-20 * time.Minute)}, "RequestTimeTooSkewed"},
			{"a clock 20 minutes early", v2Req{date: time.Now().Add(20 * time.Minute), xAmzDate: true}, "RequestTimeTooSkewed"},
			{"a wrong secret", v2Req{secret: "not-the-secret"}, "SignatureDoesNotMatch"},
		} {
			req := tc.req
			req.method, req.bucket, req.key, req.body = "PUT", b, "k", []byte("overwritten")
			r := s.v2Do(t, req)
			wantRaw(t, "V2 PUT with "+tc.what, r, 403, tc.code)
		}
		r = s.v2Do(t, v2Req{method: "DELETE", bucket: b, key: "k", secret: "not-the-secret"})
		wantRaw(t, "V2 DELETE with a wrong secret", r, 403, "SignatureDoesNotMatch")
		wantObject(t, c, b, "k", []byte("original"))

		// Our own presigned URLs: valid, then expired.
		r = fetch(t, hc, "GET", s.v2Presign("GET", b, "k", time.Now().Add(time.Minute).Unix()), nil, nil)
		if r.Status != 200 || string(r.Body) != "original" {
			t.Errorf("V2 presigned GET: %s", r)
		}
		r = fetch(t, hc, "PUT", s.v2Presign("PUT", b, "k", time.Now().Add(-time.Second).Unix()), []byte("overwritten"), nil)
		wantRaw(t, "V2 presigned PUT that expired a second ago", r, 403, "AccessDenied")
		wantObject(t, c, b, "k", []byte("original"))

		r = s.v2PostForm(t, b, "form.bin", []byte("form"))
		wantRaw(t, "V2 POST form", r, 204, "")
		wantObject(t, c, b, "form.bin", []byte("form"))
	})
}

// TestSigV2Boto3 runs boto3 with Config(signature_version="s3") through
// put, get, list, copy, multipart and delete: path style over HTTP and
// HTTPS, and virtual-host style (--domain), where the bucket is signed from
// the Host.
func TestSigV2Boto3(t *testing.T) {
	py := needBoto3(t)
	for _, tc := range []struct {
		name   string
		opts   []serverOption
		domain string
	}{
		{"path", nil, ""},
		{"pathHTTPS", []serverOption{withTLS()}, ""},
		{"virtualHost", []serverOption{withArgs("--domain", "s3.test")}, "s3.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts...)
			endpoint := s.URL
			var env []string
			if tc.domain != "" {
				_, port, _ := net.SplitHostPort(s.Addr)
				endpoint = "http://" + tc.domain + ":" + port
				env = append(env, "STRATA_VHOST_DOMAIN="+tc.domain)
			}
			runBoto3V2(t, py, "flow", endpoint, s.CAFile, "boto3-v2-"+strings.ToLower(tc.name), env...)
			if tc.domain == "" {
				return
			}

			// boto3's default presigned URLs, virtual-hosted, fetched
			// with net/http dialing the server whatever the host.
			c := s.S3(t)
			b := newBucket(t, c)
			data := randBytes(23, 100<<10)
			putBytes(t, c, b, "pre/get.bin", data)
			p := boto3Presign(t, py, endpoint, b, env...)
			if !strings.HasPrefix(p.Get, "http://"+b+"."+tc.domain+":") {
				t.Fatalf("boto3 made no virtual-hosted URL: %s", p.Get)
			}
			hc := s.HTTPClient()
			tr := hc.Transport.(*http.Transport)
			tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, s.Addr)
			}
			r := fetch(t, hc, "GET", p.Get, nil, nil)
			if r.Status != 200 || !bytes.Equal(r.Body, data) {
				t.Errorf("virtual-hosted presigned GET %s: HTTP %d, %d bytes\n%.300s", p.Get, r.Status, len(r.Body), r.Body)
			}
			r = fetch(t, hc, "PUT", p.Put, []byte("vhost"), nil)
			wantRaw(t, "virtual-hosted presigned PUT", r, 200, "")
			wantObject(t, c, b, "pre/put.bin", []byte("vhost"))
			r = fetch(t, hc, "GET", strings.Replace(p.Get, "http://"+b+".", "http://other-bucket.", 1), nil, nil)
			wantRaw(t, "virtual-hosted presigned GET sent to another bucket", r, 403, "SignatureDoesNotMatch")
		})
	}
}

// TestSigV2Disabled checks that --sigv2=false and STRATA_SIGV2=off refuse
// every kind of V2 request, while SigV4 keeps working.
func TestSigV2Disabled(t *testing.T) {
	needAWSCLI(t)
	for _, tc := range []struct {
		name string
		opts []serverOption
		env  string
	}{
		{"flag", []serverOption{withArgs("--sigv2=false")}, ""},
		{"env", nil, "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("STRATA_SIGV2", tc.env)
			}
			s := startServer(t, tc.opts...)
			c := s.S3(t)
			hc := s.HTTPClient()
			b := newBucket(t, c)
			putBytes(t, c, b, "k", []byte("original"))
			wantObject(t, c, b, "k", []byte("original"))

			refused := func(what string, r rawResp) {
				t.Helper()
				wantRaw(t, what, r, 400, "InvalidRequest")
				if !strings.Contains(r.Message, "AWS4-HMAC-SHA256") {
					t.Errorf("%s: message %q does not point to AWS4-HMAC-SHA256", what, r.Message)
				}
			}
			refused("V2 presigned GET", fetch(t, hc, "GET", s.v2Presign("GET", b, "k", time.Now().Add(time.Minute).Unix()), nil, nil))
			refused("V2 presigned PUT", fetch(t, hc, "PUT", s.v2Presign("PUT", b, "k", time.Now().Add(time.Minute).Unix()), []byte("overwritten"), nil))
			refused("V2 header GET", s.v2Do(t, v2Req{method: "GET", bucket: b, key: "k"}))
			refused("V2 header PUT", s.v2Do(t, v2Req{method: "PUT", bucket: b, key: "k", body: []byte("overwritten")}))
			refused("V2 POST form", s.v2PostForm(t, b, "form.bin", []byte("form")))
			out := s.mustAWS(t, "s3", "presign", "s3://"+b+"/k", "--expires-in", "300")
			refused("aws s3 presign URL", fetch(t, hc, "GET", strings.TrimSpace(out), nil, nil))

			wantObject(t, c, b, "k", []byte("original"))
			wantNoObject(t, c, b, "form.bin")
			putBytes(t, c, b, "k", []byte("SigV4 still works"))
			wantObject(t, c, b, "k", []byte("SigV4 still works"))
		})
	}

	t.Run("badValue", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, strataBin, "server", "--address", freeAddr(t), "--sigv2=maybe", t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--sigv2") {
			t.Errorf("strata server --sigv2=maybe: %v\n%s", err, out)
		}
	})
}
