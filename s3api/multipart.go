package s3api

import (
	"encoding/xml"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/s3api/checksum"
	"github.com/strata-storage/strata/s3api/s3err"
)

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func getCopyBuf() *[]byte  { return copyBufPool.Get().(*[]byte) }
func putCopyBuf(b *[]byte) { copyBufPool.Put(b) }

// MaxPartSize is the largest part S3 accepts.
const MaxPartSize = 5 << 30

func (s *Server) createMultipartUpload(q *request) {
	meta, err := metaFromHeaders(q.Header)
	if err != nil {
		q.fail(err)
		return
	}
	if alg := strings.ToUpper(q.Header.Get("x-amz-checksum-algorithm")); alg != "" {
		if _, err := checksum.New(alg); err != nil {
			q.fail(checksum.ErrUnsupported)
			return
		}
		meta.ChecksumAlgorithm = alg
		meta.ChecksumType = "COMPOSITE"
		if alg == "CRC64NVME" {
			meta.ChecksumType = "FULL_OBJECT"
		}
	}
	if t := strings.ToUpper(q.Header.Get("x-amz-checksum-type")); t != "" {
		switch {
		case t != "COMPOSITE" && t != "FULL_OBJECT":
			q.fail(s3err.ErrInvalidRequest.WithMessage("Value for x-amz-checksum-type header is invalid."))
			return
		case meta.ChecksumAlgorithm == "":
			q.fail(s3err.ErrInvalidRequest.WithMessage("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."))
			return
		case !checksum.TypeAllowed(meta.ChecksumAlgorithm, t):
			q.fail(s3err.ErrInvalidRequest.WithMessage("The " + t + " checksum type cannot be used with the " + strings.ToLower(meta.ChecksumAlgorithm) + " checksum algorithm."))
			return
		}
		meta.ChecksumType = t
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
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	id, err := s.gw.CreateMultipartUpload(q.ctx(), q.bucket(), q.key(), meta)
	if err != nil {
		q.fail(err)
		return
	}
	if up, _, err := s.gw.ListParts(q.ctx(), q.bucket(), q.key(), id); err == nil {
		setSSEHeaders(q.w.Header(), up.Meta, enc)
	}
	type result struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}
	if meta.ChecksumAlgorithm != "" {
		q.w.Header().Set("x-amz-checksum-algorithm", meta.ChecksumAlgorithm)
		q.w.Header().Set("x-amz-checksum-type", meta.ChecksumType)
	}
	writeXML(q.w, http.StatusOK, result{NS: s3NS, Bucket: q.bucket(), Key: q.key(), UploadID: id})
}

func partNumber(q *request) (int, error) {
	n, err := strconv.Atoi(q.query("partNumber"))
	if err != nil || n < 1 || n > gateway.MaxPartNumber {
		return 0, s3err.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive.")
	}
	if q.query("uploadId") == "" {
		return 0, s3err.ErrNoSuchUpload
	}
	return n, nil
}

// uploadOf returns the upload's metadata, checking that it exists.
func (s *Server) uploadOf(q *request) (backends.Upload, []backends.PartInfo, error) {
	return s.gw.ListParts(q.ctx(), q.bucket(), q.key(), q.query("uploadId"))
}

