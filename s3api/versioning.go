package s3api

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/versioning"
	"github.com/strata-storage/strata/s3api/s3err"
)

var (
	errNoSuchVersion      = &s3err.APIError{Code: "NoSuchVersion", Status: http.StatusNotFound, Message: "The specified version does not exist."}
	errInvalidBucketState = &s3err.APIError{Code: "InvalidBucketState", Status: http.StatusConflict, Message: "The request is not valid with the current state of the bucket."}
	errBadVersionID       = s3err.ErrInvalidArgument.WithMessage("Invalid version id specified")
)

// checkReservedKey refuses keys in the version store's reserved prefix.
// This is Strata's one deviation from S3 key rules: such keys are
// InvalidArgument.
func checkReservedKey(key string) error {
	if strings.HasPrefix(key, versioning.Prefix) {
		return s3err.ErrInvalidArgument.WithMessage("Object keys starting with " + versioning.Prefix + " are reserved by Strata.")
	}
	return nil
}

// checkVersion validates a version ID given by a client.
func checkVersion(v string) error {
	if v == "" {
		return s3err.ErrInvalidArgument.WithMessage("Version id cannot be the empty string")
	}
	if !versioning.ValidID(v) {
		return errBadVersionID
	}
	return nil
}

// versionParam reads the request's versionId query parameter into its
// gateway options.
func (q *request) versionParam() error {
	if !q.has("versionId") {
		return nil
	}
	v := q.query("versionId")
	if err := checkVersion(v); err != nil {
		return err
	}
	q.options().VersionID = v
	return nil
}

// sourceContext is the context for reading a copy source: the request's
// options with the source's version and a result of its own.
func (q *request) sourceContext(version string, enc *gateway.SSE) context.Context {
	o := *q.options()
	o.VersionID = version
	o.SSE = enc // the copy source's customer key, not the target's encryption
	o.Result = &gateway.Result{}
	return gateway.WithOptions(q.Context(), &o)
}

// setVersionID sends x-amz-version-id when the object has a version.
func setVersionID(h http.Header, id string) {
	if id != "" {
		h.Set("x-amz-version-id", id)
	}
}

// setWrittenVersionID answers a write (PUT, POST, copy, completed upload)
// with the new version's ID. A write to a bucket whose versioning is
// suspended makes the "null" version, which S3 does not name: no header.
func setWrittenVersionID(h http.Header, id string) {
	if id != "null" {
		setVersionID(h, id)
	}
}

// versioner is what lists versions: the stack's versioning layer, or for a
// stack without one, a layer that sees every bucket unversioned.
func (s *Server) versioner() (gateway.Versioner, bool) {
	v, ok := s.gw.Backend.(gateway.Versioner)
	if !ok {
		return versioning.New(s.gw.Backend), false
	}
	return v, true
}

// versioningStatus returns the versioning state of a bucket: "" (never
// versioned), "Enabled" or "Suspended".
func (s *Server) versioningStatus(ctx context.Context, bucket string) (string, error) {
	doc, err := s.gw.GetBucketConfig(ctx, bucket, gateway.DocVersioning)
	if backends.Is(err, backends.NotFound) {
		return versioning.Unversioned, nil
	}
	if err != nil {
		return "", err
	}
	return versioning.StatusOf(doc), nil
}

func (s *Server) putBucketVersioning(q *request) {
	if _, ok := s.versioner(); !ok {
		q.fail(s3err.ErrNotImplemented.WithMessage("Versioning is not enabled on this server."))
		return
	}
	data, err := readBody(q, 64<<10)
	if err != nil {
		q.fail(err)
		return
	}
	cfg, err := versioning.ParseConfig(data)
	if err != nil {
		q.fail(err)
		return
	}
	if cfg.MFADelete == "Enabled" {
		q.fail(s3err.ErrNotImplemented.WithMessage("MFA Delete is not implemented."))
		return
	}
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	if cfg.Status != "" {
		// Without a Status (MfaDelete only) the state stays as it is.
		if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), gateway.DocVersioning, versioning.ConfigDoc(cfg.Status)); err != nil {
			q.fail(err)
			return
		}
	}
	q.w.WriteHeader(http.StatusOK)
}

