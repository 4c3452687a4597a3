package gcs

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"

	"github.com/strata-storage/strata/backends"
)

// An object's metadata on GCS:
//
//   - Content-Type, -Encoding, -Disposition, -Language and Cache-Control are
//     the object's own GCS attributes;
//   - user metadata is GCS custom metadata under its own (lower-case) name; a
//     name that starts with "x-strata-" is stored as "x-strata-u-" + name;
//   - everything else Strata keeps (S3 ETag, Expires, tags, checksums,
//     parts, storage class, a modification time set by UpdateMeta, the data
//     services' Sys) is one compact JSON document, sysMeta, in the custom
//     metadata key "x-strata-meta".
//
// GCS allows 8 KiB of custom metadata per object. When sysMeta does not fit,
// its heavy fields (tags, checksums, parts) move to a sidecar object
// .strata.sys/meta/<id>, written before the object is published and named
// in the inline document, which keeps the ETag, the time, the class and,
// when it fits, Sys, so listings need no sidecar. A Sys that does not fit
// beside the user metadata goes to the sidecar too (SysOut), which a
// listing then reads for that object.
//
// Objects that Strata did not write have no sysMeta: their ETag is the hex
// MD5 that GCS keeps, or, for composite objects (which have no MD5), a value
// derived from the generation, size and CRC32C, shaped like a multipart ETag
// ("<hex>-<components>") so that clients do not take it for an MD5.

const (
	metaKey      = "x-strata-meta"
	uploadKey    = "x-strata-upload"
	reservedName = "x-strata-"
	escapedName  = "x-strata-u-"
	metaVersion  = 1
	// maxCustomMeta is GCS's limit on the total size of an object's custom
	// metadata names and values.
	maxCustomMeta = 8 << 10
)

type sysMeta struct {
	V       int                 `json:"v"`
	ETag    string              `json:"e,omitempty"`
	MTime   *time.Time          `json:"mt,omitempty"` // absent: the generation's creation time
	Class   string              `json:"sc,omitempty"`
	Expires string              `json:"x,omitempty"`
	Tags    map[string]string   `json:"t,omitempty"`
	Cks     map[string]string   `json:"ck,omitempty"`
	CkType  string              `json:"ckt,omitempty"`
	CkAlg   string              `json:"cka,omitempty"`
	Parts   []backends.PartInfo `json:"p,omitempty"`
	// Empty lists user metadata names whose value is empty, in case
	// GCS drops such entries.
	Empty []string `json:"ue,omitempty"`
	// Sys is Meta.Sys.
	Sys map[string]string `json:"y,omitempty"`
	// Ref names the sidecar (under .strata.sys/meta/) that holds the
	// fields above that did not fit; SysOut tells that Sys is among them.
	Ref    string `json:"ref,omitempty"`
	SysOut bool   `json:"yo,omitempty"`
}

// encodedMeta is an object's metadata made ready for GCS.
type encodedMeta struct {
	attrs    storage.ObjectAttrs // content headers and custom metadata
	side     []byte              // sidecar content, when needed
	sideName string
}

// encodeMeta returns the GCS attributes that hold m. mtime, when non-nil, is
// stored as the modification time; otherwise the time of the generation is.
func encodeMeta(m *backends.Meta, mtime *time.Time) (encodedMeta, error) {
	var e encodedMeta
	if m == nil {
		m = &backends.Meta{}
	}
	e.attrs = storage.ObjectAttrs{
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
		Metadata:           make(map[string]string, len(m.User)+1),
	}
	sm := sysMeta{V: metaVersion, ETag: m.ETag, MTime: mtime, Class: m.StorageClass, Expires: m.Expires,
		Tags: m.Tags, Cks: m.Checksums, CkType: m.ChecksumType, CkAlg: m.ChecksumAlgorithm, Parts: m.Parts, Sys: m.Sys}
	size := 0
	for k, v := range m.User {
		name := k
		if strings.HasPrefix(k, reservedName) {
			name = escapedName + k
		}
		e.attrs.Metadata[name] = v
		size += len(name) + len(v)
		if v == "" {
			sm.Empty = append(sm.Empty, k)
		}
	}
	doc, err := json.Marshal(sm)
	if err != nil {
		return e, err
	}
	if size+len(metaKey)+len(doc) > maxCustomMeta {
		e.side = doc
		e.sideName = sidePrefix + newID()
		inline := sysMeta{V: metaVersion, ETag: m.ETag, MTime: mtime, Class: m.StorageClass, Empty: sm.Empty,
			Ref: strings.TrimPrefix(e.sideName, sidePrefix), Sys: m.Sys}
		if doc, err = json.Marshal(inline); err != nil {
			return e, err
		}
		if size+len(metaKey)+len(doc) > maxCustomMeta && len(m.Sys) > 0 {
			inline.Sys, inline.SysOut = nil, true
			if doc, err = json.Marshal(inline); err != nil {
				return e, err
			}
		}
		if size+len(metaKey)+len(doc) > maxCustomMeta {
			return e, backends.Errorf(backends.InvalidArgument,
				"gcs: user metadata of %d bytes is more than GCS's %d bytes of custom metadata can hold", size, maxCustomMeta)
		}
	}
	e.attrs.Metadata[metaKey] = string(doc)
	return e, nil
}