func (s *Server) uploadPart(q *request) {
	n, err := partNumber(q)
	if err != nil {
		q.fail(err)
		return
	}
	alg, typ, err := s.uploadAlgorithm(q)
	if err != nil {
		q.fail(err)
		return
	}
	if alg != "" && typ == "COMPOSITE" {
		// The composite checksum is made of the parts' checksums as
		// the client computed them: each part must carry one.
		if exp, err := checksum.FromHeaders(q.Header); err == nil && exp.Algorithm == "" {
			q.fail(errChecksumTypeMismatch(alg, "null"))
			return
		}
	}
	enc, err := s.sseCustomer(q, q.Header, hSSECPrefix)
	if err != nil {
		q.fail(err)
		return
	}
	q.options().SSE = enc
	var meta backends.Meta
	// The upload's checksum is computed even for a part sent without one.
	p, err := q.newPayload(&meta, MaxPartSize, alg)
	if err != nil {
		q.fail(err)
		return
	}
	if alg == "" {
		// An upload without an algorithm gets S3's default, a full-object
		// CRC64NVME made from its parts' at completion.
		p.cr.Also(defaultChecksum)
	}
	part, err := s.gw.UploadPart(q.ctx(), q.bucket(), q.key(), q.query("uploadId"), n, p, &meta)
	if err != nil {
		q.fail(err)
		return
	}
	if enc != nil {
		setSSEHeaders(q.w.Header(), backends.Meta{Sys: map[string]string{"sse-t": "C"}}, enc)
	}
	q.w.Header().Set("ETag", quote(part.ETag))
	sums := part.Checksums
	if alg == "" && p.cr.Algorithm() != defaultChecksum {
		// The default is kept for the completion, not shown.
		sums = maps.Clone(sums)
		delete(sums, defaultChecksum)
	}
	setChecksumHeaders(q.w.Header(), sums, "")
	q.w.WriteHeader(http.StatusOK)
}

// uploadAlgs remembers the checksum algorithm and type of uploads in
// progress, so that UploadPart lists its upload's parts once, not for
// every part (a remote call per part on cloud backends).
type uploadAlgs struct {
	mu sync.Mutex
	m  map[string]uploadChecksum
}

type uploadChecksum struct{ alg, typ string }

const maxUploadAlgs = 10000

func uploadCacheKey(q *request) string {
	return q.bucket() + "\x00" + q.key() + "\x00" + q.query("uploadId")
}

// uploadAlgorithm returns the checksum algorithm and type of the
// request's upload, checking once that the upload exists.
func (s *Server) uploadAlgorithm(q *request) (alg, typ string, err error) {
	k := uploadCacheKey(q)
	s.uploads.mu.Lock()
	c, ok := s.uploads.m[k]
	s.uploads.mu.Unlock()
	if ok {
		return c.alg, c.typ, nil
	}
	up, _, err := s.uploadOf(q)
	if err != nil {
		return "", "", err
	}
	c = uploadChecksum{up.Meta.ChecksumAlgorithm, up.Meta.ChecksumType}
	s.uploads.mu.Lock()
	if s.uploads.m == nil || len(s.uploads.m) >= maxUploadAlgs {
		s.uploads.m = map[string]uploadChecksum{}
	}
	s.uploads.m[k] = c
	s.uploads.mu.Unlock()
	return c.alg, c.typ, nil
}

func (s *Server) forgetUpload(q *request) {
	s.uploads.mu.Lock()
	delete(s.uploads.m, uploadCacheKey(q))
	s.uploads.mu.Unlock()
}

var errCopySourceRange = s3err.ErrInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form " +
	"bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")

