package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/backends"
)

// Strata's place in a remote bucket.
const (
	// sysPrefix holds Strata's own objects; listings never show it.
	sysPrefix = ".strata.sys/"
	// configPrefix holds bucket documents: .strata.sys/config/<name>.
	configPrefix = sysPrefix + "config/"
	// metaPrefix holds the metadata that did not fit in an object's
	// reserved entry: .strata.sys/meta/<sha256 of the key>.
	metaPrefix = sysPrefix + "meta/"
	// uploadPrefix holds a record per multipart upload:
	// .strata.sys/uploads/<sha256 of the upload ID>.
	uploadPrefix = sysPrefix + "uploads/"

	// sysKey is the user-metadata name of the reserved entry
	// (x-amz-meta-strata).
	sysKey = "strata"
	// maxUserMeta is S3's limit on user metadata: names and values of
	// the x-amz-meta-* headers together, in bytes.
	maxUserMeta = 2 << 10
	// sysVersion is the version of the reserved entry and the records.
	sysVersion = 1
)

// sysMeta is the reserved entry (compact JSON in x-amz-meta-strata), and
// also the body of a metadata record under metaPrefix. Fields are short:
// they count against the 2 KiB limit.
type sysMeta struct {
	V int `json:"v"`
	// X names the record that holds the rest (a random nonce; the record
	// holds the same X, which proves that it belongs to this version of
	// the object and not to an earlier one under the same key).
	X            string            `json:"x,omitempty"`
	Checksums    map[string]string `json:"cks,omitempty"`
	ChecksumType string            `json:"ckt,omitempty"`
	Parts        []sysPart         `json:"p,omitempty"`
	// User holds user metadata that cannot be a header of its own: names
	// that are not HTTP tokens, the name "strata", entries beyond the
	// size limit.
	User map[string]string `json:"u,omitempty"`
	// PartSize is set when the service's object is made of parts that
	// Parts does not list (a large PUT, sent in parts): all of this size
	// but the last. A copy onto itself along them keeps the ETag.
	PartSize int64 `json:"ps,omitempty"`
	// Sys is Meta.Sys, the data services' metadata.
	Sys map[string]string `json:"s,omitempty"`
}

type sysPart struct {
	N int               `json:"n"`
	S int64             `json:"s"`
	E string            `json:"e"`
	C map[string]string `json:"c,omitempty"`
	Y map[string]string `json:"y,omitempty"` // PartInfo.Sys
}

func (s *sysMeta) empty() bool {
	return s.X == "" && len(s.Checksums) == 0 && s.ChecksumType == "" && len(s.Parts) == 0 && len(s.User) == 0 &&
		s.PartSize == 0 && len(s.Sys) == 0
}

func (s *sysMeta) encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apply copies the extras of s into m.
func (s *sysMeta) apply(m *backends.Meta) {
	if len(s.Checksums) > 0 {
		m.Checksums = s.Checksums
	}
	if s.ChecksumType != "" {
		m.ChecksumType = s.ChecksumType
	}
	if len(s.Parts) > 0 {
		m.Parts = make([]backends.PartInfo, len(s.Parts))
		for i, p := range s.Parts {
			m.Parts[i] = backends.PartInfo{Number: p.N, Size: p.S, ETag: p.E, ModTime: m.ModTime, Checksums: p.C, Sys: p.Y}
		}
	}
	if len(s.Sys) > 0 {
		m.Sys = s.Sys
	}
	if len(s.User) > 0 {
		if m.User == nil {
			m.User = map[string]string{}
		}
		maps.Copy(m.User, s.User)
	}
}

func partsOf(m *backends.Meta) []sysPart {
	if len(m.Parts) == 0 {
		return nil
	}
	out := make([]sysPart, len(m.Parts))
	for i, p := range m.Parts {
		out[i] = sysPart{N: p.Number, S: p.Size, E: p.ETag, C: p.Checksums, Y: p.Sys}
	}
	return out
}

