package fsstore

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime"
	"path"
	"strconv"
	"time"

	"github.com/strata-storage/strata/backends"
)

// XattrName is the extended attribute that holds an object's metadata.
const XattrName = "user.strata.meta"

// metaVersion is the version of the metadata record and sidecar formats.
const metaVersion = 1

// stamp identifies one state of a file's data: its size and modification
// time. Metadata recorded for one stamp is ignored when the file has another
// one, i.e. when the file was changed outside the Store.
type stamp struct {
	Size  int64 `json:"size"`
	MTime int64 `json:"mtime_ns"`
}

func stampOf(fi fs.FileInfo) stamp { return stamp{fi.Size(), fi.ModTime().UnixNano()} }

// record is the metadata of one object: in the xattr on its own, in a
// sidecar in a list.
type record struct {
	V int `json:"v"`
	stamp
	Meta backends.Meta `json:"meta"`
}

// sidecar is the file .strata.sys/meta/<bucket>/<hh>/<sha256(key)>.json.
// For a file it holds up to two records, the new one first: writing the new
// record next to the old one before the data is renamed into place means a
// crash or a concurrent reader at any moment finds the record that matches
// the data it sees. For a folder object (Dir) it holds one record with no
// stamp.
type sidecar struct {
	V       int      `json:"v"`
	Key     string   `json:"key"`
	Dir     bool     `json:"dir,omitempty"`
	Records []record `json:"records"`
}

func (r *record) matches(st stamp) bool { return r.V >= 1 && r.V <= metaVersion && r.stamp == st }

// find returns the record for st.
func (sc *sidecar) find(st stamp) (record, bool) {
	if sc == nil || sc.Dir {
		return record{}, false
	}
	for _, r := range sc.Records {
		if r.matches(st) {
			return r, true
		}
	}
	return record{}, false
}

func decodeRecord(b []byte) (record, bool) {
	var r record
	if json.Unmarshal(b, &r) != nil || r.V < 1 || r.V > metaVersion {
		return record{}, false
	}
	return r, true
}

// DerivedETag is the ETag of a file that has no metadata of the Store's
// own: the hex MD5 of "<size>:<mtime in Unix nanoseconds>" followed by
// "-1". It costs no read of the data, stays the same while the file does,
// and changes when it is modified; the "-N" suffix, as on multipart ETags,
// tells clients that it is not the MD5 of the content.
func DerivedETag(size int64, mtime time.Time) string {
	b := strconv.AppendInt(nil, size, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, mtime.UnixNano(), 10)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:]) + "-1"
}

// emptyETag is the MD5 of nothing, the ETag of a folder object without one.
const emptyETag = "d41d8cd98f00b204e9800998ecf8427e"

// derivedMeta is the metadata of a file with none of its own.
func derivedMeta(key string, fi fs.FileInfo) backends.Meta {
	ct := mime.TypeByExtension(path.Ext(key))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return backends.Meta{
		Size:        fi.Size(),
		ETag:        DerivedETag(fi.Size(), fi.ModTime()),
		ModTime:     fi.ModTime(),
		ContentType: ct,
	}
}

// fromRecord completes a stored record with what the file says.
func fromRecord(r record, fi fs.FileInfo) backends.Meta {
	m := r.Meta
	m.Size = fi.Size()
	if m.ModTime.IsZero() {
		m.ModTime = fi.ModTime()
	}
	if m.ETag == "" {
		m.ETag = DerivedETag(fi.Size(), fi.ModTime())
	}
	return m
}

func sidecarPath(bucket, key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return join(SysDir, "meta", bucket, h[:2], h+".json")
}

// readSidecar returns the sidecar of key, nil if there is none (or it is
// unreadable: a sidecar is a cache of metadata, never a reason to fail).
func (s *Store) readSidecar(bucket, key string) *sidecar {
	b, err := s.readFile(sidecarPath(bucket, key), 1<<24)
	if err != nil {
		return nil
	}
	var sc sidecar
	if json.Unmarshal(b, &sc) != nil || sc.V < 1 || sc.V > metaVersion || sc.Key != key {
		return nil
	}
	return &sc
}

func (s *Store) writeSidecar(bucket, key string, sc *sidecar) error {
	sc.V, sc.Key = metaVersion, key
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return s.writeFileAtomic(sidecarPath(bucket, key), b)
}

func (s *Store) removeSidecar(bucket, key string) error {
	err := s.fs.Remove(sidecarPath(bucket, key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// loadMeta returns the metadata of the open file f (with info fi) at key;
// ok is false when no valid record was found and the metadata is derived
// from the file: it was made or changed outside the Store, or a writer
// replaced it after f was opened (and the record went with the new file).
func (s *Store) loadMeta(bucket, key string, f File, fi fs.FileInfo) (m backends.Meta, ok bool) {
	st := stampOf(fi)
	if s.xattrs && f != nil {
		if x, isX := f.(Xattrs); isX {
			if b, err := x.GetXattr(XattrName); err == nil {
				if r, valid := decodeRecord(b); valid && r.matches(st) {
					return fromRecord(r, fi), true
				}
			}
		}
	}
	return metaFrom(s.readSidecar(bucket, key), key, fi)
}

// metaFrom is loadMeta with the key's sidecar in hand (nil: none).
func metaFrom(sc *sidecar, key string, fi fs.FileInfo) (backends.Meta, bool) {
	if r, found := sc.find(stampOf(fi)); found {
		return fromRecord(r, fi), true
	}
	return derivedMeta(key, fi), false
}

// readFile reads a small file of the reserved area.
func (s *Store) readFile(name string, max int64) ([]byte, error) {
	if r, ok := s.fs.(FileReader); ok {
		return r.ReadFile(name, max)
	}
	f, err := s.fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Room for the whole file and the EOF after it: one read of a
	// network file system, where io.ReadAll's growing buffer takes two.
	var b bytes.Buffer
	if fi, err := f.Stat(); err == nil && fi.Size() < max {
		b.Grow(int(fi.Size()) + bytes.MinRead)
	}
	_, err = b.ReadFrom(io.LimitReader(f, max))
	return b.Bytes(), err
}
