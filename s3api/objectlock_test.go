package s3api_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway/objectlock"
	"github.com/strata-storage/strata/gateway/versioning"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/sigv4"
)

// A user who may not bypass governance retention.
const (
	plainAK = "plainuser"
	plainSK = "plainsecret123"
)

func newLockEnv(t testing.TB, worm bool) *env {
	return newStackEnv(t, func(b backends.Backend) backends.Backend {
		return objectlock.New(versioning.New(b), objectlock.Options{WORM: worm})
	}, s3api.Config{
		Credentials:         map[string]string{testAK: testSK, plainAK: plainSK},
		CanBypassGovernance: func(ak string) bool { return ak == testAK },
	})
}

// doAs sends a request signed by another user.
func (e *env) doAs(ak, sk, method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	sigv4.SignRequest(req, ak, sk, "us-east-1", "", time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res, data}
}

func lockDate(d time.Duration) string { return time.Now().Add(d).UTC().Format(objectlock.TimeFormat) }

func TestObjectLockBucketAPI(t *testing.T) {
	e := newLockEnv(t, false)
	e.want(e.do("PUT", "/plain-bkt", nil), 200, "")
	e.want(e.do("GET", "/plain-bkt?object-lock", nil), 404, "ObjectLockConfigurationNotFoundError")
	cfg := `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`
	e.want(e.do("PUT", "/plain-bkt?object-lock", []byte(cfg)), 409, "InvalidBucketState")
	e.want(e.do("PUT", "/plain-bkt/k", []byte("x"), "x-amz-object-lock-legal-hold: ON"), 400, "InvalidRequest")
	e.want(e.do("PUT", "/plain-bkt/k", []byte("x"), "x-amz-object-lock-mode: GOVERNANCE", "x-amz-object-lock-retain-until-date: "+lockDate(time.Hour)), 400, "InvalidRequest")
	e.want(e.do("PUT", "/plain-bkt/k", []byte("x")), 200, "")
	e.want(e.do("GET", "/plain-bkt/k?retention", nil), 400, "InvalidRequest")
	// A missing object is NoSuchKey first, as on AWS.
	e.want(e.do("GET", "/plain-bkt/none?retention", nil), 404, "NoSuchKey")
	e.want(e.do("GET", "/plain-bkt/none?legal-hold", nil), 404, "NoSuchKey")

	e.want(e.do("PUT", "/lock-bkt", nil, "x-amz-bucket-object-lock-enabled: true"), 200, "")
	r := e.do("GET", "/lock-bkt?versioning", nil)
	if !bytes.Contains(r.body, []byte("<Status>Enabled</Status>")) {
		t.Fatalf("versioning of a lock bucket: %s", r.body)
	}
	r = e.do("GET", "/lock-bkt?object-lock", nil)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<ObjectLockEnabled>Enabled</ObjectLockEnabled>")) || bytes.Contains(r.body, []byte("Rule")) {
		t.Fatalf("GetObjectLockConfiguration: %s", r.body)
	}
	e.want(e.do("PUT", "/lock-bkt?versioning", []byte(`<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`)), 409, "InvalidBucketState")
	e.want(e.do("PUT", "/bad-lock", nil, "x-amz-bucket-object-lock-enabled: maybe"), 400, "InvalidArgument")

	for _, tc := range []struct{ body, code string }{
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, "MalformedXML"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>SOMETIMES</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, "MalformedXML"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>`, "MalformedXML"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, "InvalidArgument"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>-2</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, "InvalidArgument"},
		{"", "MissingRequestBodyError"},
	} {
		e.want(e.do("PUT", "/lock-bkt?object-lock", []byte(tc.body)), 400, tc.code)
	}
	e.want(e.do("PUT", "/lock-bkt?object-lock", []byte(`<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>2</Days></DefaultRetention></Rule></ObjectLockConfiguration>`)), 200, "")
	var got struct {
		Enabled string `xml:"ObjectLockEnabled"`
		Mode    string `xml:"Rule>DefaultRetention>Mode"`
		Days    int    `xml:"Rule>DefaultRetention>Days"`
	}
	r = e.do("GET", "/lock-bkt?object-lock", nil)
	xml.Unmarshal(r.body, &got)
	if got.Enabled != "Enabled" || got.Mode != "GOVERNANCE" || got.Days != 2 {
		t.Fatalf("GetObjectLockConfiguration: %+v\n%s", got, r.body)
	}
	// The default retention applies to new objects.
	r = e.do("PUT", "/lock-bkt/d", []byte("x"))
	e.want(r, 200, "")
	r = e.do("HEAD", "/lock-bkt/d", nil)
	until, err := time.Parse(objectlock.TimeFormat, r.Header.Get("x-amz-object-lock-retain-until-date"))
	if r.Header.Get("x-amz-object-lock-mode") != "GOVERNANCE" || err != nil || until.Sub(time.Now()) < 47*time.Hour || until.Sub(time.Now()) > 49*time.Hour {
		t.Fatalf("default retention headers: %v", r.Header)
	}
}

func TestObjectLockObjectAPI(t *testing.T) {
	e := newLockEnv(t, false)
	e.want(e.do("PUT", "/lock-bkt", nil, "x-amz-bucket-object-lock-enabled: true"), 200, "")
	e.want(e.do("PUT", "/lock-bkt/c", []byte("x"), "x-amz-object-lock-mode: COMPLIANCE"), 400, "InvalidArgument")
	e.want(e.do("PUT", "/lock-bkt/c", []byte("x"), "x-amz-object-lock-mode: COMPLIANCE", "x-amz-object-lock-retain-until-date: "+lockDate(-time.Hour)), 400, "InvalidArgument")
	e.want(e.do("PUT", "/lock-bkt/c", []byte("x"), "x-amz-object-lock-legal-hold: maybe"), 400, "InvalidArgument")
	until := lockDate(24 * time.Hour)
	r := e.do("PUT", "/lock-bkt/c", []byte("compliant"), "x-amz-object-lock-mode: COMPLIANCE", "x-amz-object-lock-retain-until-date: "+until)
	e.want(r, 200, "")
	v := r.Header.Get("x-amz-version-id")
	r = e.do("GET", "/lock-bkt/c", nil)
	if r.Header.Get("x-amz-object-lock-mode") != "COMPLIANCE" || r.Header.Get("x-amz-object-lock-retain-until-date") != until {
		t.Fatalf("GET lock headers: %v", r.Header)
	}
	r = e.do("GET", "/lock-bkt/c?retention&versionId="+v, nil)
	e.want(r, 200, "")
	var ret struct {
		XMLName xml.Name `xml:"Retention"`
		Mode    string   `xml:"Mode"`
		Until   string   `xml:"RetainUntilDate"`
	}
	if err := xml.Unmarshal(r.body, &ret); err != nil || ret.Mode != "COMPLIANCE" || ret.Until != until {
		t.Fatalf("GetObjectRetention: %+v %v\n%s", ret, err, r.body)
	}
	e.want(e.do("GET", "/lock-bkt/c?legal-hold", nil), 404, "NoSuchObjectLockConfiguration")
	// A locked version cannot be deleted, not even by the root user with
	// a bypass.
	e.want(e.do("DELETE", "/lock-bkt/c?versionId="+v, nil, "x-amz-bypass-governance-retention: true"), 403, "AccessDenied")
	retention := func(mode, date string) []byte {
		return []byte(`<Retention><Mode>` + mode + `</Mode><RetainUntilDate>` + date + `</RetainUntilDate></Retention>`)
	}
	e.want(e.do("PUT", "/lock-bkt/c?retention&versionId="+v, retention("COMPLIANCE", lockDate(time.Hour)), "x-amz-bypass-governance-retention: true"), 403, "AccessDenied")
	e.want(e.do("PUT", "/lock-bkt/c?retention", []byte(`<Retention/>`), "x-amz-bypass-governance-retention: true"), 403, "AccessDenied")
	e.want(e.do("PUT", "/lock-bkt/c?retention", retention("COMPLIANCE", lockDate(72*time.Hour))), 200, "")
	e.want(e.do("PUT", "/lock-bkt/c?retention", retention("FOREVER", lockDate(72*time.Hour))), 400, "MalformedXML")
	e.want(e.do("PUT", "/lock-bkt/c?retention", retention("COMPLIANCE", lockDate(-time.Hour))), 400, "InvalidArgument")
	// The document is checked before the object is looked for.
	e.want(e.do("PUT", "/lock-bkt/none?retention", retention("FOREVER", lockDate(time.Hour))), 400, "MalformedXML")
	e.want(e.do("PUT", "/lock-bkt/none?retention", retention("COMPLIANCE", lockDate(-time.Hour))), 400, "InvalidArgument")
	e.want(e.do("PUT", "/lock-bkt/none?legal-hold", []byte(`<LegalHold><Status>MAYBE</Status></LegalHold>`)), 400, "MalformedXML")
	e.want(e.do("PUT", "/lock-bkt/none?retention", retention("COMPLIANCE", lockDate(time.Hour))), 404, "NoSuchKey")
	e.want(e.do("PUT", "/no-such-bkt/none?retention", retention("FOREVER", lockDate(time.Hour))), 404, "NoSuchBucket")
	// A delete without version adds a marker.
	r = e.do("DELETE", "/lock-bkt/c", nil)
	e.want(r, 204, "")
	if r.Header.Get("x-amz-delete-marker") != "true" {
		t.Fatalf("DELETE: %v", r.Header)
	}
	// DeleteObjects reports the refusal per key.
	body := `<Delete><Object><Key>c</Key><VersionId>` + v + `</VersionId></Object></Delete>`
	r = e.do("POST", "/lock-bkt?delete", []byte(body), "Content-MD5: "+md5b64([]byte(body)))
	if !bytes.Contains(r.body, []byte("<Code>AccessDenied</Code>")) {
		t.Fatalf("DeleteObjects of a locked version: %s", r.body)
	}

	// Governance: the root user may bypass, another user may not.
	r = e.do("PUT", "/lock-bkt/g", []byte("gov"), "x-amz-object-lock-mode: GOVERNANCE", "x-amz-object-lock-retain-until-date: "+until)
	g := r.Header.Get("x-amz-version-id")
	e.want(e.do("DELETE", "/lock-bkt/g?versionId="+g, nil), 403, "AccessDenied")
	e.want(e.doAs(plainAK, plainSK, "DELETE", "/lock-bkt/g?versionId="+g, nil, "x-amz-bypass-governance-retention: true"), 403, "AccessDenied")
	e.want(e.doAs(plainAK, plainSK, "PUT", "/lock-bkt/g?retention&versionId="+g, []byte(`<Retention/>`), "x-amz-bypass-governance-retention: true"), 403, "AccessDenied")
	e.want(e.do("DELETE", "/lock-bkt/g?versionId="+g, nil, "x-amz-bypass-governance-retention: true"), 204, "")

	// Legal hold.
	r = e.do("PUT", "/lock-bkt/h", []byte("held"), "x-amz-object-lock-legal-hold: ON")
	h := r.Header.Get("x-amz-version-id")
	if r = e.do("HEAD", "/lock-bkt/h", nil); r.Header.Get("x-amz-object-lock-legal-hold") != "ON" {
		t.Fatalf("legal hold header: %v", r.Header)
	}
	r = e.do("GET", "/lock-bkt/h?legal-hold", nil)
	if !bytes.Contains(r.body, []byte("<Status>ON</Status>")) {
		t.Fatalf("GetObjectLegalHold: %s", r.body)
	}
	e.want(e.do("DELETE", "/lock-bkt/h?versionId="+h, nil, "x-amz-bypass-governance-retention: true"), 403, "AccessDenied")
	e.want(e.do("PUT", "/lock-bkt/h?legal-hold", []byte(`<LegalHold><Status>maybe</Status></LegalHold>`)), 400, "MalformedXML")
	e.want(e.do("PUT", "/lock-bkt/h?legal-hold", []byte(`<LegalHold><Status>OFF</Status></LegalHold>`)), 200, "")
	r = e.do("GET", "/lock-bkt/h?legal-hold", nil)
	if !bytes.Contains(r.body, []byte("<Status>OFF</Status>")) {
		t.Fatalf("GetObjectLegalHold after OFF: %s", r.body)
	}
	e.want(e.do("DELETE", "/lock-bkt/h?versionId="+h, nil), 204, "")
	e.want(e.do("GET", "/lock-bkt/nothing?retention", nil), 404, "NoSuchKey")

	// A copy takes the lock its request asks for, not the source's.
	r = e.do("PUT", "/lock-bkt/copy", nil, "x-amz-copy-source: /lock-bkt/c?versionId="+v)
	e.want(r, 200, "")
	e.want(e.do("GET", "/lock-bkt/copy?retention", nil), 404, "NoSuchObjectLockConfiguration")
	r = e.do("PUT", "/lock-bkt/copy2", nil, "x-amz-copy-source: /lock-bkt/c?versionId="+v, "x-amz-object-lock-legal-hold: ON")
	e.want(r, 200, "")
	if r = e.do("HEAD", "/lock-bkt/copy2", nil); r.Header.Get("x-amz-object-lock-legal-hold") != "ON" || r.Header.Get("x-amz-object-lock-mode") != "" {
		t.Fatalf("copy with a legal hold: %v", r.Header)
	}
	// Multipart: the lock asked for at create.
	r = e.do("POST", "/lock-bkt/mp?uploads", nil, "x-amz-object-lock-mode: GOVERNANCE", "x-amz-object-lock-retain-until-date: "+until)
	e.want(r, 200, "")
	var up struct {
		UploadID string `xml:"UploadId"`
	}
	xml.Unmarshal(r.body, &up)
	r = e.do("PUT", "/lock-bkt/mp?partNumber=1&uploadId="+up.UploadID, []byte("part"))
	e.want(r, 200, "")
	done := `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>` + r.Header.Get("ETag") + `</ETag></Part></CompleteMultipartUpload>`
	r = e.do("POST", "/lock-bkt/mp?uploadId="+up.UploadID, []byte(done))
	e.want(r, 200, "")
	if r.Header.Get("x-amz-version-id") == "" {
		t.Fatalf("complete: no version: %v", r.Header)
	}
	if r = e.do("HEAD", "/lock-bkt/mp", nil); r.Header.Get("x-amz-object-lock-mode") != "GOVERNANCE" {
		t.Fatalf("multipart lock: %v", r.Header)
	}
}

func TestWORMAPI(t *testing.T) {
	e := newLockEnv(t, true)
	e.want(e.do("PUT", "/worm-bkt", nil), 200, "")
	e.want(e.do("PUT", "/worm-bkt/k", []byte("first")), 200, "")
	e.want(e.do("PUT", "/worm-bkt/k", []byte("second")), 403, "AccessDenied")
	e.want(e.do("PUT", "/worm-bkt/k", nil, "x-amz-copy-source: /worm-bkt/k", "x-amz-metadata-directive: REPLACE"), 403, "AccessDenied")
	e.want(e.do("PUT", "/worm-bkt/k2", nil, "x-amz-copy-source: /worm-bkt/k"), 200, "")
	e.want(e.do("PUT", "/worm-bkt/k2", nil, "x-amz-copy-source: /worm-bkt/k"), 403, "AccessDenied")
	e.want(e.do("DELETE", "/worm-bkt/k", nil), 403, "AccessDenied")
	e.want(e.do("PUT", "/worm-bkt/k?tagging", []byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`)), 403, "AccessDenied")
	e.want(e.do("DELETE", "/worm-bkt/k?tagging", nil), 403, "AccessDenied")
	e.want(e.do("POST", "/worm-bkt/k?uploads", nil), 403, "AccessDenied")
	if r := e.do("GET", "/worm-bkt/k", nil); string(r.body) != "first" {
		t.Fatalf("after refused writes: %q", r.body)
	}
	e.want(e.do("DELETE", "/worm-bkt/never", nil), 204, "")
}
