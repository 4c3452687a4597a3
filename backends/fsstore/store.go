package fsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/maphash"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Options configure a Store.
type Options struct {
	// NoXattrs keeps all metadata in sidecar files, even where the file
	// system has extended attributes.
	NoXattrs bool
	// WindowsNames refuses keys that Windows and SMB shares cannot hold
	// (reserved characters, backslash, trailing dot or space, device
	// names). The dir backend turns it on when running on Windows.
	WindowsNames bool
	// TempMaxAge is the age after which a leftover temporary file is
	// removed when the Store opens; zero means one hour. Temporary files
	// of other processes sharing the tree are younger and are kept.
	TempMaxAge time.Duration
}

// Store is a backends.Backend over an FS.
type Store struct {
	fs     FS
	opts   Options
	xattrs bool

	seed  maphash.Seed
	locks [stripes]keyLock
}

// stripes is the number of key locks; keys share them by hash.
const stripes = 256

// keyLock is the lock of a stripe of keys. Readers do not take it, but
// they can tell whether a change of one of its keys overlapped them: busy
// while it is held, gen counts the releases.
type keyLock struct {
	mu   sync.Mutex
	busy atomic.Bool
	gen  atomic.Uint64
}

func (l *keyLock) lock() {
	l.mu.Lock()
	l.busy.Store(true)
}

func (l *keyLock) unlock() {
	l.gen.Add(1)
	l.busy.Store(false)
	l.mu.Unlock()
}

var (
	_ backends.Backend        = (*Store)(nil)
	_ backends.ChangeReporter = (*Store)(nil)
)

// ReportsChanges says that PutObject calls PutOptions.Replaced and that
// DeleteObjectReporting works, for every bucket.
func (s *Store) ReportsChanges(string) bool { return true }

// Reserved folders below SysDir.
var (
	tmpDir       = join(SysDir, "tmp")
	metaDir      = join(SysDir, "meta")
	multipartDir = join(SysDir, "multipart")
	bucketsDir   = join(SysDir, "buckets")
)

// New returns a Store over fsys. It creates the reserved folder if needed,
// removes stale temporary files, and finds out whether the file system keeps
// extended attributes.
func New(fsys FS, opts Options) (*Store, error) {
	if opts.TempMaxAge <= 0 {
		opts.TempMaxAge = time.Hour
	}
	s := &Store{fs: fsys, opts: opts, seed: maphash.MakeSeed()}
	dirs := []string{SysDir, tmpDir, metaDir, multipartDir, bucketsDir}
	for _, c := range tempShards {
		dirs = append(dirs, join(tmpDir, string(c)))
	}
	for _, d := range dirs {
		if err := fsys.Mkdir(d); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, backends.Wrap(backends.Internal, err, "fsstore: cannot create the reserved folder "+d)
		}
	}
	if err := s.cleanTemp(time.Now().Add(-opts.TempMaxAge)); err != nil {
		return nil, err
	}
	if !opts.NoXattrs {
		s.xattrs = s.probeXattrs()
	}
	return s, nil
}

// Close releases the FS if it holds resources.
func (s *Store) Close() error {
	if c, ok := s.fs.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Xattrs reports whether the Store keeps metadata in extended attributes
// (true) or only in sidecar files.
func (s *Store) Xattrs() bool { return s.xattrs }

// FS returns the file system the Store works on.
func (s *Store) FS() FS { return s.fs }

func (s *Store) probeXattrs() bool {
	name, w, err := s.createTemp()
	if err != nil {
		return false
	}
	defer s.fs.Remove(name)
	defer w.Close()
	x, ok := w.(Xattrs)
	if !ok {
		return false
	}
	if x.SetXattr(XattrName, []byte(`{"v":0}`)) != nil {
		return false
	}
	b, err := x.GetXattr(XattrName)
	return err == nil && string(b) == `{"v":0}`
}

// cleanTemp removes temporary files last modified before cutoff.
func (s *Store) cleanTemp(cutoff time.Time) error {
	ents, err := s.fs.ReadDir(tmpDir)
	if err != nil {
		return backends.Wrap(backends.Internal, err, "fsstore: cannot read "+tmpDir)
	}
	for _, e := range ents {
		name := join(tmpDir, e.Name())
		if e.IsDir() && isTempShard(e.Name()) {
			// A shard stays (another gateway on the same tree may be
			// writing in it); what is old in it goes.
			if shard, err := s.fs.ReadDir(name); err == nil {
				s.removeOld(name, shard, cutoff)
			}
			continue
		}
		s.removeOld(tmpDir, []fs.DirEntry{e}, cutoff)
	}
	return nil
}

// removeOld removes the entries of the folder dir that were last changed
// before cutoff.
func (s *Store) removeOld(dir string, ents []fs.DirEntry, cutoff time.Time) {
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		name := join(dir, e.Name())
		if e.IsDir() {
			s.removeAll(name)
		} else {
			s.fs.Remove(name)
		}
	}
}