func (s *Server) getBucketVersioning(q *request) {
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	st, err := s.versioningStatus(q.ctx(), q.bucket())
	if err != nil {
		q.fail(err)
		return
	}
	// A bucket that never had versioning has no Status, as AWS answers.
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.WriteHeader(http.StatusOK)
	q.w.Write([]byte(xml.Header))
	q.w.Write(versioning.Config{Status: st}.Marshal())
}

// versionEntry is a Version or a DeleteMarker of ListVersionsResult: one
// type, so that both keep their order in one list.
type versionEntry struct {
	XMLName           xml.Name
	Key               string   `xml:"Key"`
	VersionID         string   `xml:"VersionId"`
	IsLatest          bool     `xml:"IsLatest"`
	LastModified      string   `xml:"LastModified"`
	ETag              string   `xml:"ETag,omitempty"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string   `xml:"ChecksumType,omitempty"`
	Size              *int64   `xml:"Size,omitempty"`
	StorageClass      string   `xml:"StorageClass,omitempty"`
	Owner             owner    `xml:"Owner"`
}

func (s *Server) listObjectVersions(q *request) {
	maxKeys, enc, encName, err := listParams(q)
	if err != nil {
		q.fail(err)
		return
	}
	prefix, delim := q.query("prefix"), q.query("delimiter")
	keyMarker, idMarker := q.query("key-marker"), q.query("version-id-marker")
	if idMarker != "" && keyMarker == "" {
		q.fail(s3err.ErrInvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker."))
		return
	}
	if idMarker != "" && !versioning.ValidID(idMarker) {
		q.fail(errBadVersionID)
		return
	}
	var res gateway.VersionList
	if maxKeys == 0 {
		_, err = s.gw.HeadBucket(q.ctx(), q.bucket())
	} else {
		v, _ := s.versioner()
		res, err = v.ListObjectVersions(q.ctx(), q.bucket(), gateway.VersionListOptions{
			Prefix: prefix, Delimiter: delim, KeyMarker: keyMarker, VersionIDMarker: idMarker, MaxKeys: maxKeys,
		})
	}
	if err != nil {
		q.fail(err)
		return
	}
	type result struct {
		XMLName             xml.Name       `xml:"ListVersionsResult"`
		NS                  string         `xml:"xmlns,attr"`
		Name                string         `xml:"Name"`
		Prefix              string         `xml:"Prefix"`
		KeyMarker           string         `xml:"KeyMarker"`
		VersionIDMarker     string         `xml:"VersionIdMarker"`
		NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
		NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
		MaxKeys             int            `xml:"MaxKeys"`
		Delimiter           string         `xml:"Delimiter,omitempty"`
		EncodingType        string         `xml:"EncodingType,omitempty"`
		IsTruncated         bool           `xml:"IsTruncated"`
		Versions            []versionEntry `xml:"Version"`
		CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
	}
	o := s.owner(q.info.AccessKey)
	r := result{NS: s3NS, Name: q.bucket(), Prefix: enc(prefix), KeyMarker: enc(keyMarker), VersionIDMarker: idMarker,
		MaxKeys: maxKeys, Delimiter: enc(delim), EncodingType: encName, IsTruncated: res.IsTruncated}
	for _, v := range res.Versions {
		e := versionEntry{Key: enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest, LastModified: s3Time(v.ModTime), Owner: o}
		if v.DeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			e.XMLName.Local = "Version"
			e.ETag = quote(v.ETag)
			size := v.Size
			e.Size = &size
			e.StorageClass = storageClass(v.StorageClass)
			for alg := range v.Checksums {
				e.ChecksumAlgorithm = append(e.ChecksumAlgorithm, alg)
				e.ChecksumType = v.ChecksumType
			}
		}
		r.Versions = append(r.Versions, e)
	}
	for _, p := range res.Prefixes {
		r.CommonPrefixes = append(r.CommonPrefixes, commonPrefix{enc(p)})
	}
	if res.IsTruncated {
		r.NextKeyMarker = enc(res.NextKeyMarker)
		r.NextVersionIDMarker = res.NextVersionIDMarker
	}
	writeXML(q.w, http.StatusOK, r)
}
