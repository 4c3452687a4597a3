package nfs

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// NFSv3 (RFC 1813) and MOUNT v3 procedures that the FS needs. Program,
// procedure and status numbers come from the client library; the
// encoding of the arguments and results is done here (see xdr.go).

const (
	procNull        = 0
	procGetattr     = nfsc.NFSProc3GetAttr
	procSetattr     = nfsc.NFSProc3SetAttr
	procLookup      = nfsc.NFSProc3Lookup
	procReadlink    = nfsc.NFSProc3Readlink
	procRead        = nfsc.NFSProc3Read
	procWrite       = nfsc.NFSProc3Write
	procCreate      = nfsc.NFSProc3Create
	procMkdir       = nfsc.NFSProc3Mkdir
	procRemove      = nfsc.NFSProc3Remove
	procRmdir       = nfsc.NFSProc3RmDir
	procRename      = nfsc.NFSProc3Rename
	procLink        = 15
	procReaddirplus = nfsc.NFSProc3ReadDirPlus
	procFsinfo      = nfsc.NFSProc3FSInfo
	procCommit      = nfsc.NFSProc3Commit

	stableUnstable = 0
	stableFileSync = 2

	createGuarded = 1

	maxFH = 64
)

// statusError is an NFS3ERR_* status other than the ones with an fs
// meaning.
type statusError struct {
	proc   string
	status uint32
}

func (e *statusError) Error() string {
	if err := nfsc.NFS3Error(e.status); err != nil {
		return fmt.Sprintf("nfs: %s: %v (%d)", e.proc, err, e.status)
	}
	return fmt.Sprintf("nfs: %s: status %d", e.proc, e.status)
}

var (
	errNotEmpty = errors.New("directory not empty")
	errStale    = errors.New("stale file handle")
)

// statusErr gives an NFS status the meaning fsstore.FS expects.
func statusErr(proc string, status uint32) error {
	switch status {
	case nfsc.NFS3Ok:
		return nil
	case nfsc.NFS3ErrNoEnt:
		return fmt.Errorf("nfs: %s: %w", proc, fs.ErrNotExist)
	case nfsc.NFS3ErrNotDir:
		return fmt.Errorf("nfs: %s: %w (a parent is not a directory)", proc, fs.ErrNotExist)
	case nfsc.NFS3ErrExist:
		return fmt.Errorf("nfs: %s: %w", proc, fs.ErrExist)
	case nfsc.NFS3ErrPerm, nfsc.NFS3ErrAcces, nfsc.NFS3ErrROFS:
		return fmt.Errorf("nfs: %s: %w (%d)", proc, fs.ErrPermission, status)
	case nfsc.NFS3ErrNotEmpty:
		return fmt.Errorf("nfs: %s: %w", proc, errNotEmpty)
	case nfsc.NFS3ErrStale, nfsc.NFS3ErrBadHandle:
		return fmt.Errorf("nfs: %s: %w", proc, errStale)
	}
	return &statusError{proc, status}
}

// attr is a fattr3.
type attr struct {
	typ    uint32
	mode   uint32
	size   uint64
	fileid uint64
	mtime  time.Time
}

func (d *dec) time() time.Time {
	s, ns := d.u32(), d.u32()
	return time.Unix(int64(s), int64(ns))
}

func (d *dec) fattr() attr {
	var a attr
	a.typ = d.u32()
	a.mode = d.u32()
	d.u32() // nlink
	d.u32() // uid
	d.u32() // gid
	a.size = d.u64()
	d.u64() // used
	d.u64() // rdev
	d.u64() // fsid
	a.fileid = d.u64()
	d.time() // atime
	a.mtime = d.time()
	d.time() // ctime
	return a
}

// postOpAttr reads a post_op_attr.
func (d *dec) postOpAttr() (attr, bool) {
	if d.bool() {
		return d.fattr(), d.err == nil
	}
	return attr{}, false
}

func (d *dec) wcc() {
	if d.bool() { // pre_op_attr: size, mtime, ctime
		d.u64()
		d.time()
		d.time()
	}
	d.postOpAttr()
}

