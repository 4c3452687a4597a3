package fsstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"sync"

	"github.com/strata-storage/strata/backends"
)

var (
	_ backends.Mover     = (*Store)(nil)
	_ backends.SysLister = (*Store)(nil)
)

// ListsSys reports that listings carry Meta.Sys: a listed file's record
// is read anyway (for its ETag), and Sys is part of it.
func (s *Store) ListsSys(bucket string) bool { return true }

// MoveObject moves the object at src to dst (backends.Mover). A file is
// renamed: its data is not copied, and it keeps its metadata, its ETag and
// its time. Its record moves with it (an xattr travels with the file; a
// sidecar is written for dst before the rename and the one of src removed
// after it). Both keys are locked, in a fixed order. dst is replaced
// atomically, with the same Conflict rules as PutObject, and its parent
// folders are made. A folder object moves as its record (the folder and
// what is below it stay). What cannot be renamed is copied within the
// tree and then removed: a symbolic link (a rename would move the link,
// whose target may then resolve elsewhere), and a move between a folder
// key ("x/") and a file key.
func (s *Store) MoveObject(ctx context.Context, bucket, src, dst string) error {
	if err := s.checkObject(ctx, bucket, src); err != nil {
		return err
	}
	if err := checkKey(dst, s.opts.WindowsNames); err != nil {
		return err
	}
	if src == dst {
		_, err := s.HeadObject(ctx, bucket, src)
		return err
	}
	if !isFolderKey(dst) {
		// Fail early when a parent of dst is in the way.
		if err := s.checkParents(bucket, dst); err != nil {
			return err
		}
	}
	unlock := s.lock2(bucket, src, dst)
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if isFolderKey(src) {
		if isFolderKey(dst) {
			return s.moveFolder(bucket, src, dst)
		}
		return s.moveByCopy(ctx, bucket, src, dst)
	}
	fi, err := s.fs.Lstat(objPath(bucket, src))
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && fi.IsDir():
		return noSuchKey(bucket, src)
	case err != nil:
		return fsErr(err, "cannot read "+src)
	case !fi.Mode().IsRegular() || isFolderKey(dst):
		return s.moveByCopy(ctx, bucket, src, dst)
	}
	return s.moveFile(bucket, src, dst)
}

// moveFile renames the regular file at src to dst; the caller holds both
// keys' locks.
func (s *Store) moveFile(bucket, src, dst string) error {
	from, target := objPath(bucket, src), objPath(bucket, dst)
	f, info, err := s.open(bucket, src)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fsErr(err, "cannot read "+src)
	}
	// The metadata as read now becomes the record at dst, also for a file
	// that had none of its own (its derived ETag and time stay the same
	// after a rename, its derived type may not).
	rec := record{V: metaVersion, stamp: stampOf(fi), Meta: info.Meta}
	inXattr := false
	if s.xattrs {
		if x, ok := f.(Xattrs); ok {
			b, _ := json.Marshal(rec)
			inXattr = x.SetXattr(XattrName, b) == nil
		}
	}
	f.Close() // before the rename: Windows and SMB refuse to rename open files
	if err := s.makeParents(bucket, dst); err != nil {
		return err
	}
	cur, err := s.clearTarget(bucket, dst)
	if err != nil {
		return err
	}
	if !inXattr {
		// As in commit: the sidecar holds the moved file's record and
		// the one of the file it replaces, whose readers may still
		// look for it. Their stamps must differ: when they do not
		// (same size, and the same mtime on a coarse clock), the moved
		// file's mtime is moved past the other's. The moved file is
		// usually older than the one it replaces, so the mtimes of a
		// key do not always grow here as they do in commit; readers
		// tell files apart by equality only.
		sc := &sidecar{Records: []record{rec}}
		if cur != nil && cur.Mode().IsRegular() {
			if stampOf(fi) == stampOf(cur) {
				nfi, err := s.bumpMTime(from, cur)
				if err != nil {
					return fsErr(err, "cannot move "+src)
				}
				rec.stamp = stampOf(nfi)
				sc.Records[0] = rec
			}
			if old, ok := s.readSidecar(bucket, dst).find(stampOf(cur)); ok {
				sc.Records = append(sc.Records, old)
			}
		}
		if err := s.writeSidecar(bucket, dst, sc); err != nil {
			return fsErr(err, "cannot write the metadata of "+dst)
		}
	}
	if err := s.renameInto(bucket, dst, from, target); err != nil {
		return err
	}
	s.syncDir(parentOf(target))
	s.syncDir(parentOf(from))
	s.removeSidecar(bucket, src)
	if inXattr {
		s.removeSidecar(bucket, dst)
	}
	s.prune(bucket, parentKey(src))
	return nil
}