// decodeMeta returns the metadata of an object from its attributes, and the
// sidecar that holds the rest, if any.
func decodeMeta(a *storage.ObjectAttrs) (backends.Meta, string) {
	m := backends.Meta{
		Size:               a.Size,
		ModTime:            a.Created,
		ContentType:        a.ContentType,
		ContentEncoding:    a.ContentEncoding,
		ContentDisposition: a.ContentDisposition,
		ContentLanguage:    a.ContentLanguage,
		CacheControl:       a.CacheControl,
	}
	var sm sysMeta
	strata := false
	for k, v := range a.Metadata {
		switch {
		case k == metaKey:
			strata = json.Unmarshal([]byte(v), &sm) == nil && sm.V > 0
		case strings.HasPrefix(k, escapedName):
			setUser(&m, k[len(escapedName):], v)
		case strings.HasPrefix(k, reservedName):
			// Strata's own.
		default:
			setUser(&m, strings.ToLower(k), v)
		}
	}
	if !strata {
		m.ETag = foreignETag(a)
		return m, ""
	}
	for _, k := range sm.Empty {
		setUser(&m, k, "")
	}
	applySys(&m, &sm)
	if m.ETag == "" {
		m.ETag = foreignETag(a)
	}
	return m, sm.Ref
}

func setUser(m *backends.Meta, k, v string) {
	if m.User == nil {
		m.User = map[string]string{}
	}
	m.User[k] = v
}

// applySys copies the fields of sm into m.
func applySys(m *backends.Meta, sm *sysMeta) {
	if sm.ETag != "" {
		m.ETag = sm.ETag
	}
	if sm.MTime != nil {
		m.ModTime = *sm.MTime
	}
	if sm.Class != "" {
		m.StorageClass = sm.Class
	}
	if sm.Expires != "" {
		m.Expires = sm.Expires
	}
	if sm.Tags != nil {
		m.Tags = sm.Tags
	}
	if sm.Cks != nil {
		m.Checksums = sm.Cks
	}
	if sm.CkType != "" {
		m.ChecksumType = sm.CkType
	}
	if sm.CkAlg != "" {
		m.ChecksumAlgorithm = sm.CkAlg
	}
	if sm.Parts != nil {
		m.Parts = sm.Parts
	}
	if sm.Sys != nil {
		m.Sys = sm.Sys
	}
}

// sysOut reports whether the Sys of the object with attributes a is in its
// sidecar only.
func sysOut(a *storage.ObjectAttrs) bool {
	var sm sysMeta
	return json.Unmarshal([]byte(a.Metadata[metaKey]), &sm) == nil && sm.SysOut
}

// foreignETag is the ETag of an object that Strata did not write.
func foreignETag(a *storage.ObjectAttrs) string {
	if len(a.MD5) == md5.Size {
		return hex.EncodeToString(a.MD5)
	}
	// A composite object: a stable value for this generation.
	var p [24]byte
	binary.BigEndian.PutUint64(p[0:], uint64(a.Generation))
	binary.BigEndian.PutUint64(p[8:], uint64(a.Size))
	binary.BigEndian.PutUint32(p[16:], a.CRC32C)
	sum := md5.Sum(p[:])
	n := a.ComponentCount
	if n < 1 {
		n = 1
	}
	return hex.EncodeToString(sum[:]) + "-" + strconv.FormatInt(n, 10)
}

// info returns the object's key and full metadata, reading its sidecar
// when it has one.
func (b *Backend) info(ctx context.Context, bucket string, a *storage.ObjectAttrs) (backends.ObjectInfo, error) {
	m, ref := decodeMeta(a)
	if ref != "" {
		data, _, err := b.readSmall(ctx, bucket, sidePrefix+ref)
		if errors.Is(err, storage.ErrObjectNotExist) {
			// Replaced by UpdateMeta since the attributes were read.
			return backends.ObjectInfo{}, backends.Wrap(backends.Internal, errSideGone, "gcs: metadata of "+a.Name)
		}
		if err != nil {
			return backends.ObjectInfo{}, mapErr(err, backends.Internal, "metadata of "+a.Name)
		}
		var sm sysMeta
		if err := json.Unmarshal(data, &sm); err != nil {
			return backends.ObjectInfo{}, backends.Wrap(backends.Internal, err, "gcs: metadata of "+a.Name)
		}
		applySys(&m, &sm)
	}
	return backends.ObjectInfo{Key: a.Name, Meta: m}, nil
}

var errSideGone = errors.New("the metadata sidecar is gone")

// sideRef returns the sidecar named by the attributes, "" if none.
func sideRef(a *storage.ObjectAttrs) string {
	v, ok := a.Metadata[metaKey]
	if !ok {
		return ""
	}
	var sm sysMeta
	if json.Unmarshal([]byte(v), &sm) != nil || sm.Ref == "" || strings.ContainsAny(sm.Ref, "/.") {
		return ""
	}
	return sidePrefix + sm.Ref
}

// readAllLimit reads r whole, refusing more than limit bytes.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		return nil, backends.Errorf(backends.Internal, "gcs: object larger than %d bytes where a small one was expected", limit)
	}
	return data, err
}
