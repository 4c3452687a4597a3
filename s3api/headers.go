package s3api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/tagging"
)

// maxUserMetaSize is the limit AWS puts on user-defined metadata (names and
// values of x-amz-meta-* headers together).
const maxUserMetaSize = 2 << 10

var errMetadataTooLarge = &s3err.APIError{Code: "MetadataTooLarge", Status: 400,
	Message: "Your metadata headers exceed the maximum allowed metadata size."}

// metaFromHeaders builds an object's metadata from a PUT, copy with REPLACE,
// POST or CreateMultipartUpload request's headers.
func metaFromHeaders(h http.Header) (backends.Meta, error) {
	m := backends.Meta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	// aws-chunked is a transfer detail, not the object's encoding.
	if enc := removeToken(m.ContentEncoding, "aws-chunked"); enc != m.ContentEncoding {
		m.ContentEncoding = enc
	}
	if m.ContentType == "" {
		m.ContentType = "binary/octet-stream"
	}
	size := 0
	for name, vals := range h {
		lname := strings.ToLower(name)
		if !strings.HasPrefix(lname, "x-amz-meta-") {
			continue
		}
		if m.User == nil {
			m.User = map[string]string{}
		}
		k := strings.TrimPrefix(lname, "x-amz-meta-")
		v := strings.Join(vals, ",")
		m.User[k] = v
		size += len(k) + len(v)
	}
	if size > maxUserMetaSize {
		return m, errMetadataTooLarge
	}
	switch sc := h.Get("x-amz-storage-class"); sc {
	case "", "STANDARD":
	case "REDUCED_REDUNDANCY":
		m.StorageClass = sc
	default:
		return m, s3err.ErrInvalidStorageClass
	}
	if t := h.Get("x-amz-tagging"); t != "" {
		tags, err := tagging.ParseHeader(t)
		if err != nil {
			return m, err
		}
		m.Tags = tags
	}
	if err := checkUnsupportedHeaders(h); err != nil {
		return m, err
	}
	return m, nil
}

// checkUnsupportedHeaders refuses requests for features Strata does not
// have yet, rather than ignoring them.
func checkUnsupportedHeaders(h http.Header) error {
	for _, name := range []string{
		"x-amz-website-redirect-location",
	} {
		if h.Get(name) != "" {
			return s3err.ErrNotImplemented.WithMessage("The " + name + " header is not implemented.")
		}
	}
	if acl := h.Get("x-amz-acl"); acl != "" && acl != "private" && acl != "bucket-owner-full-control" {
		return s3err.ErrNotImplemented.WithMessage("Canned ACLs other than private are not implemented.")
	}
	for _, name := range []string{"x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control"} {
		if h.Get(name) != "" {
			return s3err.ErrNotImplemented.WithMessage("ACL grants are not implemented.")
		}
	}
	return nil
}

func removeToken(list, tok string) string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p != "" && !strings.EqualFold(p, tok) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// setObjectHeaders writes the headers that describe an object on GET and
// HEAD.
func setObjectHeaders(h http.Header, o backends.ObjectInfo) {
	h.Set("ETag", quote(o.ETag))
	h.Set("Last-Modified", o.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	ct := o.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for k, v := range map[string]string{
		"Content-Encoding":    o.ContentEncoding,
		"Content-Disposition": o.ContentDisposition,
		"Content-Language":    o.ContentLanguage,
		"Cache-Control":       o.CacheControl,
		"Expires":             o.Expires,
		"x-amz-storage-class": o.StorageClass,
	} {
		if v != "" {
			h.Set(k, v)
		}
	}
	for k, v := range o.User {
		// Lower-case names, as AWS sends them: some clients keep the case.
		h["x-amz-meta-"+k] = []string{v}
	}
	if n := len(o.Tags); n > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
	if n := len(o.Parts); n > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(n))
	}
}

// setChecksumHeaders writes the stored checksums of an object or part.
func setChecksumHeaders(h http.Header, sums map[string]string, typ string) {
	for alg, v := range sums {
		if v != "" {
			h.Set("x-amz-checksum-"+strings.ToLower(alg), v)
		}
	}
	if len(sums) > 0 && typ != "" {
		h.Set("x-amz-checksum-type", typ)
	}
}

func quote(etag string) string { return `"` + etag + `"` }

// etagMatches reports whether an If-Match style list holds etag.
func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		e = strings.TrimPrefix(e, "W/")
		if e == "*" || strings.Trim(e, `"`) == etag {
			return true
		}
	}
	return false
}

func parseHTTPTime(v string) (time.Time, bool) {
	t, err := http.ParseTime(v)
	return t, err == nil
}

// conditions holds the four HTTP preconditions of a GET, HEAD or copy.
type conditions struct {
	ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince string
}

func getConditions(h http.Header) conditions {
	return conditions{h.Get("If-Match"), h.Get("If-None-Match"), h.Get("If-Modified-Since"), h.Get("If-Unmodified-Since")}
}

func copyConditions(h http.Header) conditions {
	return conditions{
		h.Get("x-amz-copy-source-if-match"), h.Get("x-amz-copy-source-if-none-match"),
		h.Get("x-amz-copy-source-if-modified-since"), h.Get("x-amz-copy-source-if-unmodified-since"),
	}
}

// check evaluates the conditions against an object as RFC 7232 orders them
// and S3 applies them: If-Match then If-Unmodified-Since (412), If-None-Match
// then If-Modified-Since (304 on GET/HEAD; notModified is returned and the
// caller decides). If-Unmodified-Since is ignored when If-Match is present
// and true, If-Modified-Since when If-None-Match is present.
func (c conditions) check(o backends.ObjectInfo) (failed, notModified bool) {
	mod := o.ModTime.Truncate(time.Second)
	if c.ifMatch != "" {
		if !etagMatches(c.ifMatch, o.ETag) {
			return true, false
		}
	} else if c.ifUnmodifiedSince != "" {
		if t, ok := parseHTTPTime(c.ifUnmodifiedSince); ok && mod.After(t) {
			return true, false
		}
	}
	if c.ifNoneMatch != "" {
		if etagMatches(c.ifNoneMatch, o.ETag) {
			return false, true
		}
	} else if c.ifModifiedSince != "" {
		if t, ok := parseHTTPTime(c.ifModifiedSince); ok && !mod.After(t) {
			return false, true
		}
	}
	return false, false
}

// parseRange parses an HTTP Range header of one byte range. ok is false for
// a header S3 ignores (not bytes=, several ranges, malformed), so the whole
// object is served. "bytes=-0" selects nothing: ok with a nil range and
// empty set.
func parseRange(v string) (rng *backends.Range, ok, empty bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return nil, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return nil, false, false
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return nil, false, false
		}
		if n == 0 {
			return nil, true, true
		}
		return &backends.Range{Start: -n, End: -1}, true, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return nil, false, false
	}
	if last == "" {
		return &backends.Range{Start: start, End: -1}, true, false
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < start {
		return nil, false, false
	}
	return &backends.Range{Start: start, End: end}, true, false
}