// TempFolder is the folder of tmp/ that holds the temporary file named id
// (a random hex string): its first digit. Temporary files are spread over
// 16 folders because a file server may serialise the creates and renames
// of one folder: NFS-Ganesha, when a rename between two folders finds the
// second one's lock taken, lets go and sleeps a whole second, so one tmp
// folder shared by every writer made about one small PUT in a hundred
// wait a second.
func TempFolder(id string) string { return join(tmpDir, id[:1]) }

// tempShards are the names of the folders of tmp/.
const tempShards = "0123456789abcdef"

func isTempShard(name string) bool {
	return len(name) == 1 && strings.Contains(tempShards, name)
}

// lock takes the lock of one key (striped: keys may share a lock; a
// goroutine holds two only through lock2).
func (s *Store) lock(bucket, key string) func() {
	l := &s.locks[s.stripe(bucket, key)]
	l.lock()
	return l.unlock
}

func (s *Store) stripe(bucket, key string) int {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(bucket)
	h.WriteByte(0)
	h.WriteString(key)
	return int(h.Sum64() % uint64(len(s.locks)))
}

// lock2 takes the locks of two keys, in stripe order so that two callers
// locking the same pair cannot deadlock; once when they share a stripe.
func (s *Store) lock2(bucket, a, b string) func() {
	i, j := s.stripe(bucket, a), s.stripe(bucket, b)
	if i == j {
		s.locks[i].lock()
		return s.locks[i].unlock
	}
	if i > j {
		i, j = j, i
	}
	s.locks[i].lock()
	s.locks[j].lock()
	return func() {
		s.locks[j].unlock()
		s.locks[i].unlock()
	}
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// createTemp creates a new file in one of the folders of tmp/.
func (s *Store) createTemp() (string, Writer, error) {
	for {
		id := randomID()
		name := join(TempFolder(id), id)
		w, err := s.fs.Create(name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			// Someone removed the reserved folder: make it again.
			if s.mkdirAll(parentOf(name)) == nil {
				w, err = s.fs.Create(name)
			}
		}
		return name, w, err
	}
}

// writeFileAtomic writes a small file of the reserved area: temp, fsync,
// rename.
func (s *Store) writeFileAtomic(name string, data []byte) error {
	tmp, w, err := s.createTemp()
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.Rename(tmp, name)
		if errors.Is(err, fs.ErrNotExist) {
			if err = s.mkdirAll(parentOf(name)); err == nil {
				err = s.fs.Rename(tmp, name)
			}
		}
	}
	if err != nil {
		s.fs.Remove(tmp)
		return err
	}
	return nil
}

func parentOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

// mkdirAll makes a folder of the reserved area and its parents.
func (s *Store) mkdirAll(name string) error {
	err := s.fs.Mkdir(name)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(name, "/") {
		return err
	}
	if err := s.mkdirAll(parentOf(name)); err != nil {
		return err
	}
	err = s.fs.Mkdir(name)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// removeAll removes a folder of the reserved area with everything in it.
func (s *Store) removeAll(name string) error {
	ents, err := s.fs.ReadDir(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		p := join(name, e.Name())
		if e.IsDir() {
			err = s.removeAll(p)
		} else {
			err = s.fs.Remove(p)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := s.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Store) syncDir(name string) {
	if d, ok := s.fs.(DirSyncer); ok {
		d.SyncDir(name) // best effort: not every file system can
	}
}

// fsErr turns an FS error into a backend error.
func fsErr(err error, msg string) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, fs.ErrPermission) {
		return backends.Wrap(backends.AccessDenied, err, msg)
	}
	return backends.Wrap(backends.Internal, err, msg)
}

// ---- Buckets ----

// bucketRecord is .strata.sys/buckets/<bucket>/bucket.json.
type bucketRecord struct {
	V       int       `json:"v"`
	Created time.Time `json:"created"`
}

func bucketStateDir(bucket string) string { return join(bucketsDir, bucket) }

// bucketInfo checks that bucket exists: a directory (not a link) at the
// top of the tree with a valid bucket name.
func (s *Store) bucketInfo(bucket string) (backends.BucketInfo, error) {
	fi, err := s.bucketStat(bucket)
	if err != nil {
		return backends.BucketInfo{}, err
	}
	return s.bucketCreated(bucket, fi), nil
}

func (s *Store) bucketStat(bucket string) (fs.FileInfo, error) {
	if !backends.ValidBucketName(bucket) {
		return nil, backends.Errorf(backends.NoSuchBucket, "the bucket %q does not exist", bucket)
	}
	fi, err := s.fs.Lstat(bucket)
	if err != nil || !fi.IsDir() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil, backends.Errorf(backends.NoSuchBucket, "the bucket %q does not exist", bucket)
		}
		return nil, fsErr(err, "cannot read bucket "+bucket)
	}
	return fi, nil
}

func (s *Store) bucketCreated(bucket string, fi fs.FileInfo) backends.BucketInfo {
	info := backends.BucketInfo{Name: bucket, Created: fi.ModTime()}
	if b, err := s.readFile(join(bucketStateDir(bucket), "bucket.json"), 1<<16); err == nil {
		var r bucketRecord
		if json.Unmarshal(b, &r) == nil && r.V >= 1 && !r.Created.IsZero() {
			info.Created = r.Created
		}
	}
	return info
}