// header is how an object's metadata goes to S3.
type header struct {
	ContentType, ContentEncoding, ContentDisposition string
	ContentLanguage, CacheControl, Expires           string
	StorageClass                                     string
	// Metadata is x-amz-meta-*, values RFC 2047-encoded where needed,
	// the reserved entry included.
	Metadata map[string]string
	// Tagging is the x-amz-tagging value.
	Tagging string
	// Record is the metadata record to write first, if any.
	Record *sysMeta
	// meta is what h was made from (the record of an upload).
	meta backends.Meta
}

// encodeMeta splits m into what S3 stores natively and the reserved
// entry. With sidecar, the extras always go into a record (their values
// are not known yet: multipart uploads). partSize is sysMeta.PartSize.
func encodeMeta(key string, m *backends.Meta, sidecar bool, partSize int64) header {
	h := header{
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
		Expires:            m.Expires,
		StorageClass:       m.StorageClass,
		Metadata:           map[string]string{},
		Tagging:            encodeTags(m.Tags),
		meta:               *m,
	}
	extra := sysMeta{V: sysVersion, Checksums: m.Checksums, ChecksumType: m.ChecksumType, Parts: partsOf(m), PartSize: partSize, Sys: m.Sys}
	size := 0
	for _, k := range slices.Sorted(maps.Keys(m.User)) {
		v := m.User[k]
		if k == sysKey || !isToken(k) {
			if extra.User == nil {
				extra.User = map[string]string{}
			}
			extra.User[k] = v
			continue
		}
		ev := encodeValue(v)
		h.Metadata[k] = ev
		size += len(k) + len(ev)
	}
	if !sidecar {
		if extra.empty() {
			if size <= maxUserMeta {
				return h
			}
		} else if js := extra.encode(); size+len(sysKey)+len(js) <= maxUserMeta {
			h.Metadata[sysKey] = js
			return h
		}
	}
	// The extras go to a record; the entry points to it. Native entries
	// that do not fit beside the entry move to the record too, largest
	// first.
	ref := sysMeta{V: sysVersion, X: newNonce()}
	refJS := ref.encode()
	for size+len(sysKey)+len(refJS) > maxUserMeta {
		big, bigSize := "", -1
		for k, v := range h.Metadata {
			if n := len(k) + len(v); n > bigSize || n == bigSize && k < big {
				big, bigSize = k, n
			}
		}
		if extra.User == nil {
			extra.User = map[string]string{}
		}
		extra.User[big] = m.User[big]
		delete(h.Metadata, big)
		size -= bigSize
	}
	h.Metadata[sysKey] = refJS
	extra.X = ref.X
	h.Record = &extra
	return h
}

// nativeEqual reports whether a and b store the same natively, apart from
// tags: then a change of tags alone needs no copy.
func nativeEqual(a, b *backends.Meta) bool {
	return a.ContentType == b.ContentType && a.ContentEncoding == b.ContentEncoding &&
		a.ContentDisposition == b.ContentDisposition && a.ContentLanguage == b.ContentLanguage &&
		a.CacheControl == b.CacheControl && a.Expires == b.Expires && a.StorageClass == b.StorageClass &&
		mapsEqual(a.User, b.User) && mapsEqual(a.Checksums, b.Checksums) && a.ChecksumType == b.ChecksumType &&
		mapsEqual(a.Sys, b.Sys) &&
		slices.EqualFunc(a.Parts, b.Parts, func(x, y backends.PartInfo) bool {
			return x.Number == y.Number && x.Size == y.Size && x.ETag == y.ETag && mapsEqual(x.Checksums, y.Checksums) &&
				mapsEqual(x.Sys, y.Sys)
		})
}

func mapsEqual(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 || maps.Equal(a, b) }

func newNonce() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// isToken reports whether s can be the rest of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			// Upper case too: names are lower case, and S3 would
			// change them.
			return false
		}
	}
	return true
}

