package bitrot

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/minio/highwayhash"

	"github.com/strata-storage/strata/gateway"
)

// HashSize is the size of one block hash (HighwayHash-256).
const HashSize = highwayhash.Size

// Key is the fixed HighwayHash key of the block hashes. It is public: the
// hashes detect damage, they do not authenticate (that is what SSE's AEAD
// does).
var Key = []byte("strata-bitrot-highwayhash-key-v1")

// Names of the Meta.Sys entries of the bitrot record (format version 1,
// described in docs/formats.md, "Bitrot hashes").
const (
	sysVersion = gateway.SysBitrot + "v"     // "1"
	sysBlock   = gateway.SysBitrot + "bs"    // block size in bytes
	sysSize    = gateway.SysBitrot + "size"  // bytes covered by the hashes
	sysParts   = gateway.SysBitrot + "parts" // segment (part) sizes, run-length
	sysInline  = gateway.SysBitrot + "h"     // base64 of the hashes, when inline
	sysRef     = gateway.SysBitrot + "ref"   // id of the hash object otherwise
)

// maxBlockSize bounds the block size a record may name (a read holds a
// few blocks in memory).
const maxBlockSize = 64 << 20

// recordVersion is the version of the record and of the hash object.
const recordVersion = 1

// hashObjectHeader starts every hash object; the hashes follow it.
const hashObjectHeader = "strata-bitrot 1\n"

// record is the bitrot metadata of an object or part: the hashes of the
// blocks of each segment in order. Blocks restart at segment boundaries:
// a plain object is one segment, a multipart object one per part.
type record struct {
	bs     int64
	size   int64
	segs   []int64 // nil: one segment of size bytes
	inline []byte  // the hashes, when kept in Sys
	ref    string  // the hash object's id, when not
}

var (
	// errNewer is a record of a format version this binary does not know.
	errNewer = errors.New("bitrot record of a newer format version")
	// errNoRecord: the metadata holds no bitrot record.
	errNoRecord = errors.New("no bitrot record")
)

// hasRecord reports whether sys holds any bitrot entry.
func hasRecord(sys map[string]string) bool {
	_, ok := sys[sysVersion]
	return ok
}

// parseRecord reads the record in sys. It returns errNoRecord when there
// is none, errNewer for an unknown version, and another error for a
// damaged record.
func parseRecord(sys map[string]string) (*record, error) {
	v, ok := sys[sysVersion]
	if !ok {
		return nil, errNoRecord
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 {
		return nil, fmt.Errorf("bitrot record: bad version %q", v)
	} else if n > recordVersion {
		return nil, errNewer
	}
	r := &record{}
	var err error
	if r.bs, err = strconv.ParseInt(sys[sysBlock], 10, 64); err != nil || r.bs < 1 || r.bs > maxBlockSize {
		return nil, fmt.Errorf("bitrot record: bad block size %q", sys[sysBlock])
	}
	if r.size, err = strconv.ParseInt(sys[sysSize], 10, 64); err != nil || r.size < 0 {
		return nil, fmt.Errorf("bitrot record: bad size %q", sys[sysSize])
	}
	if p, ok := sys[sysParts]; ok {
		if r.segs, err = parseSegments(p); err != nil {
			return nil, err
		}
		var sum int64
		for _, s := range r.segs {
			sum += s
		}
		if sum != r.size {
			return nil, fmt.Errorf("bitrot record: parts add up to %d bytes, not %d", sum, r.size)
		}
	}
	h, hasInline := sys[sysInline]
	ref, hasRef := sys[sysRef]
	switch {
	case hasInline && !hasRef:
		if r.inline, err = base64.StdEncoding.DecodeString(h); err != nil {
			return nil, fmt.Errorf("bitrot record: bad inline hashes: %v", err)
		}
		if len(r.inline) != r.blocks()*HashSize {
			return nil, fmt.Errorf("bitrot record: %d bytes of hashes for %d blocks", len(r.inline), r.blocks())
		}
	case hasRef && !hasInline:
		if !validID(ref) {
			return nil, fmt.Errorf("bitrot record: bad hash object id %q", ref)
		}
		r.ref = ref
	default:
		return nil, errors.New("bitrot record: hashes neither inline nor in a hash object")
	}
	return r, nil
}

// sys returns the Meta.Sys entries of r.
func (r *record) sys() map[string]string {
	m := map[string]string{
		sysVersion: strconv.Itoa(recordVersion),
		sysBlock:   strconv.FormatInt(r.bs, 10),
		sysSize:    strconv.FormatInt(r.size, 10),
	}
	if len(r.segs) > 1 {
		m[sysParts] = formatSegments(r.segs)
	}
	if r.ref != "" {
		m[sysRef] = r.ref
	} else {
		m[sysInline] = base64.StdEncoding.EncodeToString(r.inline)
	}
	return m
}

// layout returns the segments and block size of r.
func (r *record) layout() layout {
	if len(r.segs) > 0 {
		return layout{bs: r.bs, segs: r.segs}
	}
	return layout{bs: r.bs, segs: []int64{r.size}}
}

func (r *record) blocks() int { return r.layout().blocks() }

// same reports whether a and b describe the same hashes.
func (r *record) same(o *record) bool {
	return r.bs == o.bs && r.size == o.size && r.ref == o.ref &&
		string(r.inline) == string(o.inline) && formatSegments(r.segs) == formatSegments(o.segs)
}

// formatSegments writes sizes run-length encoded: "8388608*3,1000" is
// three segments of 8388608 bytes and one of 1000.
func formatSegments(segs []int64) string {
	var b strings.Builder
	for i := 0; i < len(segs); {
		j := i + 1
		for j < len(segs) && segs[j] == segs[i] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(segs[i], 10))
		if j-i > 1 {
			b.WriteByte('*')
			b.WriteString(strconv.Itoa(j - i))
		}
		i = j
	}
	return b.String()
}

