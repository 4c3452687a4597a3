package s3api_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/gateway/versioning"
	"github.com/strata-storage/strata/s3api"
)

// newStackEnv serves a dir backend through the layers that wrap.
func newStackEnv(t testing.TB, wrap func(backends.Backend) backends.Backend, cfg s3api.Config) *env {
	t.Helper()
	root := t.TempDir()
	b, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Backend = wrap(b)
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]string{testAK: testSK}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(s3api.New(cfg))
	t.Cleanup(srv.Close)
	return &env{t: t, root: root, srv: srv}
}

func newVersionedEnv(t testing.TB) *env {
	return newStackEnv(t, func(b backends.Backend) backends.Backend { return versioning.New(b) }, s3api.Config{})
}

type listVersions struct {
	XMLName             xml.Name `xml:"ListVersionsResult"`
	KeyMarker           string   `xml:"KeyMarker"`
	VersionIDMarker     string   `xml:"VersionIdMarker"`
	NextKeyMarker       string   `xml:"NextKeyMarker"`
	NextVersionIDMarker string   `xml:"NextVersionIdMarker"`
	IsTruncated         bool     `xml:"IsTruncated"`
	EncodingType        string   `xml:"EncodingType"`
	Versions            []struct {
		Key          string `xml:"Key"`
		VersionID    string `xml:"VersionId"`
		IsLatest     bool   `xml:"IsLatest"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
		Owner        struct {
			ID string `xml:"ID"`
		} `xml:"Owner"`
	} `xml:"Version"`
	Markers []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
		IsLatest  bool   `xml:"IsLatest"`
	} `xml:"DeleteMarker"`
	Prefixes []string `xml:"CommonPrefixes>Prefix"`
}

func (e *env) versions(path string) listVersions {
	e.t.Helper()
	r := e.do("GET", path, nil)
	e.want(r, 200, "")
	var l listVersions
	if err := xml.Unmarshal(r.body, &l); err != nil {
		e.t.Fatalf("%s: %v\n%s", path, err, r.body)
	}
	return l
}

// elements returns the names of the Version and DeleteMarker elements of a
// listing, in document order.
func elements(body []byte) []string {
	return regexp.MustCompile(`<(Version|DeleteMarker)>`).FindAllString(string(body), -1)
}

func TestBucketVersioningAPI(t *testing.T) {
	e := newVersionedEnv(t)
	e.want(e.do("PUT", "/vbk", nil), 200, "")
	r := e.do("GET", "/vbk?versioning", nil)
	e.want(r, 200, "")
	if bytes.Contains(r.body, []byte("Status")) || !bytes.Contains(r.body, []byte("<VersioningConfiguration")) {
		t.Fatalf("never versioned: %s", r.body)
	}
	for _, body := range []string{"<nope", "<VersioningConfiguration><Status>On</Status></VersioningConfiguration>", "<Other/>"} {
		e.want(e.do("PUT", "/vbk?versioning", []byte(body)), 400, "MalformedXML")
	}
	e.want(e.do("PUT", "/vbk?versioning", []byte(`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`)), 501, "NotImplemented")
	e.want(e.do("PUT", "/missing-bucket?versioning", []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)), 404, "NoSuchBucket")
	e.want(e.do("PUT", "/vbk?versioning", []byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`)), 200, "")
	r = e.do("GET", "/vbk?versioning", nil)
	if !bytes.Contains(r.body, []byte("<Status>Enabled</Status>")) {
		t.Fatalf("enabled: %s", r.body)
	}
	e.want(e.do("PUT", "/vbk?versioning", []byte(`<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`)), 200, "")
	r = e.do("GET", "/vbk?versioning", nil)
	if !bytes.Contains(r.body, []byte("<Status>Suspended</Status>")) {
		t.Fatalf("suspended: %s", r.body)
	}
	r = e.do("PUT", "/vbk/k", []byte("x"))
	e.want(r, 200, "")
	// The write made the "null" version, which S3 does not name in its
	// answer; a read of it does.
	if v, ok := r.Header["X-Amz-Version-Id"]; ok {
		t.Fatalf("suspended PUT: version %q", v)
	}
	if r = e.do("HEAD", "/vbk/k", nil); r.Header.Get("x-amz-version-id") != "null" {
		t.Fatalf("HEAD after a suspended PUT: version %q", r.Header.Get("x-amz-version-id"))
	}
}

