package azure

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strata-storage/strata/backends"
)

// How an object's Meta is kept on a blob (docs/backend-azure.md):
//
//   - Content-Type, -Encoding, -Disposition, -Language and Cache-Control
//     are the blob's HTTP headers when their value is printable ASCII
//     (Azure signs these headers and cannot carry other bytes); otherwise
//     the value goes into the reserved entry and the header is left unset.
//   - User metadata is blob metadata, one entry per name (see userName).
//   - Everything else (the S3 ETag, checksums, tags, Expires, storage
//     class, the parts list, a kept ModTime, the data services' Sys) is one
//     reserved metadata entry, "strata_meta", holding compact JSON in ASCII
//     (sysMeta). A parts list that does not fit there is a blob of its own,
//     .strata.sys/parts/<id>, named in the entry (pref).
//
// Azure metadata names are C# identifiers (letters, digits, underscore, no
// leading digit) compared without regard to case, and Azurite returns them
// capitalised; values are HTTP header values. So a user entry is stored:
//
//	name                  value      when name is [a-z_][a-z0-9_]*, does not start
//	                                 with "strata_", and value is plain
//	strata_x_<hex(name)>  value      when only the value is plain
//	strata_b_<hex(name)>  "=" base64 otherwise (non-ASCII, control characters,
//	                                 leading or trailing blanks, empty)
//
// A value is plain when it is not empty, all printable ASCII, and does not
// begin or end with a blank. Names read back are lower-cased first; a name
// from a blob Strata did not write is kept lower-cased as it is.

const (
	sysEntry      = "strata_meta" // the reserved entry of an object
	reservedName  = "strata_"     // user names with this prefix are escaped
	escapedName   = "strata_x_"   // hex name, plain value
	escapedBase64 = "strata_b_"   // hex name, "=" + base64 value
	metaVersion   = 1             // of sysMeta and the upload records
	maxMetaBytes  = 8 << 10       // Azure's limit on names and values together
	metaMargin    = 192           // kept free below it, for what Azure counts besides
	metaLimit     = maxMetaBytes - metaMargin
	sysTimeLayout = time.RFC3339Nano // times in the reserved entry
)

// sysMeta is the reserved metadata entry of an object, version 1.
type sysMeta struct {
	V     int               `json:"v"`
	ETag  string            `json:"etag,omitempty"`
	MTime string            `json:"mtime,omitempty"` // a ModTime kept by UpdateMeta
	Exp   string            `json:"exp,omitempty"`
	SC    string            `json:"sc,omitempty"`
	Hdr   map[string]string `json:"hdr,omitempty"` // ct, ce, cd, cl, cc that are not ASCII
	Tags  map[string]string `json:"tags,omitempty"`
	Cks   map[string]string `json:"cks,omitempty"`
	Ckt   string            `json:"ckt,omitempty"`
	Cka   string            `json:"cka,omitempty"`
	Parts []sysPart         `json:"parts,omitempty"`
	// PRef names the blob .strata.sys/parts/<PRef> that holds the parts
	// list (JSON, []sysPart) when it does not fit in the entry.
	PRef string `json:"pref,omitempty"`
	// Sys is Meta.Sys.
	Sys map[string]string `json:"sys,omitempty"`
}

// sysPart is one part of a multipart object, without its ModTime.
type sysPart struct {
	N    int               `json:"n"`
	Size int64             `json:"s"`
	ETag string            `json:"e"`
	Cks  map[string]string `json:"c,omitempty"`
	Sys  map[string]string `json:"y,omitempty"`
}

// partsPrefix holds the parts lists that do not fit in an object's entry.
const partsPrefix = sysPrefix + "parts/"

