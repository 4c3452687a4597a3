package s3api

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/objectlock"
	"github.com/strata-storage/strata/gateway/versioning"
	"github.com/strata-storage/strata/s3api/checksum"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/tagging"
)

// MaxObjectSize is the largest object a single PUT or copy may create.
const MaxObjectSize = 5 << 30

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// defaultChecksum is the checksum S3 computes for an object written
// without one (since 2025): the whole object's CRC64NVME.
const defaultChecksum = checksum.CRC64NVME

// payload wraps the verified request body in the checksum reader and
// returns it with a function that completes meta at the end of the stream.
type payload struct {
	cr   *checksum.Reader
	meta *backends.Meta
}

// Read passes the body through; when it ends cleanly the object's size,
// ETag and checksums are filled in, before the backend sees io.EOF.
func (p *payload) Read(b []byte) (int, error) {
	n, err := p.cr.Read(b)
	if err == io.EOF {
		p.meta.Size = p.cr.Size()
		p.meta.ETag = p.cr.MD5Hex()
		if sums := p.cr.Checksums(); len(sums) > 0 {
			p.meta.Checksums = sums
			p.meta.ChecksumType = "FULL_OBJECT"
		}
	}
	return n, err
}

// newPayload prepares the body of a PUT or UploadPart. defaultAlg is a
// checksum to compute when the request sends none: a multipart upload's,
// which its parts must not contradict, or for a PUT the CRC64NVME that S3
// gives every object sent without one.
func (q *request) newPayload(meta *backends.Meta, maxSize int64, defaultAlg string) (*payload, error) {
	size, body := q.body.Size, q.body.Body
	chunked := size < 0 && len(q.TransferEncoding) > 0 && q.TransferEncoding[0] == "chunked"
	if !chunked && (size < 0 || (q.Request.ContentLength == 0 && q.Header.Get("Content-Length") == "")) {
		// Neither a length nor a body: S3 wants a Content-Length even for
		// an empty object (`curl -X PUT` without data gets 411 there).
		return nil, s3err.ErrMissingContentLength
	}
	if size > maxSize {
		return nil, s3err.ErrEntityTooLarge
	}
	if chunked {
		// A body of unknown length (Transfer-Encoding: chunked, as
		// `curl -T -` sends; MinIO and Ceph take it too) is taken up to
		// the limit.
		body = &cappedReader{r: body, left: maxSize}
	}
	exp, err := checksum.FromHeaders(q.Header)
	if err != nil {
		return nil, err
	}
	if exp.Algorithm == "" {
		exp.Algorithm = defaultAlg
	} else if defaultAlg != "" && defaultAlg != defaultChecksum && exp.Algorithm != defaultAlg {
		// A part of an upload with an algorithm carries no other.
		return nil, errChecksumTypeMismatch(defaultAlg, exp.Algorithm)
	}
	return &payload{cr: checksum.NewReader(body, exp, size, q.body.Trailer), meta: meta}, nil
}

// errChecksumTypeMismatch is S3's answer to a part whose checksum is not of
// its upload's algorithm ("null": none).
func errChecksumTypeMismatch(want, got string) error {
	return s3err.ErrInvalidRequest.WithMessage("Checksum Type mismatch occurred, expected checksum Type: " +
		strings.ToLower(want) + ", actual checksum Type: " + strings.ToLower(got))
}

// cappedReader fails with EntityTooLarge once r gives more than left bytes.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.left -= int64(n); c.left < 0 {
		return 0, s3err.ErrEntityTooLarge
	}
	return n, err
}

// failBucketFirst answers err, a request's bad argument, unless the
// bucket does not exist: S3 looks the bucket up before it judges the
// arguments, and answers NoSuchBucket.
func (s *Server) failBucketFirst(q *request, err error) {
	if _, berr := s.gw.HeadBucket(q.ctx(), q.bucket()); backends.Is(berr, backends.NoSuchBucket) {
		err = berr
	}
	q.fail(err)
}