// encodeValue makes a user-metadata value safe for a header, as S3 itself
// does on output: RFC 2047 for anything but printable ASCII.
func encodeValue(v string) string {
	printable := true
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			printable = false
			break
		}
	}
	if !printable {
		if e := mime.BEncoding.Encode("UTF-8", v); e != v {
			return e
		}
	}
	switch {
	case !printable || v != strings.TrimSpace(v) || strings.Contains(v, "=?"):
		// Tabs (which the mime package leaves) and spaces at the ends
		// would be lost, and what looks like an encoded word would be
		// decoded on the way back.
		return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
	}
	return v
}

func decodeValue(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// encodeTags is the x-amz-tagging value of tags (URL query form, %20 for
// spaces, as S3 documents it).
func encodeTags(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if sb.Len() > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(esc(k))
		sb.WriteByte('=')
		sb.WriteString(esc(tags[k]))
	}
	return sb.String()
}

func tagSet(tags map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// remoteMeta is what a HEAD or GET answer says of an object.
type remoteMeta struct {
	size                                             int64
	etag                                             string
	modTime                                          time.Time
	contentType, contentEncoding, contentDisposition string
	contentLanguage, cacheControl, expires           string
	storageClass                                     types.StorageClass
	metadata                                         map[string]string
	tagCount                                         int32
}

// decode turns what S3 said into Meta, with the reserved entry parsed. It
// returns the entry (nil if there is none).
func (r *remoteMeta) decode() (backends.Meta, *sysMeta) {
	m := backends.Meta{
		Size:               r.size,
		ETag:               cleanETag(r.etag),
		ModTime:            r.modTime,
		ContentType:        r.contentType,
		ContentEncoding:    r.contentEncoding,
		ContentDisposition: r.contentDisposition,
		ContentLanguage:    r.contentLanguage,
		CacheControl:       r.cacheControl,
		Expires:            r.expires,
		StorageClass:       storageClass(r.storageClass),
	}
	var sys *sysMeta
	for k, v := range r.metadata {
		k = strings.ToLower(k)
		if k == sysKey {
			var s sysMeta
			if json.Unmarshal([]byte(v), &s) == nil && s.V == sysVersion {
				sys = &s
				continue
			}
		}
		if m.User == nil {
			m.User = map[string]string{}
		}
		m.User[k] = decodeValue(v)
	}
	if sys != nil {
		sys.apply(&m)
	}
	return m, sys
}

func storageClass(sc types.StorageClass) string {
	if sc == "" || sc == types.StorageClassStandard {
		return ""
	}
	return string(sc)
}

func cleanETag(e string) string { return strings.Trim(e, `"`) }

func quoteETag(e string) *string { return aws.String(`"` + cleanETag(e) + `"`) }

// modTime is how every answer gives times: S3's Last-Modified has whole
// seconds, listings may have milliseconds.
func modTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Truncate(time.Second).UTC()
}

func headRemote(out *s3sdk.HeadObjectOutput) remoteMeta {
	r := remoteMeta{
		size:               aws.ToInt64(out.ContentLength),
		etag:               aws.ToString(out.ETag),
		modTime:            modTime(out.LastModified),
		contentType:        aws.ToString(out.ContentType),
		contentEncoding:    aws.ToString(out.ContentEncoding),
		contentDisposition: aws.ToString(out.ContentDisposition),
		contentLanguage:    aws.ToString(out.ContentLanguage),
		cacheControl:       aws.ToString(out.CacheControl),
		expires:            aws.ToString(out.ExpiresString),
		storageClass:       out.StorageClass,
		metadata:           out.Metadata,
		tagCount:           aws.ToInt32(out.TagCount),
	}
	return r
}