func TestObjectVersionsAPI(t *testing.T) {
	e := newVersionedEnv(t)
	e.want(e.do("PUT", "/vbk", nil), 200, "")
	r := e.do("PUT", "/vbk/k", []byte("before"))
	if r.Header.Get("x-amz-version-id") != "" {
		t.Fatalf("unversioned PUT has a version: %v", r.Header)
	}
	e.want(e.do("PUT", "/vbk?versioning", []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)), 200, "")
	v1 := e.do("PUT", "/vbk/k", []byte("one")).Header.Get("x-amz-version-id")
	v2 := e.do("PUT", "/vbk/k", []byte("two")).Header.Get("x-amz-version-id")
	if !versioning.ValidID(v1) || !versioning.ValidID(v2) || v1 == v2 || v1 == "null" {
		t.Fatalf("version IDs %q %q", v1, v2)
	}
	r = e.do("GET", "/vbk/k?versionId="+v1, nil)
	e.want(r, 200, "")
	if string(r.body) != "one" || r.Header.Get("x-amz-version-id") != v1 {
		t.Fatalf("GET v1: %q %v", r.body, r.Header)
	}
	r = e.do("GET", "/vbk/k?versionId=null", nil)
	if string(r.body) != "before" || r.Header.Get("x-amz-version-id") != "null" {
		t.Fatalf("GET null: %q %v", r.body, r.Header)
	}
	r = e.do("HEAD", "/vbk/k", nil)
	if r.Header.Get("x-amz-version-id") != v2 {
		t.Fatalf("HEAD: %v", r.Header)
	}
	e.want(e.do("GET", "/vbk/k?versionId=bogus", nil), 400, "InvalidArgument")
	e.want(e.do("GET", "/vbk/k?versionId=", nil), 400, "InvalidArgument")
	e.want(e.do("GET", "/vbk/k?versionId="+strings.Repeat("0", 32), nil), 404, "NoSuchVersion")

	// Delete: a marker.
	r = e.do("DELETE", "/vbk/k", nil)
	e.want(r, 204, "")
	dm := r.Header.Get("x-amz-version-id")
	if r.Header.Get("x-amz-delete-marker") != "true" || !versioning.ValidID(dm) {
		t.Fatalf("DELETE: %v", r.Header)
	}
	for _, m := range []string{"GET", "HEAD"} {
		r = e.do(m, "/vbk/k", nil)
		e.want(r, 404, "")
		if r.Header.Get("x-amz-delete-marker") != "true" || r.Header.Get("x-amz-version-id") != dm {
			t.Fatalf("%s of a deleted key: %v", m, r.Header)
		}
		r = e.do(m, "/vbk/k?versionId="+dm, nil)
		e.want(r, 405, "")
		if r.Header.Get("x-amz-delete-marker") != "true" || r.Header.Get("x-amz-version-id") != dm {
			t.Fatalf("%s of a marker by ID: %v", m, r.Header)
		}
	}
	e.want(e.do("GET", "/vbk/k", nil), 404, "NoSuchKey")
	e.want(e.do("GET", "/vbk/k?versionId="+dm, nil), 405, "MethodNotAllowed")

	// The listing, in order, with the marker between versions.
	e.do("PUT", "/vbk/a%20b/c", []byte("deep"))
	r = e.do("GET", "/vbk?versions", nil)
	if got := elements(r.body); strings.Join(got, "") != "<Version><DeleteMarker><Version><Version><Version>" {
		t.Fatalf("element order %v:\n%s", got, r.body)
	}
	l := e.versions("/vbk?versions")
	if len(l.Versions) != 4 || l.Versions[0].Key != "a b/c" || !l.Versions[0].IsLatest ||
		l.Versions[1].VersionID != v2 || l.Versions[1].IsLatest || l.Versions[2].VersionID != v1 || l.Versions[3].VersionID != "null" ||
		l.Versions[1].ETag != `"b8a9f715dbb64fd5c56e7783c6820a61"` || l.Versions[1].Size != 3 || l.Versions[1].StorageClass != "STANDARD" || l.Versions[1].Owner.ID == "" {
		t.Fatalf("versions: %+v", l.Versions)
	}
	if len(l.Markers) != 1 || l.Markers[0].VersionID != dm || !l.Markers[0].IsLatest || l.Markers[0].Key != "k" {
		t.Fatalf("markers: %+v", l.Markers)
	}
	// Pages of one, with markers.
	var seen []string
	path := "/vbk?versions&max-keys=1"
	for i := 0; ; i++ {
		p := e.versions(path)
		for _, v := range p.Versions {
			seen = append(seen, v.VersionID)
		}
		for _, m := range p.Markers {
			seen = append(seen, m.VersionID)
		}
		if !p.IsTruncated {
			break
		}
		if p.NextKeyMarker == "" || p.NextVersionIDMarker == "" || i > 10 {
			t.Fatalf("page %d: %+v", i, p)
		}
		path = "/vbk?versions&max-keys=1&key-marker=" + urlQuery(p.NextKeyMarker) + "&version-id-marker=" + p.NextVersionIDMarker
	}
	if len(seen) != 5 || seen[1] != dm || seen[2] != v2 || seen[4] != "null" {
		t.Fatalf("paged: %v", seen)
	}
	l = e.versions("/vbk?versions&delimiter=/")
	if len(l.Prefixes) != 1 || l.Prefixes[0] != "a b/" || len(l.Versions) != 3 {
		t.Fatalf("delimiter: %+v", l)
	}
	l = e.versions("/vbk?versions&encoding-type=url&prefix=a")
	if l.EncodingType != "url" || len(l.Versions) != 1 || l.Versions[0].Key != "a%20b/c" {
		t.Fatalf("encoding-type=url: %+v", l)
	}
	e.want(e.do("GET", "/vbk?versions&version-id-marker="+v1, nil), 400, "InvalidArgument")
	e.want(e.do("GET", "/vbk?versions&key-marker=k&version-id-marker=zz", nil), 400, "InvalidArgument")

	// Restore v1 by copying it onto the key.
	r = e.do("PUT", "/vbk/k", nil, "x-amz-copy-source: /vbk/k?versionId="+v1)
	e.want(r, 200, "")
	if r.Header.Get("x-amz-copy-source-version-id") != v1 || r.Header.Get("x-amz-version-id") == "" || r.Header.Get("x-amz-version-id") == v1 {
		t.Fatalf("restore copy: %v", r.Header)
	}
	if r = e.do("GET", "/vbk/k", nil); string(r.body) != "one" {
		t.Fatalf("after restore: %q", r.body)
	}
	e.want(e.do("PUT", "/vbk/k2", nil, "x-amz-copy-source: /vbk/k?versionId="+dm), 400, "InvalidRequest")
	// A copy onto itself with new metadata is a new version.
	r = e.do("PUT", "/vbk/k", nil, "x-amz-copy-source: /vbk/k", "x-amz-metadata-directive: REPLACE", "x-amz-meta-a: 1")
	e.want(r, 200, "")
	if l := e.versions("/vbk?versions&prefix=k"); len(l.Versions) != 5 {
		t.Fatalf("after self-copy: %+v", l.Versions)
	}

	// Tagging by version.
	e.want(e.do("PUT", "/vbk/k?tagging&versionId="+v1, []byte(`<Tagging><TagSet><Tag><Key>t</Key><Value>1</Value></Tag></TagSet></Tagging>`)), 200, "")
	r = e.do("GET", "/vbk/k?tagging&versionId="+v1, nil)
	if !bytes.Contains(r.body, []byte("<Key>t</Key>")) || r.Header.Get("x-amz-version-id") != v1 {
		t.Fatalf("tagging of v1: %s %v", r.body, r.Header)
	}
	if r = e.do("GET", "/vbk/k?tagging", nil); bytes.Contains(r.body, []byte("<Key>t</Key>")) {
		t.Fatalf("tagging of the current version: %s", r.body)
	}
	e.want(e.do("PUT", "/vbk/k?tagging&versionId="+dm, []byte(`<Tagging><TagSet></TagSet></Tagging>`)), 405, "MethodNotAllowed")

	// DeleteObjects with and without versions.
	body := `<Delete><Object><Key>k</Key><VersionId>` + v1 + `</VersionId></Object><Object><Key>k</Key><VersionId>` + dm + `</VersionId></Object><Object><Key>a b/c</Key></Object><Object><Key>k</Key><VersionId>bad</VersionId></Object></Delete>`
	r = e.do("POST", "/vbk?delete", []byte(body), "Content-MD5: "+md5b64([]byte(body)))
	e.want(r, 200, "")
	var dr struct {
		Deleted []struct {
			Key                   string `xml:"Key"`
			VersionID             string `xml:"VersionId"`
			DeleteMarker          bool   `xml:"DeleteMarker"`
			DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId"`
		} `xml:"Deleted"`
		Errors []struct {
			Code string `xml:"Code"`
		} `xml:"Error"`
	}
	xml.Unmarshal(r.body, &dr)
	if len(dr.Deleted) != 3 || len(dr.Errors) != 1 || dr.Errors[0].Code != "InvalidArgument" ||
		dr.Deleted[0].VersionID != v1 || dr.Deleted[0].DeleteMarker ||
		!dr.Deleted[1].DeleteMarker || dr.Deleted[1].DeleteMarkerVersionID != dm ||
		!dr.Deleted[2].DeleteMarker || !versioning.ValidID(dr.Deleted[2].DeleteMarkerVersionID) || dr.Deleted[2].VersionID != "" {
		t.Fatalf("DeleteObjects: %+v\n%s", dr, r.body)
	}
	// Delete by version: no marker; unknown versions are no error.
	r = e.do("DELETE", "/vbk/k?versionId="+v2, nil)
	e.want(r, 204, "")
	if r.Header.Get("x-amz-version-id") != v2 || r.Header.Get("x-amz-delete-marker") != "" {
		t.Fatalf("DELETE by version: %v", r.Header)
	}
	e.want(e.do("DELETE", "/vbk/k?versionId="+strings.Repeat("a", 32), nil), 204, "")
	e.want(e.do("DELETE", "/vbk/k?versionId=nope", nil), 400, "InvalidArgument")

	// The reserved prefix.
	e.want(e.do("PUT", "/vbk/"+versioning.Prefix+"x", []byte("x")), 400, "InvalidArgument")
	e.want(e.do("GET", "/vbk/"+versioning.Prefix+"x", nil), 400, "InvalidArgument")
	e.want(e.do("PUT", "/vbk/y", nil, "x-amz-copy-source: /vbk/"+versioning.Prefix+"x"), 400, "InvalidArgument")
	if r = e.do("GET", "/vbk?list-type=2&prefix=.strata", nil); bytes.Contains(r.body, []byte("<Key>")) {
		t.Fatalf("the store is listed: %s", r.body)
	}
	// A bucket with versions left is not empty.
	r = e.do("DELETE", "/vbk", nil)
	e.want(r, 409, "BucketNotEmpty")
	if !bytes.Contains(r.body, []byte("You must delete all versions in the bucket.")) {
		t.Fatalf("BucketNotEmpty of a versioned bucket: %s", r.body)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", "&", "%26", "+", "%2B", "/", "%2F").Replace(s)
}

func md5b64(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}