// maxSegments bounds the parts of a record (S3's part limit).
const maxSegments = 10000

func parseSegments(s string) ([]int64, error) {
	var segs []int64
	for _, f := range strings.Split(s, ",") {
		size, count := f, "1"
		if a, b, ok := strings.Cut(f, "*"); ok {
			size, count = a, b
		}
		n, err1 := strconv.ParseInt(size, 10, 64)
		c, err2 := strconv.Atoi(count)
		if err1 != nil || err2 != nil || n < 0 || c < 1 || len(segs)+c > maxSegments {
			return nil, fmt.Errorf("bitrot record: bad parts %q", s)
		}
		for range c {
			segs = append(segs, n)
		}
	}
	return segs, nil
}

// stripSys returns sys without the bitrot entries (nil when nothing is
// left), never changing sys itself.
func stripSys(sys map[string]string) map[string]string {
	var out map[string]string
	for k, v := range sys {
		if strings.HasPrefix(k, gateway.SysBitrot) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(sys))
		}
		out[k] = v
	}
	return out
}

// withRecord returns sys without any bitrot entry, plus those of r (none
// when r is nil).
func withRecord(sys map[string]string, r *record) map[string]string {
	out := stripSys(sys)
	if r == nil {
		return out
	}
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, r.sys())
	return out
}

// newID returns a random hash object id: 32 hex digits.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// hashKey is the key of the hash object id.
func hashKey(id string) string { return Prefix + id }

// layout is how an object's bytes are cut into hashed blocks.
type layout struct {
	bs   int64
	segs []int64
}

func (lo layout) blocks() int {
	n := 0
	for _, s := range lo.segs {
		n += int((s + lo.bs - 1) / lo.bs)
	}
	return n
}

// block is one hashed block: its index among the object's blocks, its
// offset in the object and its length.
type block struct {
	idx      int
	off, len int64
}

// iter returns the blocks that hold the bytes [off, end) of the object,
// in order, one at a time (an object may have millions of them).
func (lo layout) iter(off, end int64) *blockIter {
	it := &blockIter{lo: lo, end: end}
	for it.seg < len(lo.segs) {
		s := lo.segs[it.seg]
		if it.segStart+s > off {
			it.i = int((off - it.segStart) / lo.bs)
			break
		}
		it.idx0 += int((s + lo.bs - 1) / lo.bs)
		it.segStart += s
		it.seg++
	}
	return it
}

// blockIter walks blocks; see layout.iter.
type blockIter struct {
	lo       layout
	end      int64
	seg      int   // current segment
	segStart int64 // its offset in the object
	idx0     int   // index of its first block
	i        int   // next block within it
}

// next returns the next block, false when past end.
func (it *blockIter) next() (block, bool) {
	for it.seg < len(it.lo.segs) && it.segStart < it.end {
		s := it.lo.segs[it.seg]
		bo := it.segStart + int64(it.i)*it.lo.bs
		if bo < it.segStart+s {
			if bo >= it.end {
				return block{}, false
			}
			b := block{idx: it.idx0 + it.i, off: bo, len: min(it.lo.bs, it.segStart+s-bo)}
			it.i++
			return b, true
		}
		it.idx0 += int((s + it.lo.bs - 1) / it.lo.bs)
		it.segStart += s
		it.seg++
		it.i = 0
	}
	return block{}, false
}

// bounds returns the first and the last block that hold [off, end).
func (lo layout) bounds(off, end int64) (first, last block, ok bool) {
	it := lo.iter(off, end)
	if first, ok = it.next(); !ok {
		return
	}
	// The last block: the one holding end-1.
	lit := lo.iter(end-1, end)
	last, ok = lit.next()
	return
}
