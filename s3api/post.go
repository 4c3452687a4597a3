package s3api

import (
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/s3api/checksum"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/sigv2"
	"github.com/strata-storage/strata/s3api/sigv4"
	"github.com/strata-storage/strata/s3api/tagging"
)

// Limits on the form fields of a POST upload (the file is streamed).
const (
	maxFormField  = 64 << 10
	maxFormFields = 1 << 20
)

// errPostNotForm answers a POST to a bucket that is not a form upload.
var errPostNotForm = s3err.ErrPreconditionFailed.With("Condition", "Bucket POST must be of the enclosure-type multipart/form-data")

func isFormUpload(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// postObject serves a browser form upload (POST Object) authenticated by a
// signed POST policy.
func (s *Server) postObject(w http.ResponseWriter, r *http.Request, bucket string) {
	fail := func(err error) { writeError(w, r, err) }
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		fail(s3err.ErrMalformedPOSTRequest)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	form := map[string]string{} // lower-case field names
	userMeta := http.Header{}
	var file *multipart.Part
	total := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(s3err.ErrMalformedPOSTRequest)
			return
		}
		name := part.FormName()
		if name == "" {
			fail(s3err.ErrMalformedPOSTRequest)
			return
		}
		if strings.EqualFold(name, "file") {
			file = part
			form["filename"] = part.FileName()
			break // fields after the file are ignored, as in S3
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil || len(v) > maxFormField {
			fail(s3err.ErrMalformedPOSTRequest.WithMessage("Your POST request fields preceding the upload file were too large."))
			return
		}
		if total += len(v); total > maxFormFields {
			fail(s3err.ErrMalformedPOSTRequest.WithMessage("Your POST request fields preceding the upload file were too large."))
			return
		}
		lname := strings.ToLower(name)
		form[lname] = string(v)
		if strings.HasPrefix(lname, "x-amz-meta-") {
			userMeta.Set(name, string(v))
		}
	}
	if file == nil {
		fail(s3err.ErrInvalidArgument.WithMessage("POST requires exactly one file upload per request."))
		return
	}
	defer file.Close()
	key := form["key"]
	if key == "" {
		fail(s3err.PostFieldMissing("key"))
		return
	}
	key = strings.ReplaceAll(key, "${filename}", form["filename"])
	form["key"] = key
	form["bucket"] = bucket

	polForm := form
	switch {
	case sigv2.IsPost(form):
		if s.v2 == nil {
			fail(s3err.ErrUnsupportedSignature)
			return
		}
		if _, err := s.v2.VerifyPost(form); err != nil {
			fail(err)
			return
		}
		// The V2 credentials need no policy condition.
		polForm = maps.Clone(form)
		for _, f := range sigv2.PostExempt {
			delete(polForm, f)
		}
	default:
		ak, err := s.auth.VerifyPost(form)
		if err != nil {
			fail(err)
			return
		}
		if ak == "" { // anonymous: Strata has no public buckets
			fail(s3err.ErrAccessDenied)
			return
		}
	}
	pol, err := sigv4.CheckPostPolicy(form["policy"], polForm, s.cfg.Now())
	if err != nil {
		fail(err)
		return
	}
	if err := backends.CheckKey(key); err != nil {
		fail(err)
		return
	}
	ri := reqInfoFrom(r.Context())
	ri.Key = key

	h := http.Header{}
	for _, f := range postHeaderFields {
		if v, ok := form[strings.ToLower(f)]; ok {
			h.Set(f, v)
		}
	}
	for k, v := range userMeta {
		h[k] = v
	}
	if v, ok := form["acl"]; ok {
		h.Set("x-amz-acl", v)
	}
	meta, err := metaFromHeaders(h)
	if err != nil {
		fail(err)
		return
	}
	exp, err := postChecksum(form)
	if err != nil {
		fail(err)
		return
	}
	if t := form["tagging"]; t != "" {
		tags, err := tagging.ParseXML(strings.NewReader(t), false)
		if err != nil {
			fail(err)
			return
		}
		meta.Tags = tags
	}

	lim := &rangeLimit{r: file, min: 0, max: MaxObjectSize}
	if pol.HasLengthRange {
		lim.min, lim.max = pol.MinLength, pol.MaxLength
	}
	sh := http.Header{}
	for _, f := range []string{hSSE, hSSEKMSKeyID, hSSEContext, hSSEBucketKey, hSSECPrefix + "Algorithm", hSSECPrefix + "Key", hSSECPrefix + "Key-Md5"} {
		if v, ok := form[strings.ToLower(f)]; ok {
			sh.Set(f, v)
		}
	}
	enc, err := s.sseWrite(&request{Request: r}, sh)
	if err != nil {
		fail(err)
		return
	}
	ctx := withSSE(r.Context(), gateway.Options{}, enc)
	p := &payload{cr: checksum.NewReader(lim, exp, -1, nil), meta: &meta}
	info, err := s.gw.PutObject(ctx, bucket, key, p, backends.PutOptions{Meta: &meta})
	if err != nil {
		fail(err)
		return
	}

	setSSEHeaders(w.Header(), info.Meta, enc)
	setChecksumHeaders(w.Header(), info.Checksums, info.ChecksumType)
	setWrittenVersionID(w.Header(), info.VersionID)
	w.Header().Set("ETag", quote(info.ETag))
	loc := objectURL(r, bucket, key)
	w.Header().Set("Location", loc)
	if redir := form["success_action_redirect"]; redir != "" {
		if u, err := url.Parse(redir); err == nil {
			qv := u.Query()
			qv.Set("bucket", bucket)
			qv.Set("key", key)
			qv.Set("etag", quote(info.ETag))
			u.RawQuery = qv.Encode()
			w.Header().Set("Location", u.String())
			w.WriteHeader(http.StatusSeeOther)
			return
		}
	}
	switch form["success_action_status"] {
	case "200":
		w.WriteHeader(http.StatusOK)
	case "201":
		type result struct {
			XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ PostResponse"`
			Location string   `xml:"Location"`
			Bucket   string   `xml:"Bucket"`
			Key      string   `xml:"Key"`
			ETag     string   `xml:"ETag"`
		}
		writeXML(w, http.StatusCreated, result{Location: loc, Bucket: bucket, Key: key, ETag: quote(info.ETag)})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// postHeaderFields are the form fields of a POST upload that set what the
// header of the same name sets on a PUT.
var postHeaderFields = []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding",
	"Content-Language", "Expires", "x-amz-storage-class", "x-amz-website-redirect-location"}

var errPostChecksumField = s3err.ErrInvalidRequest.WithMessage("The algorithm type you specified in x-amz-checksum- header is invalid.")

// postChecksum is the checksum a POST form asks for: an
// x-amz-checksum-<alg> field is checked against the file, as its header is
// on a PUT; x-amz-checksum-algorithm alone has that checksum computed and
// kept; a form with neither gets the default, as a PUT does.
func postChecksum(form map[string]string) (checksum.Expect, error) {
	h := http.Header{}
	for name, v := range form {
		alg, ok := strings.CutPrefix(name, "x-amz-checksum-")
		if !ok || alg == "algorithm" || alg == "type" {
			continue
		}
		if !slices.Contains(checksum.Algorithms, strings.ToUpper(alg)) {
			return checksum.Expect{}, errPostChecksumField
		}
		h.Set(name, v)
	}
	exp, err := checksum.FromHeaders(h)
	if err != nil {
		return exp, err
	}
	if alg, ok := form["x-amz-checksum-algorithm"]; ok {
		alg = strings.ToUpper(alg)
		switch {
		case !slices.Contains(checksum.Algorithms, alg):
			return exp, checksum.ErrUnsupported
		case exp.Algorithm == "":
			exp.Algorithm = alg
		case exp.Algorithm != alg:
			return exp, s3err.ErrInvalidRequest.WithMessage("Value for x-amz-checksum-" + strings.ToLower(alg) + " header is invalid.")
		}
	}
	if exp.Algorithm == "" {
		exp.Algorithm = defaultChecksum
	}
	return exp, nil
}

// objectURL is the URL of an object as S3 reports it in Location.
func objectURL(r *http.Request, bucket, key string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + bucket + "/" + (&url.URL{Path: key}).EscapedPath()
}

// rangeLimit enforces a POST policy's content-length-range on a stream
// whose length is not known in advance.
type rangeLimit struct {
	r        io.Reader
	n        int64
	min, max int64
	err      error
}

// maxPostDrain is how much of a file over its limit is read to tell its
// size in the error, as S3 does (ProposedSize).
const maxPostDrain = 16 << 20

func (l *rangeLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		l.err = sigv4.EntityTooLarge(l.size(), l.max)
		return 0, l.err
	}
	if errors.Is(err, io.EOF) && l.n < l.min {
		l.err = sigv4.EntityTooSmall(l.n, l.min)
		return n, l.err
	}
	return n, err
}

// size reads the rest of the file to tell its size: -1 when more than
// maxPostDrain bytes are left, or the rest cannot be read.
func (l *rangeLimit) size() int64 {
	m, err := io.Copy(io.Discard, io.LimitReader(l.r, maxPostDrain+1))
	if err != nil || m > maxPostDrain {
		return -1
	}
	return l.n + m
}
