//go:build linux

package mount

import (
	"context"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// renameWorkers is how many keys a directory rename moves at once.
const renameWorkers = 8

// Rename moves a file (server-side copy, then delete) or a directory (the
// same for every key below it: a cost in proportion to the number of
// objects and their bytes, and not atomic: docs/mount.md).
func (d *dirNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	f := d.fsys
	if f.opt.ReadOnly {
		return syscall.EROFS
	}
	if flags&^uint32(1) != 0 { // RENAME_NOREPLACE is 1; RENAME_EXCHANGE and WHITEOUT are not done
		return syscall.EINVAL
	}
	nd, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	if e := validName(newName); e != 0 {
		return e
	}
	sdk, ok1 := d.key()
	ddk, ok2 := nd.key()
	if !ok1 || !ok2 {
		return syscall.ENOENT
	}
	src, dst := sdk+name, ddk+newName

	srcIn := d.GetChild(name)
	if srcIn == nil {
		var out fuse.EntryOut
		in, errno := d.Lookup(ctx, name, &out)
		if errno != 0 {
			return errno
		}
		srcIn = in
	}
	// What is at the target: the kernel looked the name up before asking,
	// so a target that exists has a node.
	dstIn := nd.GetChild(newName)
	dstExists := dstIn != nil
	dstDir := dstExists && dstIn.IsDir()
	if dstExists && flags&1 != 0 {
		return syscall.EEXIST
	}

	if !srcIn.IsDir() {
		if dstExists && dstDir {
			return syscall.EISDIR
		}
		fn, ok := srcIn.Operations().(*fileNode)
		if !ok {
			return syscall.EIO
		}
		if err := fn.moveTo(src, dst); err != nil {
			return toErrno(err)
		}
		if dstExists {
			if old, ok := dstIn.Operations().(*fileNode); ok && old != fn {
				old.unlinked()
			}
		}
		d.note(name, nil)
		fn.mu.Lock()
		o := fn.obj
		fn.mu.Unlock()
		nd.note(newName, &entry{obj: o})
		return 0
	}

	if dstExists {
		if !dstDir {
			return syscall.ENOTDIR
		}
		// Over an empty directory only.
		if hasLocalFiles(dstIn) {
			return syscall.ENOTEMPTY
		}
		page, err := f.store.List(f.ctx(), dst+"/", "", "", 2)
		if err != nil {
			return toErrno(err)
		}
		for _, o := range page.Objects {
			if o.Key != dst+"/" {
				return syscall.ENOTEMPTY
			}
		}
		if err := f.store.Delete(f.ctx(), dst+"/"); err != nil {
			return toErrno(err)
		}
	}
	if err := f.moveTree(srcIn, src+"/", dst+"/"); err != nil {
		return toErrno(err)
	}
	d.note(name, nil)
	nd.note(newName, &entry{dir: true})
	return 0
}

// syncTree stores what the files below in hold.
func (f *FS) syncTree(in *fs.Inode) error {
	for _, ch := range in.Children() {
		switch n := ch.Operations().(type) {
		case *fileNode:
			if err := n.sync(); err != nil {
				return err
			}
		case *dirNode:
			if err := f.syncTree(ch); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveTree moves every key below the prefix src to dst, page by page, a
// few keys at a time: copy, then delete the source.
func (f *FS) moveTree(in *fs.Inode, src, dst string) error {
	if err := f.syncTree(in); err != nil {
		return err
	}
	moved := 0
	token := ""
	for {
		page, err := f.store.List(f.ctx(), src, "", token, listPage)
		if err != nil {
			return err
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
			slots = make(chan struct{}, renameWorkers)
		)
		for _, o := range page.Objects {
			if !strings.HasPrefix(o.Key, src) {
				continue
			}
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				_, err := f.store.Copy(f.ctx(), o, dst+o.Key[len(src):], nil)
				if err == nil {
					err = f.store.Delete(f.ctx(), o.Key)
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if first != nil {
			return first
		}
		moved += len(page.Objects)
		if page.Next == "" {
			break
		}
		token = page.Next
	}
	if moved == 0 {
		// Nothing stored below it: keep the directory with a marker.
		if _, err := f.store.Put(f.ctx(), dst, strings.NewReader(""), 0, Meta{}); err != nil {
			return err
		}
	}
	return nil
}