func (s *Server) putObject(q *request) {
	meta, err := metaFromHeaders(q.Header)
	if err != nil {
		q.fail(err)
		return
	}
	enc, err := s.sseWrite(q, q.Header)
	if err != nil {
		q.fail(err)
		return
	}
	q.options().SSE = enc
	if err := q.lockHeaders(&meta); err != nil {
		q.fail(err)
		return
	}
	opts := backends.PutOptions{Meta: &meta}
	if err := writeConditions(q.Header, &opts); err != nil {
		q.fail(err)
		return
	}
	p, err := q.newPayload(&meta, MaxObjectSize, defaultChecksum)
	if err != nil {
		q.fail(err)
		return
	}
	info, err := s.gw.PutObject(q.ctx(), q.bucket(), q.key(), p, opts)
	if err != nil {
		q.fail(conditionErr(err, opts))
		return
	}
	h := q.w.Header()
	h.Set("ETag", quote(info.ETag))
	setWrittenVersionID(h, info.VersionID)
	setChecksumHeaders(h, info.Checksums, info.ChecksumType)
	setSSEHeaders(h, info.Meta, enc)
	q.w.WriteHeader(http.StatusOK)
}

// writeConditions reads the conditions of a write (PutObject,
// CompleteMultipartUpload) into opts: If-None-Match, which S3 takes only
// as *, or If-Match, an ETag.
func writeConditions(h http.Header, opts *backends.PutOptions) error {
	if h.Get("If-None-Match") != "" && h.Get("If-Match") != "" {
		// S3 takes one or the other on a write, never both.
		return s3err.ErrNotImplemented.With("Header", "If-Match,If-None-Match")
	}
	if v := h.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			return s3err.ErrNotImplemented.With("Header", "If-None-Match",
				"additionalMessage", "We don't accept the provided value of If-None-Match header for this API")
		}
		opts.IfNoneMatch = true
	}
	if v := h.Get("If-Match"); v != "" {
		opts.IfMatch = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return nil
}

// conditionErr is the answer to a conditional write that failed with err:
// If-Match on a key with no object is NoSuchKey (404), as S3 answers.
func conditionErr(err error, opts backends.PutOptions) error {
	if opts.IfMatch != "" && backends.Is(err, backends.NoSuchKey) {
		return s3err.ErrNoSuchKey
	}
	return err
}

