package s3api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/tagging"
)

// maxUserMetaSize is the limit AWS puts on user-defined metadata (names and
// values of x-amz-meta-* headers together).
const maxUserMetaSize = 2 << 10

var errMetadataTooLarge = &s3err.APIError{Code: "MetadataTooLarge", Status: 400,
	Message: "Your metadata headers exceed the maximum allowed metadata size."}

// userMeta gathers the x-amz-meta-* headers of h (nil when there are
// none); more than maxUserMetaSize bytes of them is MetadataTooLarge.
func userMeta(h http.Header) (map[string]string, error) {
	var user map[string]string
	size := 0
	for name, vals := range h {
		lname := strings.ToLower(name)
		if !strings.HasPrefix(lname, "x-amz-meta-") {
			continue
		}
		if user == nil {
			user = map[string]string{}
		}
		k := strings.TrimPrefix(lname, "x-amz-meta-")
		v := strings.Join(vals, ",")
		user[k] = v
		size += len(k) + len(v)
	}
	if size > maxUserMetaSize {
		return user, errMetadataTooLarge
	}
	return user, nil
}

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
	// aws-chunked is a transfer detail, not the object's encoding; the
	// rest is kept as sent.
	m.ContentEncoding = removeToken(m.ContentEncoding, "aws-chunked")
	if m.ContentType == "" {
		m.ContentType = "binary/octet-stream"
	}
	var err error
	if m.User, err = userMeta(h); err != nil {
		return m, err
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
	if err := setRedirect(&m, h); err != nil {
		return m, err
	}
	if err := checkACLHeaders(h); err != nil {
		return m, err
	}
	return m, nil
}

// sysRedirect is the Meta.Sys entry of x-amz-website-redirect-location,
// which S3 keeps with the object and returns on GET and HEAD (a website
// endpoint would redirect to it; Strata has none).
const sysRedirect = gateway.SysS3 + "redirect"

var errInvalidRedirect = &s3err.APIError{Code: "InvalidRedirectLocation", Status: 400,
	Message: "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."}

// setRedirect stores the request's x-amz-website-redirect-location in m,
// after AWS's checks: a path from the root or an http(s) URL, at most
// 2 KB (and, for Meta.Sys, printable ASCII: a URL is percent-encoded).
func setRedirect(m *backends.Meta, h http.Header) error {
	v := h.Get("x-amz-website-redirect-location")
	if v == "" {
		return nil
	}
	if !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return errInvalidRedirect
	}
	if len(v) > 2<<10 {
		return errInvalidRedirect.WithMessage("The length of website redirect location cannot exceed 2,048 characters.")
	}
	for i := range len(v) {
		if v[i] < 0x21 || v[i] > 0x7e {
			return errInvalidRedirect.WithMessage("The website redirect location must be a URL of printable ASCII characters (percent-encode the others).")
		}
	}
	if m.Sys == nil {
		m.Sys = map[string]string{}
	}
	m.Sys[sysRedirect] = v
	return nil
}

// removeToken removes tok (any case) from a comma-separated list; a list
// without it is returned as it is.
func removeToken(list, tok string) string {
	var out []string
	found := false
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if strings.EqualFold(p, tok) {
			found = true
		} else if p != "" {
			out = append(out, p)
		}
	}
	if !found {
		return list
	}
	return strings.Join(out, ", ")
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
	if v := o.Sys[sysRedirect]; v != "" {
		h.Set("x-amz-website-redirect-location", v)
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
// a header S3 ignores (not bytes=, several ranges, anything but digits
// around one "-", spaces included), so the whole object is served.
// "bytes=-0" selects nothing: ok with a nil range and empty set.
func parseRange(v string) (rng *backends.Range, ok, empty bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found {
		return nil, false, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found || !allDigits(first) || !allDigits(last) || first == "" && last == "" {
		return nil, false, false
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil {
			return nil, false, false
		}
		if n == 0 {
			return nil, true, true
		}
		return &backends.Range{Start: -n, End: -1}, true, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
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

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