func getRemote(out *s3sdk.GetObjectOutput) remoteMeta {
	r := remoteMeta{
		size:               aws.ToInt64(out.ContentLength),
		etag:               aws.ToString(out.ETag),
		modTime:            modTime(out.LastModified),
		contentType:        aws.ToString(out.ContentType),
		contentEncoding:    aws.ToString(out.ContentEncoding),
		contentDisposition: aws.ToString(out.ContentDisposition),
		contentLanguage:    aws.ToString(out.ContentLanguage),
		cacheControl:       aws.ToString(out.CacheControl),
		expires:            aws.ToString(out.ExpiresString),
		storageClass:       out.StorageClass,
		metadata:           out.Metadata,
		tagCount:           aws.ToInt32(out.TagCount),
	}
	return r
}

// complete fills in what a HEAD or GET does not carry: tags (when the
// object has any), and the extras of a record. It returns the part size of
// sysMeta too.
func (b *Backend) complete(ctx context.Context, bucket, key string, r *remoteMeta) (backends.Meta, int64, error) {
	m, sys := r.decode()
	var ps int64
	if sys != nil {
		ps = sys.PartSize
	}
	if r.tagCount > 0 {
		tags, err := b.getTags(ctx, bucket, key)
		switch {
		case backends.Is(err, backends.AccessDenied):
			// Credentials that may read objects but not their
			// tags: the object without them, rather than no object.
		case err != nil:
			return m, 0, err
		default:
			m.Tags = tags
		}
	}
	if sys != nil && sys.X != "" {
		rec, err := b.readRecord(ctx, bucket, key, sys.X)
		if err != nil {
			return m, 0, err
		}
		if rec != nil {
			rec.apply(&m)
			ps = rec.PartSize
		}
	}
	return m, ps, nil
}

func (b *Backend) getTags(ctx context.Context, bucket, key string) (map[string]string, error) {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	out, err := b.client.GetObjectTagging(ctx, &s3sdk.GetObjectTaggingInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, mapErr(err, "get tags of "+key)
	}
	if len(out.TagSet) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

func recordKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return metaPrefix + hex.EncodeToString(s[:])
}

// record is the body of .strata.sys/meta/<sha256 of key>: the extras of
// the latest few writes of the key, newest first. The object names its
// entry by nonce. An entry is added before the object is written, so that
// the object never lacks its entry; a write that then fails leaves an
// entry no object names, and the entry of the object that is there stays.
// Two writers racing on one key may drop each other's entry: the object
// then lacks its extras (checksums, part list), and is otherwise whole.
type record struct {
	V       int       `json:"v"`
	Key     string    `json:"k"`
	Entries []sysMeta `json:"e"`
}

// recordEntries is how many writes a record remembers.
const recordEntries = 4

func (b *Backend) loadRecord(ctx context.Context, bucket, key string) (*record, error) {
	r, _, err := b.loadRecordTag(ctx, bucket, key)
	return r, err
}

// loadRecordTag is loadRecord with the ETag of the record object ("" when
// there is none).
func (b *Backend) loadRecordTag(ctx context.Context, bucket, key string) (*record, string, error) {
	data, etag, err := b.getSmallTag(ctx, bucket, recordKey(key))
	if err != nil || data == nil {
		return nil, "", err
	}
	var r record
	if json.Unmarshal(data, &r) != nil || r.V != sysVersion || r.Key != key {
		return nil, etag, nil
	}
	return &r, etag, nil
}

// readRecord returns the entry x of key's record; nil if there is none.
func (b *Backend) readRecord(ctx context.Context, bucket, key, x string) (*sysMeta, error) {
	r, err := b.loadRecord(ctx, bucket, key)
	if err != nil || r == nil {
		return nil, err
	}
	for i := range r.Entries {
		if r.Entries[i].X == x {
			return &r.Entries[i], nil
		}
	}
	return nil, nil
}