var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func (s *Server) getObject(q *request, head bool) {
	if err := q.versionParam(); err != nil {
		q.fail(err)
		return
	}
	enc, err := s.sseRead(q)
	if err != nil {
		q.fail(err)
		return
	}
	q.options().SSE = enc
	ctx, bucket, key := q.ctx(), q.bucket(), q.key()
	var rng *backends.Range
	var partNum int
	if v := q.query("partNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			q.fail(s3err.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive."))
			return
		}
		if q.Header.Get("Range") != "" {
			q.fail(s3err.ErrInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter"))
			return
		}
		partNum = n
	} else if v := q.Header.Get("Range"); v != "" {
		r, ok, empty := parseRange(v)
		if empty {
			s.rangeNotSatisfiable(q)
			return
		}
		if ok {
			rng = r
		}
	}

	var info backends.ObjectInfo
	if partNum > 0 {
		// The part's bytes are found from the object's part list.
		if info, err = s.gw.HeadObject(ctx, bucket, key); err != nil {
			q.fail(err)
			return
		}
		start, size, ok := partRange(info, partNum)
		if !ok {
			q.fail(s3err.ErrInvalidPartNumber)
			return
		}
		if size == 0 {
			rng = nil
		} else {
			rng = &backends.Range{Start: start, End: start + size - 1}
		}
	}

	var body io.ReadCloser
	if head {
		info, err = s.gw.HeadObject(ctx, bucket, key)
	} else {
		body, info, err = s.gw.GetObject(ctx, bucket, key, rng)
		if backends.Is(err, backends.InvalidRange) && rng != nil && rng.Start < 0 {
			// A suffix range fails only on an empty object, which AWS
			// answers whole (200, no body) rather than with 416.
			rng = nil
			body, info, err = s.gw.GetObject(ctx, bucket, key, nil)
		}
	}
	if backends.Is(err, backends.InvalidRange) {
		s.rangeNotSatisfiable(q)
		return
	}
	if err != nil {
		q.fail(err)
		return
	}
	if body != nil {
		defer body.Close()
	}
	if err := needCustomerKey(info.Meta, enc); err != nil {
		q.fail(err)
		return
	}

	h := q.w.Header()
	if failed, notMod := getConditions(q.Header).check(info); failed {
		q.fail(s3err.ErrPreconditionFailed)
		return
	} else if notMod {
		h.Set("ETag", quote(info.ETag))
		h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
		q.w.WriteHeader(http.StatusNotModified)
		return
	}

	off, length := int64(0), info.Size
	if rng != nil && rng.Start < 0 && info.Size == 0 {
		rng = nil // as above: an empty object is served whole
	}
	if rng != nil {
		off, length, err = rng.Resolve(info.Size)
		if err != nil {
			s.rangeNotSatisfiable(q)
			return
		}
	}
	setObjectHeaders(h, info)
	setSSEHeaders(h, info.Meta, enc)
	setVersionID(h, info.VersionID)
	objectlock.SetHeaders(h, info.Sys)
	if partNum > 0 && len(info.Parts) > 0 {
		// As AWS: only asked with partNumber, and only of an object made
		// of parts.
		h.Set("x-amz-mp-parts-count", strconv.Itoa(len(info.Parts)))
	}
	if strings.EqualFold(q.Header.Get("x-amz-checksum-mode"), "ENABLED") {
		switch {
		case partNum > 0 && len(info.Parts) > 0:
			// The part's own checksum, of the algorithm its upload was
			// made with (the body is the part). An upload made without
			// one shows none, whatever its parts carried, also when it
			// got S3's default checksum at completion.
			if info.Sys[sysDefaultChecksum] != "" {
				break
			}
			part := info.Parts[partNum-1]
			for alg := range info.Checksums {
				if v := part.Checksums[alg]; v != "" {
					setChecksumHeaders(h, map[string]string{alg: v}, info.ChecksumType)
				}
			}
		case rng == nil || (off == 0 && length == info.Size):
			setChecksumHeaders(h, info.Checksums, info.ChecksumType)
		}
	}
	for p, hdr := range responseOverrides {
		if v := q.query(p); v != "" {
			h.Set(hdr, v)
		}
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if rng != nil {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+length-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
		status = http.StatusPartialContent
	}
	if head {
		q.w.WriteHeader(status)
		return
	}
	// The first block is read before the status is sent, so that data
	// that fails its check (encryption, bitrot) there is an error answer;
	// later, the connection is cut short of Content-Length.
	buf := getCopyBuf()
	defer putCopyBuf(buf)
	body2 := io.LimitReader(body, length)
	n, err := io.ReadFull(body2, (*buf)[:min(int64(len(*buf)), length)])
	if err != nil && err != io.EOF {
		q.fail(err)
		return
	}
	q.w.WriteHeader(status)
	if _, err := q.w.Write((*buf)[:n]); err != nil {
		return
	}
	src := &errReader{r: body2}
	rest, err := io.CopyBuffer(q.w, src, *buf)
	if err != nil && src.err == nil {
		s.log.Debug("get: copy to client", "id", q.info.RequestID, "err", err)
		return
	}
	if src.err != nil || int64(n)+rest < length {
		// The data failed after the headers went out (an integrity check,
		// a backend gone): abort the connection, so that the client sees
		// an error rather than a body that looks whole but is short.
		s.log.Warn("get: the object's data failed during the response; aborting it",
			"id", q.info.RequestID, "bucket", bucket, "key", key, "sent", int64(n)+rest, "length", length, "err", src.err)
		panic(http.ErrAbortHandler)
	}
}

// partRange returns the byte range of part n of an object. An object made
// in one piece is its own part 1.
func partRange(info backends.ObjectInfo, n int) (start, size int64, ok bool) {
	if len(info.Parts) == 0 {
		return 0, info.Size, n == 1
	}
	if n > len(info.Parts) {
		return 0, 0, false
	}
	for _, p := range info.Parts[:n-1] {
		start += p.Size
	}
	return start, info.Parts[n-1].Size, true
}

func (s *Server) rangeNotSatisfiable(q *request) {
	if info, err := s.gw.HeadObject(q.ctx(), q.bucket(), q.key()); err == nil {
		q.w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
	} else {
		q.fail(err)
		return
	}
	q.fail(s3err.ErrInvalidRange)
}

// errConditionalDelete answers a delete with a condition: Strata cannot
// yet make a delete depend on the object atomically, and deleting
// regardless would be a wrong success.
var errConditionalDelete = s3err.ErrNotImplemented.WithMessage("Conditional deletes (If-Match, x-amz-if-match-size, x-amz-if-match-last-modified-time) are not implemented.")