// moveFolder moves the folder object src to the folder key dst: its
// record; the caller holds both keys' locks.
func (s *Store) moveFolder(bucket, src, dst string) error {
	info, err := s.folderInfo(bucket, src)
	if err != nil {
		return err
	}
	if err := s.putFolderLocked(bucket, dst, info.Meta); err != nil {
		return err
	}
	return s.removeLocked(bucket, src, nil)
}

// moveByCopy copies src to dst within the tree and removes src; the caller
// holds both keys' locks. The object keeps its metadata and time.
func (s *Store) moveByCopy(ctx context.Context, bucket, src, dst string) error {
	var info backends.ObjectInfo
	var body io.Reader
	// src is closed before it is removed: SMB (and Windows) refuse to
	// remove a file that is open.
	closeSrc := func() {}
	if isFolderKey(src) {
		var err error
		if info, err = s.folderInfo(bucket, src); err != nil {
			return err
		}
	} else {
		f, i, err := s.open(bucket, src)
		if err != nil {
			return err
		}
		var once sync.Once
		closeSrc = func() { once.Do(func() { f.Close() }) }
		defer closeSrc()
		info, body = i, f
	}
	if isFolderKey(dst) {
		if info.Size > 0 {
			return backends.Errorf(backends.InvalidArgument, "the key %q ends in / and names a folder, which cannot hold the %d bytes of %q on a file-system backend", dst, info.Size, src)
		}
		if err := s.putFolderLocked(bucket, dst, info.Meta); err != nil {
			return err
		}
		closeSrc()
		return s.removeLocked(bucket, src, nil)
	}
	st, err := s.stage(ctx, func(w io.Writer) error {
		n, err := copyData(ctx, w, body)
		if err == nil && n != info.Size {
			err = backends.Errorf(backends.Internal, "%q changed while it was moved", src)
		}
		return fsErr(err, "cannot read "+src)
	})
	if err != nil {
		return err
	}
	defer func() {
		if st.w != nil || st.name != "" {
			st.discard(s)
		}
	}()
	meta := info.Meta
	meta.Size = st.fi.Size()
	rec, inXattr, err := s.seal(st, meta)
	if err != nil {
		return err
	}
	closeSrc()
	if _, err := s.publishLocked(ctx, bucket, dst, st, rec, inXattr, conditions{}); err != nil {
		return err
	}
	return s.removeLocked(bucket, src, nil)
}

// putFolderLocked stores the folder object key with meta (its time kept);
// the caller holds the key's lock.
func (s *Store) putFolderLocked(bucket, key string, meta backends.Meta) error {
	meta.Size = 0
	if meta.ETag == "" {
		meta.ETag = emptyETag
	}
	if err := s.makeDirs(bucket, key, key); err != nil {
		return err
	}
	sc := &sidecar{Dir: true, Records: []record{{V: metaVersion, Meta: meta}}}
	if err := s.writeSidecar(bucket, key, sc); err != nil {
		return fsErr(err, "cannot write the metadata of "+key)
	}
	// A concurrent delete below may have pruned the folder meanwhile.
	return s.makeDirs(bucket, key, key)
}

// removeLocked is DeleteObject for a caller that holds the key's lock.
// reportRecord calls report with the metadata in the record of the file at
// key (fi, from Lstat), if it has one.
func (s *Store) reportRecord(bucket, key string, fi fs.FileInfo, report func(backends.Meta)) {
	var m backends.Meta
	ok := false
	if s.xattrs {
		if f, err := s.fs.Open(objPath(bucket, key)); err == nil {
			if ffi, err := f.Stat(); err == nil {
				m, ok = s.loadMeta(bucket, key, f, ffi)
			}
			f.Close()
		}
	} else {
		m, ok = metaFrom(s.readSidecar(bucket, key), key, fi)
	}
	if ok {
		report(m)
	}
}

func (s *Store) removeLocked(bucket, key string, deleted func(backends.Meta)) error {
	p := objPath(bucket, key)
	if isFolderKey(key) {
		if err := s.removeSidecar(bucket, key); err != nil {
			return fsErr(err, "cannot delete "+key)
		}
		// The directory goes too if nothing else is in it.
		if fi, err := s.fs.Lstat(p); err == nil && fi.IsDir() {
			s.fs.Remove(p)
		}
	} else {
		fi, err := s.fs.Lstat(p)
		if err != nil || fi.IsDir() {
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fsErr(err, "cannot delete "+key)
		}
		if deleted != nil {
			s.reportRecord(bucket, key, fi, deleted)
		}
		if err := s.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fsErr(err, "cannot delete "+key)
		}
		s.removeSidecar(bucket, key)
	}
	s.syncDir(parentOf(p))
	s.prune(bucket, parentKey(key))
	return nil
}
