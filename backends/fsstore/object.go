package fsstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends"
)

// checkObject validates a key and checks that its bucket exists.
func (s *Store) checkObject(ctx context.Context, bucket, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	return checkKey(key, s.opts.WindowsNames)
}

// absentKey reports whether err says key is one this store can never hold
// (InvalidKey, KeyTooLong from checkKey): no object can be there.
func absentKey(err error) bool {
	return backends.Is(err, backends.InvalidKey) || backends.Is(err, backends.KeyTooLong)
}

// checkExisting is checkObject for a request on an object that exists or
// not: a key this store cannot hold (say a '?' on an SMB share) names no
// object, so reads answer NoSuchKey (and deletes have nothing to do), as
// S3 answers any key never written; only writes refuse it.
func (s *Store) checkExisting(ctx context.Context, bucket, key string) error {
	err := s.checkObject(ctx, bucket, key)
	if absentKey(err) {
		return noSuchKey(bucket, key)
	}
	return err
}

func noSuchKey(bucket, key string) error {
	return backends.Errorf(backends.NoSuchKey, "the key %q does not exist in bucket %q", key, bucket)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyData copies with plain reads and writes through a pooled buffer. It
// never lets an *os.File reach io.Copy: that would use copy_file_range or
// sendfile, which hang on some NFS servers.
func copyData(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	if r == nil {
		return 0, nil // no body
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			k, werr := w.Write(buf[:m])
			n += int64(k)
			if werr != nil {
				return n, werr
			}
			if k < m {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// staged is data written to a temporary file, not yet published.
type staged struct {
	name string
	w    Writer
	fi   fs.FileInfo
	// replaced is PutOptions.Replaced of the put publishing it.
	replaced func(backends.Meta)
}

// stage writes src to a temporary file and makes it durable. The file stays
// open so that metadata can be attached to it.
func (s *Store) stage(ctx context.Context, src func(w io.Writer) error) (*staged, error) {
	name, w, err := s.createTemp()
	if err != nil {
		return nil, fsErr(err, "cannot create a temporary file")
	}
	st := &staged{name: name, w: w}
	if err := src(w); err != nil {
		st.discard(s)
		return nil, err
	}
	if err := w.Sync(); err != nil {
		st.discard(s)
		return nil, fsErr(err, "cannot write data")
	}
	if st.fi, err = w.Stat(); err != nil {
		st.discard(s)
		return nil, fsErr(err, "cannot write data")
	}
	return st, nil
}

func (st *staged) discard(s *Store) {
	if st.w != nil {
		st.w.Close()
		st.w = nil
	}
	s.fs.Remove(st.name)
}

// conditions go with a publish.
type conditions struct {
	ifMatch     string
	ifNoneMatch bool
}

func (c conditions) check(bucket, key string, cur *backends.ObjectInfo) error {
	switch {
	case c.ifNoneMatch && cur != nil:
		return backends.Errorf(backends.PreconditionFailed, "the key %q already exists", key)
	case c.ifMatch != "" && cur == nil:
		return noSuchKey(bucket, key)
	case c.ifMatch != "" && c.ifMatch != "*" && strings.Trim(c.ifMatch, `"`) != cur.ETag:
		return backends.Errorf(backends.PreconditionFailed, "the ETag of %q does not match", key)
	}
	return nil
}

// checkCond checks cond against the object at key, opened with open (s.open
// under the key's lock).
func (s *Store) checkCond(bucket, key string, cond conditions, open func(bucket, key string) (File, backends.ObjectInfo, error)) error {
	if cond == (conditions{}) {
		return nil
	}
	cur, err := s.head(bucket, key, open)
	if err != nil && !backends.Is(err, backends.NoSuchKey) {
		return err
	}
	var cp *backends.ObjectInfo
	if err == nil {
		cp = &cur
	}
	return cond.check(bucket, key, cp)
}

// commit publishes staged data at key with meta: metadata on the temporary
// file (xattr) or in a sidecar, conditions checked and rename done under the
// key's lock.
func (s *Store) commit(ctx context.Context, bucket, key string, st *staged, meta backends.Meta, cond conditions) (backends.ObjectInfo, error) {
	defer func() {
		if st.w != nil || st.name != "" {
			st.discard(s)
		}
	}()
	meta.Size = st.fi.Size()
	meta.ModTime = st.fi.ModTime()
	rec, inXattr, err := s.seal(st, meta)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	unlock := s.lock(bucket, key)
	defer unlock()
	return s.publishLocked(ctx, bucket, key, st, rec, inXattr, cond)
}

// seal makes the record of staged data with meta, puts it in the staged
// file's xattr when it can, and closes the file.
func (s *Store) seal(st *staged, meta backends.Meta) (rec record, inXattr bool, err error) {
	rec = record{V: metaVersion, stamp: stampOf(st.fi), Meta: meta}
	if s.xattrs {
		if x, ok := st.w.(Xattrs); ok {
			b, _ := json.Marshal(rec)
			inXattr = x.SetXattr(XattrName, b) == nil
		}
	}
	err = st.w.Close()
	st.w = nil
	if err != nil {
		return rec, false, fsErr(err, "cannot write data")
	}
	return rec, inXattr, nil
}

// publishLocked is the second half of commit, for a caller that holds the
// key's lock: st is closed, rec is its record, already in the xattr of the
// staged file when inXattr.
func (s *Store) publishLocked(ctx context.Context, bucket, key string, st *staged, rec record, inXattr bool, cond conditions) (backends.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := s.checkCond(bucket, key, cond, s.open); err != nil {
		return backends.ObjectInfo{}, err
	}
	target := objPath(bucket, key)
	if err := s.makeParents(bucket, key); err != nil {
		return backends.ObjectInfo{}, err
	}
	cur, err := s.clearTarget(bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if !inXattr {
		// The sidecar holds the new record and the one valid for the
		// current file, so that whichever file a reader (or the tree
		// after a crash) sees, its record is there.
		sc := &sidecar{Records: []record{rec}}
		if cur != nil && cur.Mode().IsRegular() {
			if !st.fi.ModTime().After(cur.ModTime()) {
				// A coarse clock: move the new file's mtime past the
				// current one's. Strictly increasing mtimes keep the
				// stamps of all versions of a key apart, so a reader
				// still holding an older version never takes a newer
				// record for its own.
				fi, err := s.bumpMTime(st.name, cur)
				if err != nil {
					return backends.ObjectInfo{}, fsErr(err, "cannot write "+key)
				}
				if rec.Meta.ModTime.Equal(st.fi.ModTime()) {
					// The object's time is its file's (not one kept
					// by a move): it moves too.
					rec.Meta.ModTime = fi.ModTime()
				}
				st.fi = fi
				rec.stamp = stampOf(fi)
				sc.Records[0] = rec
			}
			if old, found := s.readSidecar(bucket, key).find(stampOf(cur)); found {
				sc.Records = append(sc.Records, old)
				if st.replaced != nil {
					st.replaced(fromRecord(old, cur))
				}
			}
		}
		if err := s.writeSidecar(bucket, key, sc); err != nil {
			return backends.ObjectInfo{}, fsErr(err, "cannot write the metadata of "+key)
		}
	} else if st.replaced != nil && cur != nil && cur.Mode().IsRegular() {
		s.reportRecord(bucket, key, cur, st.replaced)
	}
	if err := s.renameInto(bucket, key, st.name, target); err != nil {
		return backends.ObjectInfo{}, err
	}
	st.name = ""
	s.syncDir(parentOf(target))
	if inXattr {
		// A sidecar left by an earlier version would be ignored (its
		// stamp differs) but need not stay.
		s.removeSidecar(bucket, key)
	}
	return backends.ObjectInfo{Key: key, Meta: fromRecord(rec, st.fi)}, nil
}

// bumpMTime moves the mtime of a temporary file past old's, in steps that
// file systems with coarse timestamps can store.
func (s *Store) bumpMTime(name string, old fs.FileInfo) (fs.FileInfo, error) {
	for _, d := range []time.Duration{time.Microsecond, time.Millisecond, time.Second, 2 * time.Second} {
		if err := s.fs.Chtimes(name, old.ModTime().Add(d)); err != nil {
			return nil, err
		}
		fi, err := s.fs.Stat(name)
		if err != nil {
			return nil, err
		}
		if fi.ModTime().After(old.ModTime()) {
			return fi, nil
		}
	}
	return nil, errors.New("cannot move the modification time forward")
}

// renameInto renames a temporary file to target, making the parents again
// if a concurrent delete pruned them.
func (s *Store) renameInto(bucket, key, tmp, target string) error {
	var err error
	for range 3 {
		if err = s.fs.Rename(tmp, target); err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if _, serr := s.fs.Lstat(tmp); serr != nil {
			break
		}
		if merr := s.makeParents(bucket, key); merr != nil {
			return merr
		}
	}
	return fsErr(err, "cannot publish "+key)
}

// makeParents makes the folders above key, refusing to go through a file or
// a symbolic link: a write never follows a link.
func (s *Store) makeParents(bucket, key string) error {
	return s.makeDirs(bucket, parentKey(key), key)
}

// makeDirs makes the folders of dir (a key prefix) one by one. A concurrent
// delete may prune a parent between two steps: then it starts again.
func (s *Store) makeDirs(bucket, dir, key string) error {
	var err error
	for range 5 {
		if err = s.tryMakeDirs(bucket, dir, key); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fsErr(err, "cannot create folder for "+key)
}

func (s *Store) tryMakeDirs(bucket, dir, key string) error {
	p := bucket
	for seg := range strings.SplitSeq(strings.TrimSuffix(dir, "/"), "/") {
		if seg == "" {
			continue
		}
		p += "/" + seg
		fi, err := s.fs.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err = s.fs.Mkdir(p); err == nil {
				continue
			}
			if !errors.Is(err, fs.ErrExist) {
				return err // ErrNotExist: the parent went away, start again
			}
			fi, err = s.fs.Lstat(p)
		}
		switch {
		case err != nil:
			if errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return fsErr(err, "cannot create folder for "+key)
		case fi.IsDir():
		case fi.Mode()&fs.ModeSymlink != 0:
			return backends.Errorf(backends.Conflict, "cannot write %q: %q is a symbolic link, and writes never follow links", key, strings.TrimPrefix(p, bucket+"/"))
		default:
			return backends.Errorf(backends.Conflict, "cannot write %q: the key %q is a file, and a file-system backend cannot store keys below it", key, strings.TrimPrefix(p, bucket+"/"))
		}
	}
	return nil
}

// checkParents reports a Conflict when a parent of key is a file or a link,
// without making anything. The common case (the parent folder exists) costs
// one Lstat.
func (s *Store) checkParents(bucket, key string) error {
	dir := parentKey(key)
	if dir == "" {
		return nil
	}
	if fi, err := s.fs.Lstat(dirPath(bucket, dir)); err == nil && fi.IsDir() {
		return nil
	}
	p := bucket
	for seg := range strings.SplitSeq(strings.TrimSuffix(dir, "/"), "/") {
		p += "/" + seg
		fi, err := s.fs.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return fsErr(err, "cannot write "+key)
		case fi.Mode()&fs.ModeSymlink != 0:
			return backends.Errorf(backends.Conflict, "cannot write %q: %q is a symbolic link, and writes never follow links", key, strings.TrimPrefix(p, bucket+"/"))
		case !fi.IsDir():
			return backends.Errorf(backends.Conflict, "cannot write %q: the key %q is a file, and a file-system backend cannot store keys below it", key, strings.TrimPrefix(p, bucket+"/"))
		}
	}
	return nil
}

// clearTarget makes room for a file at key: a directory there is removed if
// it is empty and not a folder object, else the key is in conflict. It
// returns what is at key otherwise (nil when nothing is).
func (s *Store) clearTarget(bucket, key string) (fs.FileInfo, error) {
	target := objPath(bucket, key)
	fi, err := s.fs.Lstat(target)
	if err != nil {
		return nil, nil
	}
	if !fi.IsDir() {
		return fi, nil
	}
	conflict := backends.Errorf(backends.Conflict, "cannot write %q: %q is a folder holding other keys, and a file-system backend cannot store both", key, key+"/")
	if s.readSidecar(bucket, key+"/") != nil {
		return nil, conflict
	}
	if err := s.fs.Remove(target); err != nil {
		return nil, conflict
	}
	return nil, nil
}

func (s *Store) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if err := s.checkObject(ctx, bucket, key); err != nil {
		return backends.ObjectInfo{}, err
	}
	cond := conditions{ifMatch: opts.IfMatch, ifNoneMatch: opts.IfNoneMatch}
	if isFolderKey(key) {
		return s.putFolder(ctx, bucket, key, data, opts.Meta, cond)
	}
	// Fail early, before reading the data, when a parent is in the way.
	if err := s.checkParents(bucket, key); err != nil {
		return backends.ObjectInfo{}, err
	}
	st, err := s.stage(ctx, func(w io.Writer) error {
		_, err := copyData(ctx, w, data)
		return err
	})
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	st.replaced = opts.Replaced
	meta := opts.MetaValue()
	return s.commit(ctx, bucket, key, st, meta, cond)
}

// putFolder stores a folder object: the directory, and its metadata in a
// sidecar. A folder cannot hold data.
func (s *Store) putFolder(ctx context.Context, bucket, key string, data io.Reader, mp *backends.Meta, cond conditions) (backends.ObjectInfo, error) {
	var b [1]byte
	for data != nil {
		n, err := data.Read(b[:])
		if n > 0 {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidArgument, "the key %q ends in / and names a folder, which cannot hold data on a file-system backend", key)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	var meta backends.Meta
	if mp != nil {
		meta = *mp
	}
	meta.Size = 0
	meta.ModTime = time.Now().UTC()
	if meta.ETag == "" {
		meta.ETag = emptyETag
	}
	unlock := s.lock(bucket, key)
	defer unlock()
	if err := s.checkCond(bucket, key, cond, s.open); err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := s.putFolderLocked(bucket, key, meta); err != nil {
		return backends.ObjectInfo{}, err
	}
	return backends.ObjectInfo{Key: key, Meta: meta}, nil
}

// folderInfo returns the folder object key ("x/"), NoSuchKey if its
// directory or its marker is missing.
func (s *Store) folderInfo(bucket, key string) (backends.ObjectInfo, error) {
	fi, err := s.fs.Stat(objPath(bucket, key))
	if err != nil || !fi.IsDir() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return backends.ObjectInfo{}, noSuchKey(bucket, key)
		}
		return backends.ObjectInfo{}, fsErr(err, "cannot read "+key)
	}
	sc := s.readSidecar(bucket, key)
	if sc == nil || !sc.Dir || len(sc.Records) == 0 {
		return backends.ObjectInfo{}, noSuchKey(bucket, key)
	}
	m := sc.Records[0].Meta
	m.Size = 0
	if m.ETag == "" {
		m.ETag = emptyETag
	}
	return backends.ObjectInfo{Key: key, Meta: m}, nil
}

// open opens the file at key with its metadata, for a caller that holds
// the key's lock (or that can take a record missed by a race for none).
func (s *Store) open(bucket, key string) (File, backends.ObjectInfo, error) {
	f, info, _, err := s.openMeta(bucket, key)
	return f, info, err
}

// openRead is open for a reader that does not hold the key's lock. Some
// file systems miss a name for a moment while a file is renamed over it
// (Samba answers "not found"), so a reader that misses the file or its
// record while this Store changed a key of the same lock stripe opens it
// again under the lock, where no change of this Store can overlap it.
func (s *Store) openRead(bucket, key string) (File, backends.ObjectInfo, error) {
	l := &s.locks[s.stripe(bucket, key)]
	gen := l.gen.Load()
	f, info, ok, err := s.openMeta(bucket, key)
	missed := err == nil && !ok || backends.Is(err, backends.NoSuchKey)
	if !missed || !l.busy.Load() && l.gen.Load() == gen {
		return f, info, err
	}
	if f != nil {
		f.Close()
	}
	l.lock()
	defer l.unlock()
	return s.open(bucket, key)
}

// openMeta opens the file at key with its metadata; ok is false when no
// record matched it (the metadata is derived from the file). When no
// record matches, it checks whether a writer replaced the file meanwhile
// and tries again, so that data and metadata match.
func (s *Store) openMeta(bucket, key string) (File, backends.ObjectInfo, bool, error) {
	p := objPath(bucket, key)
	for try := 0; ; try++ {
		f, err := s.fs.Open(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, backends.ObjectInfo{}, false, noSuchKey(bucket, key)
			}
			return nil, backends.ObjectInfo{}, false, fsErr(err, "cannot open "+key)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, backends.ObjectInfo{}, false, fsErr(err, "cannot open "+key)
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, backends.ObjectInfo{}, false, noSuchKey(bucket, key)
		}
		m, ok := s.loadMeta(bucket, key, f, fi)
		if !ok && try < 3 {
			// Replaced, moved or deleted since it was opened (and
			// its record with it): open what is there now.
			now, err := s.fs.Stat(p)
			if err == nil && stampOf(now) != stampOf(fi) || errors.Is(err, fs.ErrNotExist) {
				f.Close()
				continue
			}
		}
		return f, backends.ObjectInfo{Key: key, Meta: m}, ok, nil
	}
}

// headLocked is HeadObject for a caller that holds the key's lock.
func (s *Store) headLocked(bucket, key string) (backends.ObjectInfo, error) {
	return s.head(bucket, key, s.open)
}

func (s *Store) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	if err := s.checkExisting(ctx, bucket, key); err != nil {
		return backends.ObjectInfo{}, err
	}
	return s.head(bucket, key, s.openRead)
}