// writeRecord adds s (with its X set) to key's record. Where the service
// takes conditional writes, the record is replaced only if it is still the
// one read (else read again and retried), so that two writers of one key
// never drop each other's entry: an object always finds its own.
func (b *Backend) writeRecord(ctx context.Context, bucket, key string, s *sysMeta) error {
	for try := 0; ; try++ {
		r, etag, err := b.loadRecordTag(ctx, bucket, key)
		if err != nil {
			return err
		}
		if r == nil {
			r = &record{V: sysVersion, Key: key}
		}
		e := *s
		entries := []sysMeta{e}
		for _, old := range r.Entries {
			if old.X != e.X && len(entries) < recordEntries {
				entries = append(entries, old)
			}
		}
		r.Entries = entries
		data, _ := json.Marshal(r)
		var cond func(*s3sdk.PutObjectInput)
		if b.cfg.ConditionalWrites == "native" {
			cond = func(in *s3sdk.PutObjectInput) {
				if etag == "" {
					in.IfNoneMatch = aws.String("*")
				} else {
					in.IfMatch = quoteETag(etag)
				}
			}
		}
		err = b.putSmallIf(ctx, bucket, recordKey(key), data, cond)
		if !backends.Is(err, backends.PreconditionFailed) || try >= 9 {
			return err
		}
		// Another writer of the key was first: add to its record.
		time.Sleep(time.Duration(try+1) * 5 * time.Millisecond)
	}
}

// maxSmall bounds Strata's own documents (bucket configurations, records).
const maxSmall = 16 << 20

// getSmall reads one of Strata's own objects; nil, nil if it is missing.
func (b *Backend) getSmall(ctx context.Context, bucket, key string) ([]byte, error) {
	data, _, err := b.getSmallTag(ctx, bucket, key)
	return data, err
}

// getSmallTag is getSmall with the object's ETag.
func (b *Backend) getSmallTag(ctx context.Context, bucket, key string) ([]byte, string, error) {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	out, err := b.client.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		if k, _ := errKind(err); k == backends.NoSuchKey {
			return nil, "", nil
		}
		return nil, "", mapErr(err, "read "+key)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxSmall+1))
	if err != nil {
		return nil, "", mapErr(err, "read "+key)
	}
	if len(data) > maxSmall {
		return nil, "", backends.Errorf(backends.Internal, "s3: %s is larger than %d bytes", key, maxSmall)
	}
	return data, cleanETag(aws.ToString(out.ETag)), nil
}

func (b *Backend) putSmall(ctx context.Context, bucket, key string, data []byte) error {
	return b.putSmallIf(ctx, bucket, key, data, nil)
}

// putSmallIf is putSmall with conditions set by cond (nil: none).
func (b *Backend) putSmallIf(ctx context.Context, bucket, key string, data []byte, cond func(*s3sdk.PutObjectInput)) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	in := &s3sdk.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json"),
	}
	if cond != nil {
		cond(in)
	}
	_, err := b.client.PutObject(ctx, in)
	return mapErr(err, "write "+key)
}

func (b *Backend) deleteSmall(ctx context.Context, bucket, key string) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	_, err := b.client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &bucket, Key: &key})
	if k, _ := errKind(err); err != nil && k == backends.NoSuchKey {
		return nil
	}
	return mapErr(err, "delete "+key)
}

// withExpires sends the Expires header as given: the SDK's typed field
// would reformat it, or refuse a value that is not a date.
func withExpires(v string) func(*s3sdk.Options) {
	return func(o *s3sdk.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("Expires", v))
	}
}

// optFns returns the per-request options for h.
func (h *header) optFns() []func(*s3sdk.Options) {
	if h.Expires == "" {
		return nil
	}
	return []func(*s3sdk.Options){withExpires(h.Expires)}
}

// responseDate is the Date of a raw answer, the time of an object when
// asking the service is not possible.
func responseDate(md middleware.Metadata) time.Time {
	if r, ok := awsRawResponse(md); ok {
		if t, err := time.Parse(time.RFC1123, r.Header.Get("Date")); err == nil {
			return t.UTC()
		}
	}
	return time.Now().Truncate(time.Second).UTC()
}

func awsRawResponse(md middleware.Metadata) (*smithyhttp.Response, bool) {
	r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	return r, ok && r != nil
}