func (s *Server) deleteObject(q *request) {
	if err := q.versionParam(); err != nil {
		q.fail(err)
		return
	}
	for _, h := range []string{"If-Match", "x-amz-if-match-size", "x-amz-if-match-last-modified-time"} {
		if q.Header.Get(h) != "" {
			q.fail(errConditionalDelete)
			return
		}
	}
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	if err := s.gw.DeleteObject(q.ctx(), q.bucket(), q.key()); err != nil && !backends.Is(err, backends.NoSuchKey) {
		q.fail(err)
		return
	}
	if r := q.options().Result; r.VersionID != "" {
		q.w.Header().Set("x-amz-version-id", r.VersionID)
		if r.DeleteMarker {
			q.w.Header().Set("x-amz-delete-marker", "true")
		}
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteObjects(q *request) {
	var req struct {
		XMLName xml.Name `xml:"Delete"`
		Quiet   bool     `xml:"Quiet"`
		Objects []struct {
			Key       string `xml:"Key"`
			VersionID string `xml:"VersionId"`
			// The conditions of a conditional delete.
			ETag             string `xml:"ETag"`
			LastModifiedTime string `xml:"LastModifiedTime"`
			Size             string `xml:"Size"`
		} `xml:"Object"`
	}
	if err := readXML(q, &req); err != nil {
		q.fail(err)
		return
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		q.fail(s3err.ErrMalformedXML)
		return
	}
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	type deleted struct {
		Key                   string `xml:"Key"`
		VersionID             string `xml:"VersionId,omitempty"`
		DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
		DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
	}
	type delErr struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId,omitempty"`
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
	}
	type result struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		NS      string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []delErr  `xml:"Error"`
	}
	res := result{NS: s3NS}
	for _, o := range req.Objects {
		// Each object has its own version and result.
		opts := *q.options()
		opts.VersionID, opts.Result = o.VersionID, &gateway.Result{}
		var err error
		if o.VersionID != "" {
			err = checkVersion(o.VersionID)
		}
		if err == nil && (o.ETag != "" || o.LastModifiedTime != "" || o.Size != "") {
			err = errConditionalDelete
		}
		if err == nil {
			err = backends.CheckKey(o.Key)
		}
		if err == nil {
			err = checkReservedKey(o.Key)
		}
		if err == nil {
			err = s.gw.DeleteObject(gateway.WithOptions(q.Context(), &opts), q.bucket(), o.Key)
			if backends.Is(err, backends.NoSuchKey) {
				err = nil
			}
		}
		if err != nil {
			ae := toAPIError(err)
			res.Errors = append(res.Errors, delErr{Key: o.Key, VersionID: o.VersionID, Code: ae.Code, Message: ae.Message})
			continue
		}
		if !req.Quiet {
			d := deleted{Key: o.Key, VersionID: o.VersionID}
			if r := opts.Result; r.DeleteMarker {
				d.DeleteMarker, d.DeleteMarkerVersionID = true, r.VersionID
			}
			res.Deleted = append(res.Deleted, d)
		}
	}
	writeXML(q.w, http.StatusOK, res)
}