func (s *Store) checkBucket(bucket string) error {
	_, err := s.bucketStat(bucket)
	return err
}

func (s *Store) ListBuckets(ctx context.Context) ([]backends.BucketInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := s.fs.ReadDir(".")
	if err != nil {
		return nil, fsErr(err, "cannot list buckets")
	}
	var out []backends.BucketInfo
	for _, e := range ents {
		if !e.IsDir() || !backends.ValidBucketName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, s.bucketCreated(e.Name(), fi))
	}
	slices.SortFunc(out, func(a, b backends.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Store) HeadBucket(ctx context.Context, bucket string) (backends.BucketInfo, error) {
	if err := ctx.Err(); err != nil {
		return backends.BucketInfo{}, err
	}
	return s.bucketInfo(bucket)
}

func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !backends.ValidBucketName(bucket) {
		return backends.Errorf(backends.InvalidBucketName, "the bucket name %q is not valid", bucket)
	}
	unlock := s.lock(bucket, "")
	defer unlock()
	if _, err := s.fs.Lstat(bucket); err == nil {
		return backends.Errorf(backends.BucketExists, "the bucket %q already exists", bucket)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fsErr(err, "cannot create bucket "+bucket)
	}
	// State left by a bucket of the same name that was removed outside the
	// Store must not come back with the new one.
	if err := s.removeBucketState(bucket); err != nil {
		return fsErr(err, "cannot clear the old state of bucket "+bucket)
	}
	if err := s.fs.Mkdir(bucket); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return backends.Errorf(backends.BucketExists, "the bucket %q already exists", bucket)
		}
		return fsErr(err, "cannot create bucket "+bucket)
	}
	s.syncDir(".")
	b, _ := json.Marshal(bucketRecord{V: metaVersion, Created: time.Now().UTC()})
	if err := s.writeFileAtomic(join(bucketStateDir(bucket), "bucket.json"), b); err != nil {
		return fsErr(err, "cannot record bucket "+bucket)
	}
	return nil
}

func (s *Store) removeBucketState(bucket string) error {
	for _, d := range []string{bucketsDir, metaDir, multipartDir} {
		if err := s.removeAll(join(d, bucket)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	unlock := s.lock(bucket, "")
	defer unlock()
	// A bucket is empty when its folder holds nothing but empty folders
	// without folder objects; those are removed with it.
	if err := s.removeEmptyTree(ctx, bucket, ""); err != nil {
		return err
	}
	if err := s.fs.Remove(bucket); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if errors.Is(err, fs.ErrExist) || isNotEmpty(s, bucket) {
			return backends.Errorf(backends.NotEmpty, "the bucket %q is not empty", bucket)
		}
		return fsErr(err, "cannot remove bucket "+bucket)
	}
	s.syncDir(".")
	// Uploads in progress go with the bucket, as on AWS.
	if err := s.removeBucketState(bucket); err != nil {
		return fsErr(err, "cannot remove the state of bucket "+bucket)
	}
	return nil
}

func isNotEmpty(s *Store, dir string) bool {
	ents, err := s.fs.ReadDir(dir)
	return err == nil && len(ents) > 0
}

// removeEmptyTree removes the empty folders below dir (a key prefix) and
// fails with NotEmpty at the first file, link or folder object.
func (s *Store) removeEmptyTree(ctx context.Context, bucket, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := dirPath(bucket, dir)
	ents, err := s.fs.ReadDir(p)
	if err != nil {
		return fsErr(err, "cannot read "+p)
	}
	notEmpty := backends.Errorf(backends.NotEmpty, "the bucket %q is not empty", bucket)
	for _, e := range ents {
		if !e.IsDir() {
			return notEmpty
		}
	}
	for _, e := range ents {
		sub := dir + e.Name() + "/"
		if s.readSidecar(bucket, sub) != nil {
			return notEmpty
		}
		if err := s.removeEmptyTree(ctx, bucket, sub); err != nil {
			return err
		}
		if err := s.fs.Remove(dirPath(bucket, sub)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return notEmpty
		}
	}
	return nil
}

// ---- Bucket documents ----

func configPath(bucket, name string) (string, error) {
	if name == "" || len(name) > 64 || name[0] == '.' {
		return "", backends.Errorf(backends.InvalidArgument, "bad bucket document name %q", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", backends.Errorf(backends.InvalidArgument, "bad bucket document name %q", name)
		}
	}
	return join(bucketStateDir(bucket), "config", name), nil
}

func (s *Store) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	p, err := configPath(bucket, name)
	if err != nil {
		return nil, err
	}
	b, err := s.readFile(p, 1<<26)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, backends.Errorf(backends.NotFound, "bucket %q has no %s", bucket, name)
	}
	return b, fsErr(err, "cannot read the "+name+" of bucket "+bucket)
}

func (s *Store) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	p, err := configPath(bucket, name)
	if err != nil {
		return err
	}
	if data == nil {
		if err := s.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fsErr(err, "cannot remove the "+name+" of bucket "+bucket)
		}
		return nil
	}
	return fsErr(s.writeFileAtomic(p, data), "cannot write the "+name+" of bucket "+bucket)
}
