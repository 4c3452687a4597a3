package erasure

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/minio/highwayhash"
	"github.com/strata-storage/strata/backends"
)

// MetaVersion is the version of meta.json that Strata writes.
const MetaVersion = 1

const metaName = "meta.json"

// hashKey is the fixed HighwayHash key of shard blocks and of the metadata
// checksum: SHA-256 of "strata erasure bitrot v1" (see docs/formats.md).
// It is not a secret; it only has to be the same everywhere.
var hashKey = func() []byte {
	s := sha256.Sum256([]byte("strata erasure bitrot v1"))
	return s[:]
}()

// hashSize is the size of the hash ahead of each shard block.
const hashSize = highwayhash.Size

// metaFile is meta.json. Versions is kept raw so that the checksum covers
// exactly the bytes on disk.
type metaFile struct {
	Format   int             `json:"format"`
	Sum      string          `json:"sum"` // hex HighwayHash-64 of Versions
	Versions json.RawMessage `json:"versions"`
}

// version is one version of an object, as one drive holds it.
type version struct {
	ID string `json:"id"` // "null" until versioning
	// WriteID changes with every write (and metadata update): drives
	// holding the same WriteID hold the same version.
	WriteID string        `json:"wid"`
	Erasure erasureInfo   `json:"ec"`
	DataDir string        `json:"dataDir,omitempty"`
	Parts   []partLayout  `json:"parts,omitempty"`
	Meta    backends.Meta `json:"meta"`
	// Inline is this drive's shard of a small object: [hash][shard].
	Inline []byte `json:"inline,omitempty"`
}

type erasureInfo struct {
	Algo      string `json:"algo"` // "rs-hh256": Reed-Solomon, HighwayHash-256 per shard block
	Data      int    `json:"data"`
	Parity    int    `json:"parity"`
	BlockSize int    `json:"blockSize"`
	// Dist[shard] is the position, within the set, of the drive that holds
	// the shard.
	Dist []int `json:"dist"`
	// Index is the shard this drive holds.
	Index int `json:"index"`
}

type partLayout struct {
	Number int   `json:"n"`
	Size   int64 `json:"size"`
}

func (e erasureInfo) shardSize(blockLen int64) int64 {
	return (blockLen + int64(e.Data) - 1) / int64(e.Data)
}

// shardFileSize is the size of a part file holding size bytes of data.
func (e erasureInfo) shardFileSize(size int64) int64 {
	bs := int64(e.BlockSize)
	full := size / bs
	n := full * (hashSize + e.shardSize(bs))
	if r := size % bs; r > 0 {
		n += hashSize + e.shardSize(r)
	}
	return n
}

func encodeMeta(vs []version) ([]byte, error) {
	raw, err := json.Marshal(vs)
	if err != nil {
		return nil, err
	}
	return json.Marshal(metaFile{Format: MetaVersion, Sum: metaSum(raw), Versions: raw})
}

func metaSum(raw []byte) string {
	s := highwayhash.Sum64(raw, hashKey)
	var b [8]byte
	for i := range b {
		b[i] = byte(s >> (56 - 8*i))
	}
	return hex.EncodeToString(b[:])
}

var errCorruptMeta = errors.New("corrupt meta.json")

func decodeMeta(data []byte) ([]version, error) {
	var mf metaFile
	if err := json.Unmarshal(data, &mf); err != nil {
		return nil, errCorruptMeta
	}
	if mf.Format < 1 || mf.Format > MetaVersion {
		return nil, fmt.Errorf("meta.json format %d is unknown", mf.Format)
	}
	if metaSum(mf.Versions) != mf.Sum {
		return nil, errCorruptMeta
	}
	var vs []version
	if err := json.Unmarshal(mf.Versions, &vs); err != nil || len(vs) == 0 {
		return nil, errCorruptMeta
	}
	return vs, nil
}

// readVersion reads the latest version of an object on the drive.
// A missing object is fs.ErrNotExist.
func (d *drive) readVersion(objDir string) (*version, error) {
	data, err := d.readFile(filepath.Join(objDir, metaName))
	if err != nil {
		return nil, err
	}
	vs, err := decodeMeta(data)
	if err != nil {
		return nil, err
	}
	return &vs[0], nil
}

// ---- keys and paths ----

