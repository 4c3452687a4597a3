package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/s3api/s3err"
)

// encodingType returns the function that encodes keys in a listing and
// the EncodingType to echo: url-encoding when encoding-type=url, else the
// identity and "".
func encodingType(q *request) (func(string) string, string, error) {
	switch q.query("encoding-type") {
	case "":
		return func(s string) string { return s }, "", nil
	case "url":
		return urlEncodeKey, "url", nil
	default:
		return nil, "", s3err.ErrInvalidEncodingMethod
	}
}

// listParams reads the max-keys and encoding-type of a listing.
func listParams(q *request) (maxKeys int, enc func(string) string, encName string, err error) {
	if maxKeys, err = maxKeysParam(q); err != nil {
		return 0, nil, "", err
	}
	enc, encName, err = encodingType(q)
	return maxKeys, enc, encName, err
}

// urlEncodeKey encodes a key for encoding-type=url: percent-encoding of
// everything but unreserved characters and '/', with space as %20 so that
// clients decoding with either unquote or unquote_plus get the key back.
func urlEncodeKey(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	return strings.ReplaceAll(e, "%2F", "/")
}

type listEntry struct {
	Key               string   `xml:"Key"`
	LastModified      string   `xml:"LastModified"`
	ETag              string   `xml:"ETag"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string   `xml:"ChecksumType,omitempty"`
	Size              int64    `xml:"Size"`
	Owner             *owner   `xml:"Owner,omitempty"`
	StorageClass      string   `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listPage runs one backend listing with S3's max-keys rules.
func (s *Server) listPage(q *request, prefix, delim, marker string, maxKeys int) (backends.ListResult, error) {
	if maxKeys == 0 {
		// Nothing is asked for; the bucket must still exist.
		_, err := s.gw.HeadBucket(q.ctx(), q.bucket())
		return backends.ListResult{}, err
	}
	return s.gw.ListObjects(q.ctx(), q.bucket(), backends.ListOptions{
		Prefix: prefix, Delimiter: delim, Marker: marker, MaxKeys: maxKeys,
	})
}

func (s *Server) entries(res backends.ListResult, enc func(string) string, o *owner) ([]listEntry, []commonPrefix) {
	objs := make([]listEntry, 0, len(res.Objects))
	for _, ob := range res.Objects {
		e := listEntry{Key: enc(ob.Key), LastModified: s3Time(ob.ModTime), ETag: quote(ob.ETag),
			Size: ob.Size, Owner: o, StorageClass: storageClass(ob.StorageClass)}
		for alg := range ob.Checksums {
			e.ChecksumAlgorithm = append(e.ChecksumAlgorithm, alg)
			e.ChecksumType = ob.ChecksumType
		}
		objs = append(objs, e)
	}
	var cps []commonPrefix
	for _, p := range res.Prefixes {
		cps = append(cps, commonPrefix{enc(p)})
	}
	return objs, cps
}

func maxKeysParam(q *request) (int, error) {
	v := q.query("max-keys")
	if v == "" {
		return 1000, nil
	}
	n, err := intParam(q, "max-keys", 1000, 1000)
	if err != nil {
		return 0, s3err.ErrInvalidMaxKeys
	}
	return n, nil
}

func (s *Server) listObjectsV1(q *request) {
	maxKeys, enc, encName, err := listParams(q)
	if err != nil {
		q.fail(err)
		return
	}
	prefix, delim, marker := q.query("prefix"), q.query("delimiter"), q.query("marker")
	res, err := s.listPage(q, prefix, delim, marker, maxKeys)
	if err != nil {
		q.fail(err)
		return
	}
	type result struct {
		XMLName        xml.Name       `xml:"ListBucketResult"`
		NS             string         `xml:"xmlns,attr"`
		Name           string         `xml:"Name"`
		Prefix         string         `xml:"Prefix"`
		Marker         string         `xml:"Marker"`
		NextMarker     string         `xml:"NextMarker,omitempty"`
		MaxKeys        int            `xml:"MaxKeys"`
		Delimiter      string         `xml:"Delimiter,omitempty"`
		EncodingType   string         `xml:"EncodingType,omitempty"`
		IsTruncated    bool           `xml:"IsTruncated"`
		Contents       []listEntry    `xml:"Contents"`
		CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
	}
	o := s.owner(q.info.AccessKey)
	r := result{NS: s3NS, Name: q.bucket(), Prefix: enc(prefix), Marker: enc(marker), MaxKeys: maxKeys,
		Delimiter: enc(delim), EncodingType: encName, IsTruncated: res.IsTruncated}
	if res.IsTruncated {
		// AWS documents NextMarker for listings with a delimiter only;
		// without one it is the last key, which clients would use anyway,
		// and MinIO, Ceph and versitygw's suite expect it.
		r.NextMarker = enc(res.NextMarker)
	}
	r.Contents, r.CommonPrefixes = s.entries(res, enc, &o)
	writeXML(q.w, http.StatusOK, r)
}

// Continuation tokens are opaque to clients: the marker, base64-encoded.
func encodeToken(marker string) string { return base64.StdEncoding.EncodeToString([]byte(marker)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", s3err.ErrInvalidContinuationToken
	}
	return string(b), nil
}

func (s *Server) listObjectsV2(q *request) {
	maxKeys, enc, encName, err := listParams(q)
	if err != nil {
		q.fail(err)
		return
	}
	prefix, delim := q.query("prefix"), q.query("delimiter")
	startAfter, token := q.query("start-after"), q.query("continuation-token")
	marker := startAfter
	if token != "" {
		if marker, err = decodeToken(token); err != nil {
			q.fail(err)
			return
		}
		if marker < startAfter {
			marker = startAfter
		}
	}
	res, err := s.listPage(q, prefix, delim, marker, maxKeys)
	if err != nil {
		q.fail(err)
		return
	}
	type result struct {
		XMLName               xml.Name       `xml:"ListBucketResult"`
		NS                    string         `xml:"xmlns,attr"`
		Name                  string         `xml:"Name"`
		Prefix                string         `xml:"Prefix"`
		StartAfter            string         `xml:"StartAfter,omitempty"`
		ContinuationToken     *string        `xml:"ContinuationToken"`
		NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
		KeyCount              int            `xml:"KeyCount"`
		MaxKeys               int            `xml:"MaxKeys"`
		Delimiter             string         `xml:"Delimiter,omitempty"`
		EncodingType          string         `xml:"EncodingType,omitempty"`
		IsTruncated           bool           `xml:"IsTruncated"`
		Contents              []listEntry    `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}
	var o *owner
	if q.query("fetch-owner") == "true" {
		ow := s.owner(q.info.AccessKey)
		o = &ow
	}
	r := result{NS: s3NS, Name: q.bucket(), Prefix: enc(prefix), StartAfter: enc(startAfter),
		MaxKeys: maxKeys, Delimiter: enc(delim), EncodingType: encName, IsTruncated: res.IsTruncated}
	if q.has("continuation-token") {
		// Echoed as sent; an empty one starts at the beginning, as none.
		r.ContinuationToken = &token
	}
	if res.IsTruncated {
		r.NextContinuationToken = encodeToken(res.NextMarker)
	}
	r.Contents, r.CommonPrefixes = s.entries(res, enc, o)
	r.KeyCount = len(r.Contents) + len(r.CommonPrefixes)
	writeXML(q.w, http.StatusOK, r)
}
