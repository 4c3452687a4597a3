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
	"time"

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
	// DeleteMarker marks a delete marker: a version without data.
	DeleteMarker bool `json:"dm,omitempty"`
	// from, in a list being written, is the write ID this version had
	// before a metadata change, under which the drives keep its inline
	// shards.
	from string
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

// readVersions reads the versions of an object on the drive, newest
// first. A missing object is fs.ErrNotExist.
func (d *drive) readVersions(objDir string) ([]version, error) {
	data, err := d.readFile(filepath.Join(objDir, metaName))
	if err != nil {
		return nil, err
	}
	return decodeMeta(data)
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

// driveMeta is one drive's meta.json: the object's versions, newest first.
type driveMeta struct {
	vs  []version
	err error
}

// readMetas reads the object's versions on every drive of the set.
func readMetas(st *set, bucket, kp string) []driveMeta {
	out := make([]driveMeta, len(st.drives))
	parallel(len(st.drives), func(i int) {
		vs, err := st.drives[i].readVersions(st.drives[i].objDir(bucket, kp))
		out[i] = driveMeta{vs, err}
	})
	return out
}

// errPending is the error of a drive whose metadata had not come back when
// a read went on without it.
var errPending = errors.New("erasure: the drive had not answered yet")

// readMetasQuorum is readMetas for a read: it returns once the answers in
// hand decide what resolve picks and the drives still out have had a grace
// to answer (see gather); those drives are errPending. So a slow drive
// delays no read by more than the grace.
//
// The answers decide when one version list is on a write quorum of the
// drives, or when more than half of the drives have no such key. A write
// quorum of drives holding one list leaves too few drives for any other
// list to reach a read quorum (write quorum + read quorum > drives, for
// every layout of the set), and so does a majority without the key: the
// drives still out cannot change resolve's choice.
func readMetasQuorum(st *set, bucket, kp string) []driveMeta {
	ms, got := gather(len(st.drives), func(i int) driveMeta {
		vs, err := st.drives[i].readVersions(st.drives[i].objDir(bucket, kp))
		return driveMeta{vs, err}
	}, decided)
	for i := range ms {
		if !got[i] {
			ms[i] = driveMeta{err: errPending}
		}
	}
	return ms
}

// gather runs fn(0..n-1) at once, like parallel, but returns as soon as
// enough(results, got) says that the calls that have returned (got) settle
// the outcome and the others have had a grace to return too: four times
// the wait so far, at least hedgeMin. Calls still running then go on in
// the background and their results are dropped.
func gather[T any](n int, fn func(i int) T, enough func([]T, []bool) bool) ([]T, []bool) {
	out := make([]T, n)
	got := make([]bool, n)
	if n == 1 {
		out[0], got[0] = fn(0), true
		return out, got
	}
	type answer struct {
		i int
		v T
	}
	ch := make(chan answer, n) // buffered: late answers are dropped
	began := time.Now()
	for i := range n {
		go func() { ch <- answer{i, fn(i)} }()
	}
	var grace <-chan time.Time
	for left := n; left > 0; {
		select {
		case a := <-ch:
			out[a.i], got[a.i] = a.v, true
			left--
			if grace == nil && left > 0 && enough(out, got) {
				t := time.NewTimer(max(hedgeMin, 4*time.Since(began)))
				defer t.Stop()
				grace = t.C
			}
		case <-grace:
			return out, got
		}
	}
	return out, got
}

// decided reports whether the answers in hand (got) decide what resolve
// picks, whatever the other drives say (see readMetasQuorum).
func decided(ms []driveMeta, got []bool) bool {
	counts := map[string]int{}
	notFound := 0
	for i, m := range ms {
		switch {
		case !got[i]:
		case m.err == nil && len(m.vs) > 0:
			k := listKey(m.vs)
			counts[k]++
			if counts[k] >= writeQuorum(m.vs[0].Erasure) {
				return true
			}
		case errors.Is(m.err, fs.ErrNotExist):
			notFound++
		}
	}
	return notFound*2 > len(ms)
}

// pendingDrives reports, per drive position, which drives were errPending.
func pendingDrives(ms []driveMeta) (out []bool, count int) {
	for i, m := range ms {
		if errors.Is(m.err, errPending) {
			if out == nil {
				out = make([]bool, len(ms))
			}
			out[i] = true
			count++
		}
	}
	return out, count
}

// listKey identifies a version list across drives: every write and every
// metadata change gives a version a new write ID, so drives whose lists
// have the same write IDs in the same order hold the same versions.
func listKey(vs []version) string {
	if len(vs) == 1 {
		return vs[0].WriteID
	}
	var b strings.Builder
	for i := range vs {
		b.WriteString(vs[i].WriteID)
		b.WriteByte(',')
	}
	return b.String()
}

// resolve picks the version list that a read quorum of drives agrees on
// (the newest, if several do) and returns it as one of those drives has
// it.
func resolve(ms []driveMeta, key string) ([]version, error) {
	counts := map[string]int{}
	keys := make([]string, len(ms))
	notFound, failed := 0, 0
	for i, m := range ms {
		switch {
		case m.err == nil:
			keys[i] = listKey(m.vs)
			counts[keys[i]]++
		case errors.Is(m.err, fs.ErrNotExist):
			notFound++
		default:
			failed++
		}
	}
	best := -1
	for i, m := range ms {
		if m.err != nil || counts[keys[i]] < m.vs[0].Erasure.Data {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		a, b := &m.vs[0], &ms[best].vs[0]
		if a.Meta.ModTime.After(b.Meta.ModTime) ||
			a.Meta.ModTime.Equal(b.Meta.ModTime) && keys[i] > keys[best] {
			best = i
		}
	}
	if best < 0 {
		if notFound > 0 && (notFound*2 >= len(ms) || len(counts) == 0) {
			return nil, backends.Errorf(backends.NoSuchKey, "the specified key does not exist")
		}
		return nil, unavailable("read quorum not met for %q: %d of %d drives answer", key, len(ms)-failed-notFound, len(ms))
	}
	return ms[best].vs, nil
}

// copiesOf returns, per drive position, the drive's record of the version
// with write ID wid; nil where the drive does not hold it.
func copiesOf(ms []driveMeta, wid string) []*version {
	out := make([]*version, len(ms))
	for pos, m := range ms {
		for i := range m.vs {
			if m.vs[i].WriteID == wid {
				out[pos] = &m.vs[i]
				break
			}
		}
	}
	return out
}

// holding reports, per drive position, whether the drive holds the copy.
func holding(cs []*version) []bool {
	has := make([]bool, len(cs))
	for i, c := range cs {
		has[i] = c != nil
	}
	return has
}

// latest is the newest version of a resolved list, NoSuchKey when it is a
// delete marker (the plain Backend methods' view).
func latest(vs []version) (*version, error) {
	if vs[0].DeleteMarker {
		return nil, backends.Errorf(backends.NoSuchKey, "the specified key does not exist")
	}
	return &vs[0], nil
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

// versionInfo is the info of version i of a list, as a VersionStore
// returns it.
func versionInfo(key string, vs []version, i int) backends.ObjectInfo {
	in := info(key, &vs[i])
	in.VersionID, in.IsLatest, in.DeleteMarker = vs[i].ID, i == 0, vs[i].DeleteMarker
	if in.DeleteMarker {
		in.Size, in.ETag, in.Parts = 0, "", nil
	}
	return in
}