// Key elements are folders; the names that Strata keeps inside an object's
// folder (meta.json, "~" + data dir, "~" for a folder object) cannot clash
// with them: an element that is "meta.json" or starts with "~" is stored
// with "~~" ahead of it.
func escapeElem(e string) string {
	if e == metaName || strings.HasPrefix(e, "~") {
		return "~~" + e
	}
	return e
}

// unescapeElem returns the key element of a folder name, or ok false for
// Strata's own names.
func unescapeElem(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "~~"):
		return name[2:], true
	case strings.HasPrefix(name, "~"), name == metaName:
		return "", false
	}
	return name, true
}

// folderMark is the folder that holds a folder object ("dir/").
const folderMark = "~"

// keyPath returns the path of an object's folder relative to its bucket.
func keyPath(key string) (string, error) {
	if err := backends.CheckKey(key); err != nil {
		return "", err
	}
	trailing := strings.HasSuffix(key, "/")
	p := strings.TrimSuffix(key, "/")
	if p == "" {
		return "", backends.Errorf(backends.InvalidKey, "object key %q has an empty path element", key)
	}
	var b strings.Builder
	for e := range strings.SplitSeq(p, "/") {
		switch e {
		case "":
			return "", backends.Errorf(backends.InvalidKey, "object key %q has an empty path element (//)", key)
		case ".", "..":
			return "", backends.Errorf(backends.InvalidKey, "object key %q has a path element %q", key, e)
		}
		esc := escapeElem(e)
		if len(esc) > 255 {
			return "", backends.Errorf(backends.KeyTooLong, "object key %q has a path element longer than 253 bytes", key)
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(esc)
	}
	if trailing {
		b.WriteString("/" + folderMark)
	}
	return b.String(), nil
}

func (d *drive) bucketDir(bucket string) string { return filepath.Join(d.path, bucket) }

func (d *drive) objDir(bucket, kp string) string { return filepath.Join(d.path, bucket, kp) }

func checkBucketName(bucket string) error {
	if bucket == "" || strings.ContainsAny(bucket, "/\\\x00") || strings.HasPrefix(bucket, ".") {
		return backends.Errorf(backends.InvalidBucketName, "invalid bucket name %q", bucket)
	}
	return nil
}

// ---- reading metadata across a set ----

type driveMeta struct {
	v   *version
	err error
}

// readMetas reads the object's latest version on every drive of the set.
func readMetas(st *set, bucket, kp string) []driveMeta {
	out := make([]driveMeta, len(st.drives))
	parallel(len(st.drives), func(i int) {
		v, err := st.drives[i].readVersion(st.drives[i].objDir(bucket, kp))
		out[i] = driveMeta{v, err}
	})
	return out
}

// resolve picks the version that a read quorum of drives agrees on. It
// returns the version and, per drive position, whether that drive holds it.
func resolve(ms []driveMeta, key string) (*version, []bool, error) {
	counts := map[string]int{}
	var best *version
	notFound, failed := 0, 0
	for _, m := range ms {
		switch {
		case m.err == nil:
			counts[m.v.WriteID]++
		case errors.Is(m.err, fs.ErrNotExist):
			notFound++
		default:
			failed++
		}
	}
	for _, m := range ms {
		if m.err != nil || counts[m.v.WriteID] < m.v.Erasure.Data {
			continue
		}
		if best == nil || m.v.Meta.ModTime.After(best.Meta.ModTime) ||
			m.v.Meta.ModTime.Equal(best.Meta.ModTime) && m.v.WriteID > best.WriteID {
			best = m.v
		}
	}
	if best == nil {
		if notFound > 0 && (notFound*2 >= len(ms) || len(counts) == 0) {
			return nil, nil, backends.Errorf(backends.NoSuchKey, "the specified key does not exist")
		}
		return nil, nil, unavailable("read quorum not met for %q: %d of %d drives answer", key, len(ms)-failed-notFound, len(ms))
	}
	has := make([]bool, len(ms))
	for i, m := range ms {
		has[i] = m.err == nil && m.v.WriteID == best.WriteID
	}
	return best, has, nil
}

// parallel runs fn(0..n-1) at once and waits.
func parallel(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	done := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		go func() { fn(i); done <- struct{}{} }()
	}
	for i := 0; i < n; i++ {
		<-done
	}
}

func info(key string, v *version) backends.ObjectInfo {
	return backends.ObjectInfo{Key: key, Meta: v.Meta}
}