func (d *dec) postOpFH() ([]byte, bool) {
	if d.bool() {
		return clone(d.opaque(maxFH)), d.err == nil
	}
	return nil, false
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func (e *enc) dirop(dir []byte, name string) {
	e.opaque(dir)
	e.str(name)
}

// sattr writes a sattr3 that sets mode (if mode >= 0) and mtime (if not
// zero).
func (e *enc) sattr(mode int, mtime time.Time) {
	e.bool(mode >= 0)
	if mode >= 0 {
		e.u32(uint32(mode))
	}
	e.bool(false) // uid
	e.bool(false) // gid
	e.bool(false) // size
	e.u32(0)      // atime: DONT_CHANGE
	if mtime.IsZero() {
		e.u32(0)
	} else {
		e.u32(2) // SET_TO_CLIENT_TIME
		e.u32(uint32(mtime.Unix()))
		e.u32(uint32(mtime.Nanosecond()))
	}
}

// client makes NFSv3 calls on one export.
type client struct {
	nfs    *pool
	cred   []byte
	rtsize uint32
	wtsize uint32
	chunks sync.Pool // *[]byte of capacity max(rtsize, wtsize), for readers and writers
}

// chunk returns an empty buffer of capacity n or more.
func (c *client) chunk(n uint32) *[]byte {
	if b, ok := c.chunks.Get().(*[]byte); ok && cap(*b) >= int(n) {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, max(c.rtsize, c.wtsize, n))
	return &b
}

func (c *client) putChunk(b *[]byte) { c.chunks.Put(b) }

// release waits for a read ahead and gives its buffer back.
func (c *client) release(ft *fetch) {
	if ft != nil {
		<-ft.done
		c.putChunk(ft.buf)
	}
}

func (c *client) call(proc uint32, idempotent bool, args *enc, handle func(*dec) error) error {
	return c.nfs.call(nfsc.Nfs3Prog, nfsc.Nfs3Vers, proc, c.cred, args.b, nil, idempotent, handle)
}

// status reads the status word of a result.
func status(d *dec, proc string) error {
	s := d.u32()
	if d.err != nil {
		return d.err
	}
	return statusErr(proc, s)
}

func (c *client) getattr(fh []byte) (attr, error) {
	var e enc
	e.opaque(fh)
	var a attr
	err := c.call(procGetattr, true, &e, func(d *dec) error {
		if err := status(d, "getattr"); err != nil {
			return err
		}
		a = d.fattr()
		return d.err
	})
	return a, err
}

func (c *client) lookup(dir []byte, name string) ([]byte, attr, error) {
	var e enc
	e.dirop(dir, name)
	var fh []byte
	var a attr
	var have bool
	err := c.call(procLookup, true, &e, func(d *dec) error {
		if err := status(d, "lookup "+name); err != nil {
			return err
		}
		fh = clone(d.opaque(maxFH))
		a, have = d.postOpAttr()
		return d.err
	})
	if err == nil && !have {
		a, err = c.getattr(fh)
	}
	return fh, a, err
}

func (c *client) readlink(fh []byte) (string, error) {
	var e enc
	e.opaque(fh)
	var target string
	err := c.call(procReadlink, true, &e, func(d *dec) error {
		if err := status(d, "readlink"); err != nil {
			return err
		}
		d.postOpAttr()
		target = string(d.opaque(4096))
		return d.err
	})
	return target, err
}

// read reads up to len(p) bytes at off.
func (c *client) read(fh []byte, off uint64, p []byte) (int, bool, error) {
	var e enc
	e.opaque(fh)
	e.u64(off)
	e.u32(uint32(len(p)))
	var n int
	var eof bool
	err := c.call(procRead, true, &e, func(d *dec) error {
		if err := status(d, "read"); err != nil {
			return err
		}
		d.postOpAttr()
		d.u32() // count
		eof = d.bool()
		data := d.opaque(len(p))
		n = copy(p, data)
		return d.err
	})
	return n, eof, err
}

// write writes p at off and returns the count, how it was committed and
// the server's write verifier.
func (c *client) write(fh []byte, off uint64, p []byte, stable uint32) (int, uint32, uint64, error) {
	var e enc
	e.opaque(fh)
	e.u64(off)
	e.u32(uint32(len(p)))
	e.u32(stable)
	e.u32(uint32(len(p))) // the data's length; the data follows as the payload
	var n, how uint32
	var verf uint64
	err := c.nfs.call(nfsc.Nfs3Prog, nfsc.Nfs3Vers, procWrite, c.cred, e.b, p, true, func(d *dec) error {
		if err := status(d, "write"); err != nil {
			return err
		}
		d.wcc()
		n = d.u32()
		how = d.u32()
		verf = d.u64()
		return d.err
	})
	return int(n), how, verf, err
}

func (c *client) commit(fh []byte) (uint64, error) {
	var e enc
	e.opaque(fh)
	e.u64(0)
	e.u32(0) // to the end of the file
	var verf uint64
	err := c.call(procCommit, true, &e, func(d *dec) error {
		if err := status(d, "commit"); err != nil {
			return err
		}
		d.wcc()
		verf = d.u64()
		return d.err
	})
	return verf, err
}

// create makes a new file (GUARDED: it fails if name exists).
func (c *client) create(dir []byte, name string, mode int) ([]byte, error) {
	var e enc
	e.dirop(dir, name)
	e.u32(createGuarded)
	e.sattr(mode, time.Time{})
	var fh []byte
	err := c.call(procCreate, false, &e, func(d *dec) error {
		if err := status(d, "create "+name); err != nil {
			return err
		}
		fh, _ = d.postOpFH()
		return d.err
	})
	if err == nil && fh == nil {
		fh, _, err = c.lookup(dir, name)
	}
	return fh, err
}

func (c *client) mkdir(dir []byte, name string, mode int) error {
	var e enc
	e.dirop(dir, name)
	e.sattr(mode, time.Time{})
	return c.call(procMkdir, false, &e, func(d *dec) error { return status(d, "mkdir "+name) })
}

func (c *client) remove(dir []byte, name string, isDir bool) error {
	var e enc
	e.dirop(dir, name)
	proc, what := uint32(procRemove), "remove "
	if isDir {
		proc, what = procRmdir, "rmdir "
	}
	return c.call(proc, false, &e, func(d *dec) error { return status(d, what+name) })
}

func (c *client) rename(fromDir []byte, from string, toDir []byte, to string) error {
	var e enc
	e.dirop(fromDir, from)
	e.dirop(toDir, to)
	return c.call(procRename, false, &e, func(d *dec) error { return status(d, "rename "+from+" "+to) })
}

// link makes a hard link dir/name to the file fh.
func (c *client) link(fh, dir []byte, name string) error {
	var e enc
	e.opaque(fh)
	e.dirop(dir, name)
	return c.call(procLink, false, &e, func(d *dec) error { return status(d, "link "+name) })
}

func (c *client) setattr(fh []byte, mode int, mtime time.Time) error {
	var e enc
	e.opaque(fh)
	e.sattr(mode, mtime)
	e.bool(false) // no guard
	return c.call(procSetattr, true, &e, func(d *dec) error { return status(d, "setattr") })
}

// dirent is one entry of READDIRPLUS.
type dirent struct {
	name    string
	attr    attr
	hasAttr bool
}

func (c *client) readdir(dir []byte) ([]dirent, error) {
	var out []dirent
	var cookie, verf uint64
	for {
		var e enc
		e.opaque(dir)
		e.u64(cookie)
		e.u64(verf)
		e.u32(64 << 10)  // dircount
		e.u32(256 << 10) // maxcount
		eof := false
		n := 0
		err := c.call(procReaddirplus, true, &e, func(d *dec) error {
			if err := status(d, "readdirplus"); err != nil {
				return err
			}
			d.postOpAttr()
			verf = d.u64()
			for d.bool() {
				d.u64() // fileid
				name := string(d.opaque(4096))
				cookie = d.u64()
				a, ok := d.postOpAttr()
				d.postOpFH()
				if d.err != nil {
					return d.err
				}
				n++
				if name == "." || name == ".." {
					continue
				}
				out = append(out, dirent{name: name, attr: a, hasAttr: ok})
			}
			eof = d.bool()
			return d.err
		})
		if err != nil {
			return nil, err
		}
		if eof || n == 0 {
			return out, nil
		}
	}
}

type fsinfo struct{ rtmax, rtpref, wtmax, wtpref uint32 }

func (c *client) fsinfo(fh []byte) (fsinfo, error) {
	var e enc
	e.opaque(fh)
	var fi fsinfo
	err := c.call(procFsinfo, true, &e, func(d *dec) error {
		if err := status(d, "fsinfo"); err != nil {
			return err
		}
		d.postOpAttr()
		fi.rtmax, fi.rtpref = d.u32(), d.u32()
		d.u32()
		fi.wtmax, fi.wtpref = d.u32(), d.u32()
		return d.err
	})
	return fi, err
}

// mount asks the MOUNT v3 service for the root handle of export.
func mount(p *pool, cred []byte, export string) ([]byte, error) {
	var e enc
	e.str(export)
	var fh []byte
	err := p.call(nfsc.MountProg, nfsc.MountVers, nfsc.MountProc3MNT, cred, e.b, nil, true, func(d *dec) error {
		st := d.u32()
		if d.err != nil {
			return d.err
		}
		if st != 0 {
			msg := map[uint32]string{1: "not permitted", 2: "no such export", 5: "I/O error", 13: "access denied (is this host allowed by the export, and from a reserved port if it is 'secure'?)", 20: "not a directory"}[st]
			return fmt.Errorf("nfs: mount %s: status %d %s", export, st, msg)
		}
		fh = clone(d.opaque(maxFH))
		return d.err
	})
	return fh, err
}
