package sigv2

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// subResources are the query parameters that are part of the signed
// resource. AWS's guide lists acl, delete, lifecycle, location, logging,
// notification, partNumber, policy, requestPayment, torrent, uploadId,
// uploads, versionId, versioning, versions, website and the response-*
// overrides; the others are the sub-resources S3 added later, which SDKs
// that still sign V2 (botocore, minio-go) include as well. Every parameter
// that selects a different operation must be here: one that is not could be
// appended to a presigned URL without breaking its signature.
var subResources = map[string]bool{
	"accelerate":                   true,
	"acl":                          true,
	"analytics":                    true,
	"attributes":                   true,
	"cors":                         true,
	"delete":                       true,
	"encryption":                   true,
	"intelligent-tiering":          true,
	"inventory":                    true,
	"legal-hold":                   true,
	"lifecycle":                    true,
	"location":                     true,
	"logging":                      true,
	"metrics":                      true,
	"notification":                 true,
	"object-lock":                  true,
	"ownershipControls":            true,
	"partNumber":                   true,
	"policy":                       true,
	"publicAccessBlock":            true,
	"replication":                  true,
	"requestPayment":               true,
	"response-cache-control":       true,
	"response-content-disposition": true,
	"response-content-encoding":    true,
	"response-content-language":    true,
	"response-content-type":        true,
	"response-expires":             true,
	"restore":                      true,
	"retention":                    true,
	"select":                       true,
	"select-type":                  true,
	"tagging":                      true,
	"torrent":                      true,
	"uploadId":                     true,
	"uploads":                      true,
	"versionId":                    true,
	"versioning":                   true,
	"versions":                     true,
	"website":                      true,
}

// stringToSign is the V2 string to sign of r:
//
//	Method \n Content-MD5 \n Content-Type \n date \n CanonicalizedAmzHeaders CanonicalizedResource
//
// bucket is the virtual-host bucket ("" for path style). date is the Date
// header, "" when x-amz-date is present, or Expires for a presigned URL.
// For a presigned URL q is its query: x-amz-* parameters, content-type and
// content-md5 in it stand for headers that the request does not carry, as
// botocore puts them there.
func stringToSign(r *http.Request, bucket, date string, q url.Values) string {
	return stringToSignHead(r, date, q) + canonicalResource(r, bucket)
}

// stringToSignHead is the string to sign up to the CanonicalizedResource.
func stringToSignHead(r *http.Request, date string, q url.Values) string {
	md5, ctype := r.Header.Get("Content-Md5"), r.Header.Get("Content-Type")
	if q != nil {
		if _, ok := r.Header["Content-Md5"]; !ok {
			md5 = q.Get("content-md5")
		}
		if _, ok := r.Header["Content-Type"]; !ok {
			ctype = q.Get("content-type")
		}
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(md5)
	b.WriteByte('\n')
	b.WriteString(ctype)
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	b.WriteString(canonicalAmzHeaders(r.Header, q))
	return b.String()
}

// canonicalAmzHeaders is every x-amz-* header as "name:value\n", names
// lower-cased and sorted, values trimmed and unfolded, the values of
// repeated headers joined with commas. Query parameters in q named x-amz-*
// are added when no header has their name.
func canonicalAmzHeaders(h http.Header, q url.Values) string {
	vals := map[string][]string{}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			vals[lk] = append(vals[lk], h[k]...)
		}
	}
	fromQuery := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-") {
			continue
		}
		if _, inHeader := vals[lk]; inHeader && !fromQuery[lk] {
			continue
		}
		fromQuery[lk] = true
		vals[lk] = append(vals[lk], q[k]...)
	}
	if len(vals) == 0 {
		return ""
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals[name] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(unfold(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// unfold replaces line folding (a newline and the white space around it)
// with one space and trims the value.
func unfold(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return strings.TrimSpace(v)
	}
	var parts []string
	for line := range strings.SplitSeq(v, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}

// canonicalResource is "/" + bucket for a virtual-host-style request, then
// the path as the client sent it (not decoded), then the sub-resources in
// the query, sorted by name, with their decoded values.
func canonicalResource(r *http.Request, bucket string) string {
	return resourcePath(r, bucket) + subResourceQuery(r)
}

// resourcePath is the path part of the CanonicalizedResource.
func resourcePath(r *http.Request, bucket string) string {
	if bucket != "" {
		return "/" + bucket + rawPath(r)
	}
	return rawPath(r)
}

// bucketOnly reports whether a path-style resource path names a bucket
// and no key: "/bucket", without the slash after it (and without escapes,
// which no bucket name needs).
func bucketOnly(path string) bool {
	return len(path) > 1 && !strings.ContainsAny(path[1:], "/%")
}

// subResourceQuery is "?" and the sub-resources of r's query, sorted by
// name, with their decoded values; "" when there are none.
func subResourceQuery(r *http.Request) string {
	var b strings.Builder
	type param struct{ key, value string }
	var ps []param
	// Parsed as url.ParseQuery does, so that the sub-resources signed are
	// the ones the router sees.
	for raw := r.URL.RawQuery; raw != ""; {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" || strings.Contains(kv, ";") {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || !subResources[k] {
			continue
		}
		ps = append(ps, param{k, v})
	}
	slices.SortStableFunc(ps, func(a, b param) int { return strings.Compare(a.key, b.key) })
	for i, p := range ps {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		if p.value != "" {
			b.WriteByte('=')
			b.WriteString(p.value)
		}
	}
	return b.String()
}

// rawPath is the path of the request URI as the client sent it.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if strings.HasPrefix(p, "/") {
		p, _, _ = strings.Cut(p, "?")
	} else {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}