// plainValue reports whether v can be an Azure metadata or header value
// as it is.
func plainValue(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// plainName reports whether a user metadata name can be an Azure metadata
// name as it is.
func plainName(n string) bool {
	if n == "" || strings.HasPrefix(n, reservedName) {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// encodeUserEntry returns the Azure name and value of a user entry.
func encodeUserEntry(name, value string) (string, string) {
	switch {
	case plainName(name) && plainValue(value):
		return name, value
	case plainValue(value):
		return escapedName + hex.EncodeToString([]byte(name)), value
	default:
		return escapedBase64 + hex.EncodeToString([]byte(name)), "=" + base64.StdEncoding.EncodeToString([]byte(value))
	}
}

// decodeUserEntry returns the user name and value of an Azure entry, and
// false for the reserved entry. Names are compared without case.
func decodeUserEntry(name, value string) (string, string, bool) {
	n := strings.ToLower(name)
	switch {
	case n == sysEntry:
		return "", "", false
	case strings.HasPrefix(n, escapedName):
		if k, err := hex.DecodeString(n[len(escapedName):]); err == nil && len(k) > 0 {
			return string(k), value, true
		}
	case strings.HasPrefix(n, escapedBase64):
		k, err1 := hex.DecodeString(n[len(escapedBase64):])
		v, err2 := base64.StdEncoding.DecodeString(strings.TrimPrefix(value, "="))
		if err1 == nil && err2 == nil && len(k) > 0 && strings.HasPrefix(value, "=") {
			return string(k), string(v), true
		}
	}
	return n, value, true // written by someone else: as it is
}

// asciiJSON marshals v as compact JSON with every non-ASCII character
// escaped, so that it can be an HTTP header value.
func asciiJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only maps of strings and numbers are encoded here
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if isASCII(b) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r < 0x80:
			out = append(out, byte(r))
		case r <= 0xffff:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		}
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// header is one of the content headers of Meta.
type header struct {
	code string // in sysMeta.Hdr
	get  func(*backends.Meta) *string
}

var contentHeaders = []header{
	{"ct", func(m *backends.Meta) *string { return &m.ContentType }},
	{"ce", func(m *backends.Meta) *string { return &m.ContentEncoding }},
	{"cd", func(m *backends.Meta) *string { return &m.ContentDisposition }},
	{"cl", func(m *backends.Meta) *string { return &m.ContentLanguage }},
	{"cc", func(m *backends.Meta) *string { return &m.CacheControl }},
}

// encoded is an object's Meta in Azure's terms.
type encoded struct {
	metadata map[string]*string
	// Content headers that Azure can carry; unset ones are "".
	ct, ce, cd, cl, cc string
	// side is the parts list to write as the blob sideName before the
	// object, when it does not fit in the entry.
	side     []byte
	sideName string
}

// encodeMeta returns the blob metadata and headers for m, whose ETag is
// etag ("" to store none: the ETag is then derived from the blob) and
// whose ModTime is kept only when keepMTime.
func encodeMeta(m *backends.Meta, etag string, keepMTime bool) (encoded, error) {
	var e encoded
	e.metadata = make(map[string]*string, len(m.User)+1)
	size := 0
	for k, v := range m.User {
		an, av := encodeUserEntry(k, v)
		if _, dup := e.metadata[an]; dup {
			return e, backends.Errorf(backends.InvalidArgument, "metadata name %q is given twice", k)
		}
		e.metadata[an] = &av
		size += len(an) + len(av)
	}
	sys := sysMeta{V: metaVersion, ETag: etag, Exp: m.Expires, SC: m.StorageClass,
		Tags: m.Tags, Cks: m.Checksums, Ckt: m.ChecksumType, Cka: m.ChecksumAlgorithm, Sys: m.Sys}
	if keepMTime && !m.ModTime.IsZero() {
		sys.MTime = m.ModTime.UTC().Format(sysTimeLayout)
	}
	hdrs := map[string]*string{"ct": &e.ct, "ce": &e.ce, "cd": &e.cd, "cl": &e.cl, "cc": &e.cc}
	for _, h := range contentHeaders {
		v := *h.get(m)
		switch {
		case v == "":
		case plainValue(v):
			*hdrs[h.code] = v
		default:
			if sys.Hdr == nil {
				sys.Hdr = map[string]string{}
			}
			sys.Hdr[h.code] = v
		}
	}
	for _, p := range m.Parts {
		sys.Parts = append(sys.Parts, sysPart{N: p.Number, Size: p.Size, ETag: p.ETag, Cks: p.Checksums, Sys: p.Sys})
	}
	val := string(asciiJSON(sys))
	if size+len(sysEntry)+len(val) > metaLimit && sys.Parts != nil {
		// The parts list is what moves out: a blob of its own.
		e.side = asciiJSON(sys.Parts)
		sys.PRef = newSideID()
		e.sideName = partsPrefix + sys.PRef
		sys.Parts = nil
		val = string(asciiJSON(sys))
	}
	if size+len(sysEntry)+len(val) > metaLimit {
		return e, backends.Errorf(backends.InvalidArgument,
			"the metadata and tags take %d bytes on Azure, more than its limit of %d", size+len(sysEntry)+len(val), metaLimit)
	}
	e.metadata[sysEntry] = &val
	return e, nil
}

// blobProps are the properties of a blob that make an ObjectInfo, from a
// HEAD, a GET or a listing.
type blobProps struct {
	size     int64
	etag     string // Azure's, with its quotes
	modTime  time.Time
	md5      []byte
	metadata map[string]*string
	// Content headers.
	ct, ce, cd, cl, cc string
}

// derivedETag is the S3 ETag of a blob without a reserved entry: its
// Content-MD5 in hex when it has one, else Azure's ETag without quotes
// and "0x", lower-cased. Azure's ETag changes whenever the blob or its
// metadata change, so it is stable as long as the blob is; UpdateMeta
// writes it into the reserved entry so that it survives the update.
func derivedETag(azETag string, md5 []byte) string {
	if len(md5) == 16 {
		return hex.EncodeToString(md5)
	}
	e := strings.Trim(azETag, `"`)
	e = strings.TrimPrefix(strings.TrimPrefix(e, "0x"), "0X")
	return strings.ToLower(e)
}

// decodeSys returns the reserved entry of metadata, or nil.
func decodeSys(md map[string]*string) *sysMeta {
	for k, v := range md {
		if v == nil || !strings.EqualFold(k, sysEntry) {
			continue
		}
		var s sysMeta
		if json.Unmarshal([]byte(*v), &s) != nil || s.V < 1 {
			return nil // damaged or from the future: read the blob as foreign
		}
		return &s
	}
	return nil
}

// objectInfo makes the ObjectInfo of key from a blob's properties.
func objectInfo(key string, p blobProps) backends.ObjectInfo {
	info := backends.ObjectInfo{Key: key}
	m := &info.Meta
	m.Size = p.size
	m.ModTime = p.modTime
	m.ContentType, m.ContentEncoding, m.ContentDisposition = p.ct, p.ce, p.cd
	m.ContentLanguage, m.CacheControl = p.cl, p.cc
	for k, v := range p.metadata {
		if v == nil {
			continue
		}
		if n, val, ok := decodeUserEntry(k, *v); ok {
			if m.User == nil {
				m.User = map[string]string{}
			}
			m.User[n] = val
		}
	}
	sys := decodeSys(p.metadata)
	if sys == nil || sys.ETag == "" {
		m.ETag = derivedETag(p.etag, p.md5)
	}
	if sys == nil {
		return info
	}
	if sys.ETag != "" {
		m.ETag = sys.ETag
	}
	if t, err := time.Parse(sysTimeLayout, sys.MTime); err == nil && sys.MTime != "" {
		m.ModTime = t
	}
	m.Expires, m.StorageClass = sys.Exp, sys.SC
	m.Tags, m.Checksums, m.ChecksumType, m.ChecksumAlgorithm = sys.Tags, sys.Cks, sys.Ckt, sys.Cka
	m.Sys = sys.Sys
	for _, h := range contentHeaders {
		if v, ok := sys.Hdr[h.code]; ok {
			*h.get(m) = v
		}
	}
	m.Parts = partInfos(sys.Parts)
	return info
}

func partInfos(ps []sysPart) []backends.PartInfo {
	var out []backends.PartInfo
	for _, p := range ps {
		out = append(out, backends.PartInfo{Number: p.N, Size: p.Size, ETag: p.ETag, Checksums: p.Cks, Sys: p.Sys})
	}
	return out
}

// partsRef returns the name of the blob that holds the parts list of the
// blob with metadata md, "" when the list is in the entry or there is none.
func partsRef(md map[string]*string) string {
	s := decodeSys(md)
	if s == nil || s.PRef == "" || strings.ContainsAny(s.PRef, "/.") {
		return ""
	}
	return partsPrefix + s.PRef
}

func newSideID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