// copySource parses x-amz-copy-source: "bucket/key" or "/bucket/key",
// URL-encoded, with an optional ?versionId=.
func copySource(v string) (bucket, key, version string, err error) {
	path, query, _ := strings.Cut(v, "?")
	if query != "" {
		vals, _ := url.ParseQuery(query)
		if _, ok := vals["versionId"]; ok {
			version = vals.Get("versionId")
			if err := checkVersion(version); err != nil {
				return "", "", "", err
			}
		}
	}
	raw := path
	path, err = url.PathUnescape(path)
	if err != nil {
		return "", "", "", s3err.ErrInvalidArgument.WithMessage("Invalid copy source encoding").
			With("ArgumentName", "x-amz-copy-source", "ArgumentValue", raw)
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, ok := strings.Cut(path, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", "", s3err.ErrInvalidArgument.WithMessage("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if err := backends.CheckKey(key); err != nil {
		return "", "", "", err
	}
	if err := checkReservedKey(key); err != nil {
		return "", "", "", err
	}
	if !backends.ValidBucketName(bucket) {
		return "", "", "", s3err.ErrInvalidArgument.WithMessage("Invalid copy source bucket name").
			With("ArgumentName", "x-amz-copy-source", "ArgumentValue", raw)
	}
	return bucket, key, version, nil
}

type copyResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	NS           string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
	xmlChecksums
}

func (s *Server) copyObject(q *request) {
	srcBucket, srcKey, srcVersion, err := copySource(q.Header.Get("x-amz-copy-source"))
	if err != nil {
		s.failBucketFirst(q, err)
		return
	}
	srcEnc, err := s.sseCustomer(q, q.Header, hCopySSECPfx)
	if err != nil {
		q.fail(err)
		return
	}
	enc, err := s.sseWrite(q, q.Header)
	if err != nil {
		q.fail(err)
		return
	}
	q.options().SSE = enc
	alg := strings.ToUpper(q.Header.Get("x-amz-checksum-algorithm"))
	if alg != "" {
		if _, err := checksum.New(alg); err != nil {
			q.fail(err)
			return
		}
	}
	ctx := q.ctx()
	if _, err := s.gw.HeadBucket(ctx, q.bucket()); err != nil {
		q.fail(err)
		return
	}
	src, info, err := s.gw.GetObject(q.sourceContext(srcVersion, srcEnc), srcBucket, srcKey, nil)
	if err != nil {
		if backends.Is(err, backends.MethodNotAllowed) {
			// A delete marker cannot be copied.
			err = s3err.ErrInvalidRequest.WithMessage("The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		q.fail(err)
		return
	}
	defer src.Close()
	if info.VersionID != "" {
		q.w.Header().Set("x-amz-copy-source-version-id", info.VersionID)
	}
	if failed, notMod := copyConditions(q.Header).check(info); failed || notMod {
		q.fail(s3err.ErrPreconditionFailed)
		return
	}
	if info.Size > MaxObjectSize {
		q.fail(s3err.ErrInvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"))
		return
	}

	replaceMeta := false
	switch d := q.Header.Get("x-amz-metadata-directive"); d {
	case "", "COPY":
	case "REPLACE":
		replaceMeta = true
	default:
		q.fail(s3err.ErrInvalidArgument.WithMessage("Unknown metadata directive."))
		return
	}
	replaceTags := false
	switch d := q.Header.Get("x-amz-tagging-directive"); d {
	case "", "COPY":
	case "REPLACE":
		replaceTags = true
	default:
		q.fail(s3err.ErrInvalidArgument.WithMessage("Unknown tagging directive."))
		return
	}
	if err := checkACLHeaders(q.Header); err != nil {
		q.fail(err)
		return
	}

	meta := info.Meta
	// The layers below set their own entries for the new object: the
	// copy has the retention and legal hold its request asks for (or the
	// bucket's default), never the source's.
	meta.Parts, meta.Sys = nil, nil
	if replaceMeta {
		m, err := metaFromHeaders(q.Header)
		if err != nil {
			q.fail(err)
			return
		}
		m.Tags = meta.Tags
		meta = m
	} else {
		// The request's metadata is not used, but it is still held to
		// the limit, as S3 does.
		if _, err := userMeta(q.Header); err != nil {
			q.fail(err)
			return
		}
		if sc := q.Header.Get("x-amz-storage-class"); sc != "" {
			// The storage class may change on a COPY directive too.
			m, err := metaFromHeaders(http.Header{"X-Amz-Storage-Class": {sc}})
			if err != nil {
				q.fail(err)
				return
			}
			meta.StorageClass = m.StorageClass
		}
		// The source's redirect location is not copied (AWS); one the
		// request gives is set, whatever the directive.
		if err := setRedirect(&meta, q.Header); err != nil {
			q.fail(err)
			return
		}
	}
	if replaceTags {
		meta.Tags = nil
		if t := q.Header.Get("x-amz-tagging"); t != "" {
			tags, err := tagging.ParseHeader(t)
			if err != nil {
				q.fail(err)
				return
			}
			meta.Tags = tags
		}
	}

	if err := q.lockHeaders(&meta); err != nil {
		q.fail(err)
		return
	}
	var res copyResult
	res.NS = s3NS
	if srcBucket == q.bucket() && srcKey == q.key() && (srcVersion == "" || info.IsLatest) && enc == nil && srcEnc == nil {
		if !replaceMeta && !replaceTags && q.Header.Get("x-amz-storage-class") == "" && q.Header.Get("x-amz-checksum-algorithm") == "" && q.Header.Get("x-amz-website-redirect-location") == "" {
			q.fail(s3err.ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."))
			return
		}
	}
	// A copy of an object onto itself changes only its metadata, except in
	// an Enabled bucket, where it is a new version (the data is copied
	// below).
	sameObject := srcBucket == q.bucket() && srcKey == q.key() && (srcVersion == "" || info.IsLatest)
	if sameObject {
		st, err := s.versioningStatus(ctx, q.bucket())
		if err != nil {
			q.fail(err)
			return
		}
		sameObject = st != versioning.Enabled
	}
	if alg != "" && (info.ChecksumType != "FULL_OBJECT" || info.Checksums[alg] == "") {
		// A checksum the object does not have: the data is read to
		// compute it (and written again).
		sameObject = false
	}
	if sameObject {
		src.Close()
		// Same key: only the metadata changes; the data stays in place.
		meta.Size, meta.ETag = info.Size, info.ETag
		meta.Checksums, meta.ChecksumType, meta.Parts = info.Checksums, info.ChecksumType, info.Parts
		if v := info.Sys[sysDefaultChecksum]; v != "" {
			meta.Sys = map[string]string{sysDefaultChecksum: v} // it goes with the parts
		}
		out, err := s.gw.UpdateMeta(ctx, q.bucket(), q.key(), meta)
		if err != nil {
			q.fail(err)
			return
		}
		setWrittenVersionID(q.w.Header(), out.VersionID)
		res.ETag, res.LastModified = quote(out.ETag), s3Time(out.ModTime)
		res.set(out.Checksums, out.ChecksumType)
		writeXML(q.w, http.StatusOK, res)
		return
	}

	// Recompute the checksum the source had, or the one the request asks
	// for.
	if alg == "" {
		// A copy is one whole object: a composite checksum becomes
		// the full-object checksum of the same algorithm, as on S3,
		// and a copy of an object without one gets the default.
		alg = defaultChecksum
		for a := range info.Checksums {
			alg = a
		}
	}
	meta.Checksums, meta.ChecksumType = nil, ""
	exp := checksum.Expect{Algorithm: alg}
	p := &payload{cr: checksum.NewReader(src, exp, info.Size, nil), meta: &meta}
	out, err := s.gw.PutObject(ctx, q.bucket(), q.key(), p, backends.PutOptions{Meta: &meta})
	if err != nil {
		q.fail(err)
		return
	}
	setSSEHeaders(q.w.Header(), out.Meta, enc)
	setWrittenVersionID(q.w.Header(), out.VersionID)
	res.ETag, res.LastModified = quote(out.ETag), s3Time(out.ModTime)
	res.set(out.Checksums, out.ChecksumType)
	writeXML(q.w, http.StatusOK, res)
}

func (s *Server) getObjectTagging(q *request) {
	if err := q.versionParam(); err != nil {
		q.fail(err)
		return
	}
	info, err := s.gw.HeadObject(q.ctx(), q.bucket(), q.key())
	if err != nil {
		q.fail(err)
		return
	}
	setVersionID(q.w.Header(), info.VersionID)
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Write(tagging.MarshalXML(info.Tags))
}

func (s *Server) putObjectTagging(q *request) {
	if err := q.versionParam(); err != nil {
		q.fail(err)
		return
	}
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		q.fail(err)
		return
	}
	tags, err := tagging.ParseXML(bytes.NewReader(data), false)
	if err != nil {
		q.fail(err)
		return
	}
	s.setTags(q, tags)
}

func (s *Server) deleteObjectTagging(q *request) {
	if err := q.versionParam(); err != nil {
		q.fail(err)
		return
	}
	s.setTags(q, nil)
}

func (s *Server) setTags(q *request, tags map[string]string) {
	info, err := s.gw.HeadObject(q.ctx(), q.bucket(), q.key())
	if err != nil {
		q.fail(err)
		return
	}
	meta := info.Meta
	meta.Tags = tags
	out, err := s.gw.UpdateMeta(q.ctx(), q.bucket(), q.key(), meta)
	if err != nil {
		q.fail(err)
		return
	}
	setVersionID(q.w.Header(), out.VersionID)
	if tags == nil {
		q.w.WriteHeader(http.StatusNoContent)
		return
	}
	q.w.WriteHeader(http.StatusOK)
}

func (s *Server) getObjectAttributes(q *request) {
	if err := q.versionParam(); err != nil {
		q.fail(err)
		return
	}
	want := map[string]bool{}
	for _, v := range q.Header.Values("x-amz-object-attributes") {
		for _, a := range splitList(v) {
			switch a {
			case "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize":
				want[a] = true
			default:
				s.failBucketFirst(q, s3err.ErrInvalidArgument.WithMessage("Invalid attribute name specified."))
				return
			}
		}
	}
	if len(want) == 0 {
		s.failBucketFirst(q, s3err.ErrInvalidRequest.WithMessage("The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty"))
		return
	}
	// An SSE-C object's attributes need its key, as its HEAD does.
	enc, err := s.sseRead(q)
	if err != nil {
		q.fail(err)
		return
	}
	q.options().SSE = enc
	info, err := s.gw.HeadObject(q.ctx(), q.bucket(), q.key())
	if err != nil {
		q.fail(err)
		return
	}
	if err := needCustomerKey(info.Meta, enc); err != nil {
		q.fail(err)
		return
	}
	if failed, notMod := getConditions(q.Header).check(info); failed {
		q.fail(s3err.ErrPreconditionFailed)
		return
	} else if notMod {
		q.w.WriteHeader(http.StatusNotModified)
		return
	}
	toSums := func(m map[string]string, typ string) *xmlChecksums {
		if len(m) == 0 {
			return nil
		}
		c := &xmlChecksums{}
		c.set(m, typ)
		return c
	}
	type part struct {
		PartNumber int   `xml:"PartNumber"`
		Size       int64 `xml:"Size"`
		xmlChecksums
	}
	type parts struct {
		TotalPartsCount      int    `xml:"PartsCount"`
		PartNumberMarker     int    `xml:"PartNumberMarker"`
		NextPartNumberMarker int    `xml:"NextPartNumberMarker"`
		MaxParts             int    `xml:"MaxParts"`
		IsTruncated          bool   `xml:"IsTruncated"`
		Parts                []part `xml:"Part"`
	}
	type result struct {
		XMLName      xml.Name      `xml:"GetObjectAttributesResponse"`
		NS           string        `xml:"xmlns,attr"`
		ETag         string        `xml:"ETag,omitempty"`
		Checksum     *xmlChecksums `xml:"Checksum,omitempty"`
		ObjectParts  *parts        `xml:"ObjectParts,omitempty"`
		StorageClass string        `xml:"StorageClass,omitempty"`
		ObjectSize   *int64        `xml:"ObjectSize,omitempty"`
	}
	res := result{NS: s3NS}
	if want["ETag"] {
		res.ETag = info.ETag
	}
	if want["Checksum"] {
		// A composite checksum comes without its "-<parts>" here: the
		// part count is ObjectParts' TotalPartsCount (as minio-go
		// expects of S3).
		sums := map[string]string{}
		for alg, v := range info.Checksums {
			if i := strings.LastIndexByte(v, '-'); i > 0 && info.ChecksumType == "COMPOSITE" {
				v = v[:i]
			}
			sums[alg] = v
		}
		res.Checksum = toSums(sums, info.ChecksumType)
	}
	if want["StorageClass"] {
		res.StorageClass = info.StorageClass
		if res.StorageClass == "" {
			res.StorageClass = "STANDARD"
		}
	}
	if want["ObjectSize"] {
		res.ObjectSize = &info.Size
	}
	if want["ObjectParts"] && len(info.Parts) > 0 {
		marker, _ := strconv.Atoi(q.Header.Get("x-amz-part-number-marker"))
		maxParts := 1000
		if v := q.Header.Get("x-amz-max-parts"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < maxParts {
				maxParts = n
			}
		}
		p := &parts{TotalPartsCount: len(info.Parts), PartNumberMarker: marker, MaxParts: maxParts}
		for _, pi := range info.Parts {
			if pi.Number <= marker {
				continue
			}
			if len(p.Parts) == maxParts {
				p.IsTruncated = true
				break
			}
			pp := part{PartNumber: pi.Number, Size: pi.Size}
			if c := toSums(pi.Checksums, ""); c != nil {
				pp.xmlChecksums = *c
			}
			p.Parts = append(p.Parts, pp)
			p.NextPartNumberMarker = pi.Number
		}
		res.ObjectParts = p
	}
	q.w.Header().Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	setVersionID(q.w.Header(), info.VersionID)
	writeXML(q.w, http.StatusOK, res)
}

// errReader remembers the error of the reader it wraps, to tell a failed
// source from a client that went away.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