// head returns the info of key, opening its file with open.
func (s *Store) head(bucket, key string, open func(bucket, key string) (File, backends.ObjectInfo, error)) (backends.ObjectInfo, error) {
	if isFolderKey(key) {
		return s.folderInfo(bucket, key)
	}
	f, info, err := open(bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	f.Close()
	return info, nil
}

// objectReader streams a range of an open file.
type objectReader struct {
	io.Reader
	f File
}

func (r *objectReader) Close() error { return r.f.Close() }

func (s *Store) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	if err := s.checkExisting(ctx, bucket, key); err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	if isFolderKey(key) {
		info, err := s.folderInfo(bucket, key)
		if err != nil {
			return nil, info, err
		}
		if _, _, err := rng.Resolve(0); err != nil {
			return nil, backends.ObjectInfo{}, err
		}
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	f, info, err := s.openRead(bucket, key)
	if err != nil {
		return nil, info, err
	}
	off, n, err := rng.Resolve(info.Size)
	if err != nil {
		f.Close()
		return nil, backends.ObjectInfo{}, err
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, backends.ObjectInfo{}, fsErr(err, "cannot read "+key)
		}
	}
	return &objectReader{Reader: io.LimitReader(f, n), f: f}, info, nil
}

func (s *Store) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	if err := s.checkObject(ctx, bucket, key); err != nil {
		return backends.ObjectInfo{}, err
	}
	unlock := s.lock(bucket, key)
	defer unlock()
	if meta.ModTime.IsZero() {
		meta.ModTime = time.Now().UTC()
	}
	if isFolderKey(key) {
		cur, err := s.folderInfo(bucket, key)
		if err != nil {
			return cur, err
		}
		meta.Size, meta.ETag = 0, cur.ETag
		sc := &sidecar{Dir: true, Records: []record{{V: metaVersion, Meta: meta}}}
		if err := s.writeSidecar(bucket, key, sc); err != nil {
			return backends.ObjectInfo{}, fsErr(err, "cannot write the metadata of "+key)
		}
		return backends.ObjectInfo{Key: key, Meta: meta}, nil
	}
	f, cur, err := s.open(bucket, key)
	if err != nil {
		return cur, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return backends.ObjectInfo{}, fsErr(err, "cannot read "+key)
	}
	// The data, and so the stamp, stay: only the record changes.
	meta.Size, meta.ETag = cur.Size, cur.ETag
	rec := record{V: metaVersion, stamp: stampOf(fi), Meta: meta}
	b, _ := json.Marshal(rec)
	x, hasX := f.(Xattrs)
	if s.xattrs && hasX && x.SetXattr(XattrName, b) == nil {
		s.removeSidecar(bucket, key)
	} else {
		if err := s.writeSidecar(bucket, key, &sidecar{Records: []record{rec}}); err != nil {
			return backends.ObjectInfo{}, fsErr(err, "cannot write the metadata of "+key)
		}
		if s.xattrs && hasX {
			x.RemoveXattr(XattrName)
		}
	}
	return backends.ObjectInfo{Key: key, Meta: fromRecord(rec, fi)}, nil
}

func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	return s.DeleteObjectReporting(ctx, bucket, key, nil)
}

// DeleteObjectReporting is DeleteObject that calls deleted (when not nil)
// with the metadata of the file it removes, when it has a record.
func (s *Store) DeleteObjectReporting(ctx context.Context, bucket, key string, deleted func(backends.Meta)) error {
	if err := s.checkExisting(ctx, bucket, key); err != nil {
		if backends.Is(err, backends.NoSuchKey) {
			return nil // a key no file can have: nothing to delete
		}
		return err
	}
	unlock := s.lock(bucket, key)
	defer unlock()
	return s.removeLocked(bucket, key, deleted)
}

// prune removes the empty folders from dir up, stopping at the bucket, at
// a folder object and at the first folder that is not empty. Folders
// made by writes to keys below them would otherwise stay forever.
func (s *Store) prune(bucket, dir string) {
	for dir != "" {
		if s.readSidecar(bucket, dir) != nil {
			return
		}
		if s.fs.Remove(dirPath(bucket, dir)) != nil {
			return
		}
		dir = parentKey(dir)
	}
}