func (s *Server) uploadPartCopy(q *request) {
	n, err := partNumber(q)
	if err != nil {
		s.failBucketFirst(q, err)
		return
	}
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
	enc, err := s.sseCustomer(q, q.Header, hSSECPrefix)
	if err != nil {
		q.fail(err)
		return
	}
	q.options().SSE = enc
	up, _, err := s.uploadOf(q)
	if err != nil {
		q.fail(err)
		return
	}
	ctx := q.ctx()
	srcCtx := q.sourceContext(srcVersion, srcEnc)
	var rng *backends.Range
	if v := q.Header.Get("x-amz-copy-source-range"); v != "" {
		// Only the bytes=first-last form: no suffix, no open end.
		r, ok, _ := parseRange(v)
		if !ok || r.Start < 0 || r.End < 0 {
			q.fail(errCopySourceRange.With("ArgumentName", "x-amz-copy-source-range", "ArgumentValue", v))
			return
		}
		rng = r
	}
	info, err := s.gw.HeadObject(srcCtx, srcBucket, srcKey)
	if err != nil {
		q.fail(err)
		return
	}
	if rng != nil && rng.End >= info.Size {
		q.fail(s3err.ErrInvalidArgument.WithMessage("Range specified is not valid for source object of size: " + strconv.FormatInt(info.Size, 10)))
		return
	}
	src, info, err := s.gw.GetObject(srcCtx, srcBucket, srcKey, rng)
	if err != nil {
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
	_, length, err := rng.Resolve(info.Size)
	if err != nil {
		q.fail(err)
		return
	}
	if length > MaxPartSize {
		q.fail(s3err.ErrEntityTooLarge)
		return
	}
	// The part gets the checksum of the upload's algorithm, as a part
	// sent with UploadPart must carry.
	var meta backends.Meta
	exp := checksum.Expect{Algorithm: up.Meta.ChecksumAlgorithm}
	if exp.Algorithm == "" {
		exp.Algorithm = defaultChecksum // see uploadPart
	}
	p := &payload{cr: checksum.NewReader(src, exp, length, nil), meta: &meta}
	part, err := s.gw.UploadPart(ctx, q.bucket(), q.key(), q.query("uploadId"), n, p, &meta)
	if err != nil {
		q.fail(err)
		return
	}
	type result struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		NS           string   `xml:"xmlns,attr"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
		xmlChecksums
	}
	res := result{NS: s3NS, ETag: quote(part.ETag), LastModified: s3Time(part.ModTime)}
	if up.Meta.ChecksumAlgorithm != "" {
		res.set(part.Checksums, "") // not the default, which is not shown
	}
	writeXML(q.w, http.StatusOK, res)
}

type completePart struct {
	PartNumber *int    `xml:"PartNumber"` // both required by the schema
	ETag       *string `xml:"ETag"`
	xmlChecksums
}

func (s *Server) completeMultipartUpload(q *request) {
	var opts backends.PutOptions
	if err := writeConditions(q.Header, &opts); err != nil {
		q.fail(err)
		return
	}
	var req struct {
		XMLName xml.Name       `xml:"CompleteMultipartUpload"`
		Parts   []completePart `xml:"Part"`
	}
	// The x-amz-checksum-* headers of a complete are the object's, not
	// the body's.
	data, err := readLimited(q.body.Body, maxXMLBody)
	if err == nil {
		err = decodeXML(data, &req)
	}
	if err != nil {
		q.fail(err)
		return
	}
	if len(req.Parts) == 0 {
		q.fail(s3err.ErrMalformedXML)
		return
	}
	for _, p := range req.Parts {
		if p.PartNumber == nil || p.ETag == nil {
			q.fail(s3err.ErrMalformedXML)
			return
		}
		if *p.PartNumber < 1 {
			q.fail(s3err.ErrInvalidArgument.WithMessage("PartNumber must be >= 1").
				With("ArgumentName", "PartNumber", "ArgumentValue", strconv.Itoa(*p.PartNumber)))
			return
		}
	}
	if err := checkCompleteChecksums(q.Header, req.Parts); err != nil {
		q.fail(err)
		return
	}
	want := make([]gateway.CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		want[i] = gateway.CompletedPart{Number: *p.PartNumber, ETag: *p.ETag}
	}
	up, uploaded, err := s.uploadOf(q)
	if err != nil {
		if !s.completedBefore(q, want, err) {
			q.fail(err)
		}
		return
	}
	parts, err := gateway.SelectParts(uploaded, want)
	if err != nil {
		if !s.completedBefore(q, want, err) {
			q.fail(err)
		}
		return
	}
	meta := up.Meta
	if t := strings.ToUpper(q.Header.Get("x-amz-checksum-type")); t != "" && t != meta.ChecksumType {
		mode := meta.ChecksumType
		if mode == "" {
			mode = "null"
		}
		q.fail(s3err.ErrInvalidRequest.WithMessage("The upload was created using the " + mode + " checksum mode. The complete request must use the same checksum mode."))
		return
	}
	meta.Sys = maps.Clone(meta.Sys)
	if meta.Sys == nil {
		meta.Sys = map[string]string{}
	}
	meta.Sys[sysUpload] = q.query("uploadId")
	meta.ETag = gateway.MultipartETag(parts)
	meta.Parts = parts
	meta.Size = 0
	for _, p := range parts {
		meta.Size += p.Size
	}
	if v := q.Header.Get("x-amz-mp-object-size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			q.fail(s3err.ErrInvalidRequest.WithMessage("Value for x-amz-mp-object-size header is invalid: '" + v + "'"))
			return
		case n < 0:
			q.fail(s3err.ErrInvalidRequest.WithMessage("Value for x-amz-mp-object-size header is less than zero: '" + v + "'"))
			return
		case n != meta.Size:
			q.fail(s3err.ErrInvalidRequest.WithMessage("The provided 'x-amz-mp-object-size' header value " + v +
				" does not match what was computed: " + strconv.FormatInt(meta.Size, 10)))
			return
		}
	}
	if alg := meta.ChecksumAlgorithm; alg != "" {
		sums := make([]string, len(parts))
		sizes := make([]int64, len(parts))
		for i, p := range parts {
			sums[i], sizes[i] = p.Checksums[alg], p.Size
			given := req.Parts[i].get(alg)
			if other := req.Parts[i].algorithm(); other != "" && other != alg {
				// A checksum of another algorithm than the upload's:
				// nothing of it was received.
				q.fail(s3err.ErrBadDigest.WithMessage("The " + strings.ToLower(other) + " you specified for part " +
					strconv.Itoa(p.Number) + " did not match what we received."))
				return
			}
			if given == "" && meta.ChecksumType == "COMPOSITE" {
				// AWS requires them for a composite checksum.
				q.fail(s3err.ErrInvalidRequest.WithMessage("The upload was created using a " + strings.ToLower(alg) +
					" checksum. The complete request must include the checksum for each part. It was missing for part " +
					strconv.Itoa(p.Number) + " in the request."))
				return
			}
			if given != "" && given != sums[i] {
				q.fail(s3err.ErrInvalidPart)
				return
			}
		}
		var v string
		if meta.ChecksumType == "FULL_OBJECT" {
			v, err = checksum.Combine(alg, sums, sizes)
		} else {
			v, err = checksum.Composite(alg, sums)
		}
		if err != nil {
			q.fail(err)
			return
		}
		meta.Checksums = map[string]string{alg: v}
		if given := q.Header.Get("x-amz-checksum-" + strings.ToLower(alg)); given != "" && given != v && given+"-"+strconv.Itoa(len(parts)) != v {
			q.fail(s3err.ErrBadDigest.WithMessage("The " + alg + " you specified did not match the calculated checksum."))
			return
		}
	} else if v, ok := defaultFullChecksum(parts); ok {
		// No algorithm asked for: S3's default, the full-object CRC64NVME,
		// from the parts' (uploaded before Strata computed it: none). The
		// request's own checksum headers do not apply to such an upload.
		meta.Checksums = map[string]string{defaultChecksum: v}
		meta.ChecksumType = "FULL_OBJECT"
		meta.Sys[sysDefaultChecksum] = "1"
	}
	opts.Meta = &meta
	info, err := s.gw.CompleteMultipartUpload(q.ctx(), q.bucket(), q.key(), q.query("uploadId"), partNumbers(parts), opts)
	if err != nil {
		if !s.completedBefore(q, want, err) {
			q.fail(conditionErr(err, opts))
		}
		return
	}
	s.forgetUpload(q)
	writeCompleted(q, info)
}

// defaultFullChecksum combines the default CRC64NVME of every part, when
// all have one.
func defaultFullChecksum(parts []backends.PartInfo) (string, bool) {
	sums := make([]string, len(parts))
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		if sums[i] = p.Checksums[defaultChecksum]; sums[i] == "" {
			return "", false
		}
		sizes[i] = p.Size
	}
	v, err := checksum.Combine(defaultChecksum, sums, sizes)
	return v, err == nil
}

// sysUpload is the Meta.Sys entry that names the multipart upload an
// object was made by.
const sysUpload = gateway.SysS3 + "upload"

// sysDefaultChecksum marks an object whose checksum is the default one its
// multipart upload got at completion (it asked for none): its parts show
// no checksum.
const sysDefaultChecksum = gateway.SysS3 + "default-checksum"

// completedBefore answers a CompleteMultipartUpload that failed because its
// upload is gone (or its parts went while it ran) with the object that
// upload made, when that is still the key's current object and was made of
// the parts asked for now: a client's retry after a lost answer, or a
// request that raced another complete of the same upload. AWS answers
// these with success too. A failed condition (If-None-Match: * finds the
// object that very upload made) is such a retry as well. It reports
// whether it answered.
func (s *Server) completedBefore(q *request, want []gateway.CompletedPart, err error) bool {
	if !backends.Is(err, backends.NoSuchUpload) && !backends.Is(err, backends.InvalidPart) &&
		!backends.Is(err, backends.PreconditionFailed) {
		return false
	}
	info, herr := s.gw.HeadObject(q.ctx(), q.bucket(), q.key())
	if herr != nil || info.Sys[sysUpload] != q.query("uploadId") || len(info.Parts) != len(want) {
		return false
	}
	if _, serr := gateway.SelectParts(info.Parts, want); serr != nil {
		return false
	}
	writeCompleted(q, info)
	return true
}

// writeCompleted writes the answer of a CompleteMultipartUpload that made
// the object info.
func writeCompleted(q *request, info backends.ObjectInfo) {
	setSSEHeaders(q.w.Header(), info.Meta, nil)
	setWrittenVersionID(q.w.Header(), info.VersionID)
	type result struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
		xmlChecksums
	}
	res := result{NS: s3NS, Location: objectURL(q.Request, q.bucket(), q.key()), Bucket: q.bucket(), Key: q.key(), ETag: quote(info.ETag)}
	res.set(info.Checksums, info.ChecksumType)
	writeXML(q.w, http.StatusOK, res)
}

// xmlChecksums are the checksum elements of S3's results (objects, parts,
// copies, completed uploads), each there when the object has it.
type xmlChecksums struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumSHA512    string `xml:"ChecksumSHA512,omitempty"`
	ChecksumMD5       string `xml:"ChecksumMD5,omitempty"`
	ChecksumXXHASH64  string `xml:"ChecksumXXHASH64,omitempty"`
	ChecksumXXHASH3   string `xml:"ChecksumXXHASH3,omitempty"`
	ChecksumXXHASH128 string `xml:"ChecksumXXHASH128,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

// field is the element of algorithm alg, nil for an unknown one.
func (c *xmlChecksums) field(alg string) *string {
	switch alg {
	case checksum.CRC32:
		return &c.ChecksumCRC32
	case checksum.CRC32C:
		return &c.ChecksumCRC32C
	case checksum.CRC64NVME:
		return &c.ChecksumCRC64NVME
	case checksum.SHA1:
		return &c.ChecksumSHA1
	case checksum.SHA256:
		return &c.ChecksumSHA256
	case checksum.SHA512:
		return &c.ChecksumSHA512
	case checksum.MD5:
		return &c.ChecksumMD5
	case checksum.XXHASH64:
		return &c.ChecksumXXHASH64
	case checksum.XXHASH3:
		return &c.ChecksumXXHASH3
	case checksum.XXHASH128:
		return &c.ChecksumXXHASH128
	}
	return nil
}

// algorithm is the algorithm of the one checksum element set ("" if none).
func (c *xmlChecksums) algorithm() string {
	for _, alg := range checksum.Algorithms {
		if c.get(alg) != "" {
			return alg
		}
	}
	return ""
}

// checkCompleteChecksums checks the checksum headers and the part
// checksums of a CompleteMultipartUpload before anything is looked up, as
// S3 does: a checksum type other than COMPOSITE or FULL_OBJECT, two
// checksum headers or a malformed one are InvalidRequest; a part with two
// checksums or a malformed one is InvalidArgument.
func checkCompleteChecksums(h http.Header, parts []completePart) error {
	if t := strings.ToUpper(h.Get("x-amz-checksum-type")); t != "" && t != "COMPOSITE" && t != "FULL_OBJECT" {
		return s3err.ErrInvalidRequest.WithMessage("Value for x-amz-checksum-type header is invalid.")
	}
	if _, _, err := checksum.FromCompleteHeaders(h); err != nil {
		return err
	}
	for _, p := range parts {
		var given []string
		valid := true
		for _, alg := range checksum.Algorithms {
			if v := p.get(alg); v != "" {
				given = append(given, alg+":"+v+";")
				valid = valid && checksum.Valid(alg, v)
			}
		}
		if len(given) > 1 || !valid {
			value := strings.Join(given, "")
			if len(given) == 1 {
				value = p.get(p.algorithm())
			}
			return s3err.ErrInvalidArgument.WithMessage("Invalid Base64 or multiple checksums present in request").
				With("ArgumentName", "Checksum", "ArgumentValue", value)
		}
	}
	return nil
}

func (c *xmlChecksums) get(alg string) string {
	if f := c.field(alg); f != nil {
		return *f
	}
	return ""
}

// set fills the elements from an object's checksums; typ goes with them.
func (c *xmlChecksums) set(sums map[string]string, typ string) {
	for alg, v := range sums {
		if f := c.field(alg); f != nil {
			*f = v
		}
	}
	if len(sums) > 0 {
		c.ChecksumType = typ
	}
}

func partNumbers(parts []backends.PartInfo) []int {
	out := make([]int, len(parts))
	for i, p := range parts {
		out[i] = p.Number
	}
	return out
}

func (s *Server) abortMultipartUpload(q *request) {
	if err := s.gw.AbortMultipartUpload(q.ctx(), q.bucket(), q.key(), q.query("uploadId")); err != nil {
		q.fail(err)
		return
	}
	s.forgetUpload(q)
	q.w.WriteHeader(http.StatusNoContent)
}

// intParam parses a non-negative integer query parameter with a default and
// a cap.
func intParam(q *request, name string, def, max int) (int, error) {
	v := q.query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s3err.ErrInvalidArgument.WithMessage("Provided " + name + " not an integer or within integer range")
	}
	if n > max {
		n = max
	}
	return n, nil
}

func (s *Server) listParts(q *request) {
	maxParts, err := intParam(q, "max-parts", 1000, 1000)
	if err != nil {
		q.fail(err)
		return
	}
	marker, err := intParam(q, "part-number-marker", 0, 1<<30)
	if err != nil {
		q.fail(err)
		return
	}
	up, parts, err := s.uploadOf(q)
	if err != nil {
		q.fail(err)
		return
	}
	type part struct {
		PartNumber   int    `xml:"PartNumber"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		xmlChecksums
	}
	type result struct {
		XMLName              xml.Name `xml:"ListPartsResult"`
		NS                   string   `xml:"xmlns,attr"`
		Bucket               string   `xml:"Bucket"`
		Key                  string   `xml:"Key"`
		UploadID             string   `xml:"UploadId"`
		Initiator            owner    `xml:"Initiator"`
		Owner                owner    `xml:"Owner"`
		StorageClass         string   `xml:"StorageClass"`
		PartNumberMarker     int      `xml:"PartNumberMarker"`
		NextPartNumberMarker int      `xml:"NextPartNumberMarker"`
		MaxParts             int      `xml:"MaxParts"`
		IsTruncated          bool     `xml:"IsTruncated"`
		ChecksumAlgorithm    string   `xml:"ChecksumAlgorithm,omitempty"`
		ChecksumType         string   `xml:"ChecksumType,omitempty"`
		Parts                []part   `xml:"Part"`
	}
	o := s.owner(q.info.AccessKey)
	res := result{NS: s3NS, Bucket: q.bucket(), Key: q.key(), UploadID: q.query("uploadId"),
		Initiator: o, Owner: o, StorageClass: storageClass(up.Meta.StorageClass),
		PartNumberMarker: marker, MaxParts: maxParts,
		ChecksumAlgorithm: up.Meta.ChecksumAlgorithm, ChecksumType: up.Meta.ChecksumType}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		pp := part{PartNumber: p.Number, LastModified: s3Time(p.ModTime), ETag: quote(p.ETag), Size: p.Size}
		pp.set(p.Checksums, "")
		res.Parts = append(res.Parts, pp)
		res.NextPartNumberMarker = p.Number
	}
	writeXML(q.w, http.StatusOK, res)
}

func storageClass(sc string) string {
	if sc == "" {
		return "STANDARD"
	}
	return sc
}

func (s *Server) listMultipartUploads(q *request) {
	maxUploads, err := intParam(q, "max-uploads", 1000, 1000)
	if err != nil {
		q.fail(err)
		return
	}
	enc, encName, err := encodingType(q)
	if err != nil {
		q.fail(err)
		return
	}
	prefix, delim := q.query("prefix"), q.query("delimiter")
	keyMarker, idMarker := q.query("key-marker"), q.query("upload-id-marker")
	uploads, err := s.gw.ListMultipartUploads(q.ctx(), q.bucket(), prefix)
	if err != nil {
		q.fail(err)
		return
	}
	// By key, and the uploads of a key by the time they began (as AWS).
	sort.Slice(uploads, func(i, j int) bool {
		a, b := uploads[i], uploads[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if !a.Initiated.Equal(b.Initiated) {
			return a.Initiated.Before(b.Initiated)
		}
		return a.UploadID < b.UploadID
	})
	// The uploads of key-marker after upload-id-marker: those that come
	// after it in that order, or, for an ID that is not one of them,
	// those with greater IDs (AWS's documented rule).
	markerAt := -1
	if keyMarker != "" && idMarker != "" {
		markerAt = slices.IndexFunc(uploads, func(u backends.Upload) bool { return u.Key == keyMarker && u.UploadID == idMarker })
	}
	type upload struct {
		Key               string `xml:"Key"`
		UploadID          string `xml:"UploadId"`
		Initiator         owner  `xml:"Initiator"`
		Owner             owner  `xml:"Owner"`
		StorageClass      string `xml:"StorageClass"`
		Initiated         string `xml:"Initiated"`
		ChecksumAlgorithm string `xml:"ChecksumAlgorithm,omitempty"`
		ChecksumType      string `xml:"ChecksumType,omitempty"`
	}
	type prefixEntry struct {
		Prefix string `xml:"Prefix"`
	}
	type result struct {
		XMLName            xml.Name      `xml:"ListMultipartUploadsResult"`
		NS                 string        `xml:"xmlns,attr"`
		Bucket             string        `xml:"Bucket"`
		KeyMarker          string        `xml:"KeyMarker"`
		UploadIDMarker     string        `xml:"UploadIdMarker"`
		NextKeyMarker      string        `xml:"NextKeyMarker"`
		NextUploadIDMarker string        `xml:"NextUploadIdMarker"`
		Delimiter          string        `xml:"Delimiter,omitempty"`
		Prefix             string        `xml:"Prefix"`
		EncodingType       string        `xml:"EncodingType,omitempty"`
		MaxUploads         int           `xml:"MaxUploads"`
		IsTruncated        bool          `xml:"IsTruncated"`
		Uploads            []upload      `xml:"Upload"`
		CommonPrefixes     []prefixEntry `xml:"CommonPrefixes"`
	}
	o := s.owner(q.info.AccessKey)
	res := result{NS: s3NS, Bucket: q.bucket(), KeyMarker: enc(keyMarker), UploadIDMarker: idMarker,
		Delimiter: enc(delim), Prefix: enc(prefix), EncodingType: encName, MaxUploads: maxUploads}
	seen := map[string]bool{}
	count := 0
	for i, u := range uploads {
		if keyMarker != "" {
			if u.Key < keyMarker {
				continue
			}
			if u.Key == keyMarker && (idMarker == "" || markerAt >= 0 && i <= markerAt || markerAt < 0 && u.UploadID <= idMarker) {
				continue
			}
		}
		if delim != "" {
			if i := strings.Index(u.Key[len(prefix):], delim); i >= 0 {
				cp := u.Key[:len(prefix)+i+len(delim)]
				if seen[cp] || (keyMarker != "" && cp <= keyMarker) {
					continue
				}
				if count == maxUploads {
					res.IsTruncated = true
					break
				}
				seen[cp] = true
				res.CommonPrefixes = append(res.CommonPrefixes, prefixEntry{enc(cp)})
				res.NextKeyMarker, res.NextUploadIDMarker = enc(cp), ""
				count++
				continue
			}
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, upload{Key: enc(u.Key), UploadID: u.UploadID, Initiator: o, Owner: o,
			StorageClass: storageClass(u.Meta.StorageClass), Initiated: s3Time(u.Initiated),
			ChecksumAlgorithm: u.Meta.ChecksumAlgorithm, ChecksumType: u.Meta.ChecksumType})
		res.NextKeyMarker, res.NextUploadIDMarker = enc(u.Key), u.UploadID
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	writeXML(q.w, http.StatusOK, res)
}
