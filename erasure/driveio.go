package erasure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Every file-system call on a drive runs with a deadline (Options.
// DriveTimeout): a hung drive (a dead disk, a hard NFS mount) costs a
// request that much once, then the drive is offline and every call on it
// fails at once, so requests go on with the other drives within quorum.
// A call that fails in a way that may be the drive's (an I/O error, a
// folder that became a file, permissions) makes the drive probed; a drive
// whose probe fails is offline. Every Options.ProbeInterval every drive is
// probed: an offline drive that answers is back, an online one that fails
// (hung while idle, another drive in its place) goes offline.
//
// A call that passed its deadline may still complete later, in its own
// goroutine: callers never hand such a call a buffer that they use again
// (see objReader.readBlock and encodeStream).

const (
	// DefaultDriveTimeout is the deadline of every drive call.
	DefaultDriveTimeout = 30 * time.Second
	// DefaultProbeInterval is how often an offline drive is probed.
	DefaultProbeInterval = 5 * time.Second
	// probeSuspectEvery rate-limits the probes that failing calls ask for.
	probeSuspectEvery = time.Second
)

// driveTimeout is the error of a drive call that passed its deadline. It is
// an errNoDrive: the drive is offline from then on.
type driveTimeout struct {
	path, op string
	after    time.Duration
}

func (e *driveTimeout) Error() string {
	return fmt.Sprintf("drive %s: %s had no answer within %v", e.path, e.op, e.after)
}

func (e *driveTimeout) Is(target error) bool { return target == errNoDrive }

func isTimeout(err error) bool {
	var t *driveTimeout
	return errors.As(err, &t)
}

var errProbeBusy = errors.New("a probe of the drive is running")

// faultFunc is a test hook: it runs before every call on the drive (and
// every probe) and may fail it or block.
type faultFunc func(op string) error

// setFault installs a test hook on the drive; nil removes it.
func (d *drive) setFault(f faultFunc) {
	if f == nil {
		d.fault.Store(nil)
		return
	}
	d.fault.Store(&f)
}

type result[T any] struct {
	v   T
	err error
}

// do runs fn, one call on the drive, with the drive's deadline.
func do[T any](d *drive, op string, fn func() (T, error)) (T, error) {
	var zero T
	if d.down.Load() {
		return zero, d.downErr()
	}
	f := d.fault.Load()
	ch := make(chan result[T], 1)
	go func() {
		if f != nil {
			if err := (*f)(op); err != nil {
				ch <- result[T]{err: &os.PathError{Op: op, Path: d.path, Err: err}}
				return
			}
		}
		v, err := fn()
		ch <- result[T]{v, err}
	}()
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil && isFault(r.err) {
			d.suspect(r.err)
		}
		return r.v, r.err
	case <-t.C:
		err := &driveTimeout{d.path, op, d.timeout}
		d.setOffline(err.Error())
		return zero, err
	}
}

func (d *drive) call(op string, fn func() error) error {
	_, err := do(d, op, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// isFault reports whether err may say that the drive is failing, rather
// than something about the file (absent, there already) or a full drive.
func isFault(err error) bool {
	switch {
	case err == nil, errors.Is(err, errNoDrive), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrExist),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrClosed),
		errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.ENAMETOOLONG):
		return false
	}
	return true
}

// ---- file-system calls ----

func (d *drive) readFile(name string) ([]byte, error) {
	return do(d, "read file", func() ([]byte, error) { return os.ReadFile(name) })
}

func (d *drive) writeFile(name string, data []byte, sync bool) error {
	return d.call("write", func() error { return writeFileSync(name, data, sync) })
}

func (d *drive) rename(from, to string) error {
	return d.call("rename", func() error { return os.Rename(from, to) })
}

// renameSync renames from to to and, with sync, makes the rename durable
// by syncing to's directory: how new versions, parts and bucket files
// are published.
func (d *drive) renameSync(from, to string, sync bool) error {
	return d.call("rename", func() error {
		if err := os.Rename(from, to); err != nil || !sync {
			return err
		}
		return syncDir(filepath.Dir(to))
	})
}

func (d *drive) link(from, to string) error {
	return d.call("link", func() error { return os.Link(from, to) })
}

func (d *drive) mkdir(name string) error {
	return d.call("mkdir", func() error { return os.Mkdir(name, 0o755) })
}

func (d *drive) mkdirAll(name string) error {
	return d.call("mkdir", func() error { return os.MkdirAll(name, 0o755) })
}

func (d *drive) remove(name string) error {
	return d.call("remove", func() error { return os.Remove(name) })
}

func (d *drive) removeAll(name string) error {
	return d.call("remove", func() error { return os.RemoveAll(name) })
}

func (d *drive) stat(name string) (fs.FileInfo, error) {
	return do(d, "stat", func() (fs.FileInfo, error) { return os.Stat(name) })
}

func (d *drive) readDir(name string) ([]os.DirEntry, error) {
	return do(d, "readdir", func() ([]os.DirEntry, error) { return os.ReadDir(name) })
}

// dfile is an open file on a drive; each call has the drive's deadline.
type dfile struct {
	d *drive
	f *os.File
}

func (d *drive) open(name string) (*dfile, error) {
	f, err := do(d, "open", func() (*os.File, error) { return os.Open(name) })
	if err != nil {
		return nil, err
	}
	return &dfile{d, f}, nil
}

func (d *drive) create(name string, flag int) (*dfile, error) {
	f, err := do(d, "create", func() (*os.File, error) { return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|flag, 0o644) })
	if err != nil {
		return nil, err
	}
	return &dfile{d, f}, nil
}

// ReadAt reads len(p) bytes at off. When it passes its deadline, p may
// still be written later: the caller must not use p again.
func (f *dfile) ReadAt(p []byte, off int64) (int, error) {
	return do(f.d, "read", func() (int, error) { return f.f.ReadAt(p, off) })
}

// Write writes p. When it passes its deadline, p may still be read later:
// the caller must not change p again.
func (f *dfile) Write(p []byte) (int, error) {
	return do(f.d, "write", func() (int, error) { return f.f.Write(p) })
}

func (f *dfile) Sync() error { return f.d.call("sync", f.f.Sync) }

// Close closes the file, even on an offline drive.
func (f *dfile) Close() error {
	if f.d.down.Load() {
		go f.f.Close() // may block on a hung drive
		return nil
	}
	return f.d.call("close", f.f.Close)
}

// ---- drive state ----

// downErr is the error of a call on an offline drive.
func (d *drive) downErr() error {
	d.mu.Lock()
	why := d.reason
	d.mu.Unlock()
	return fmt.Errorf("drive %s is offline (%s): %w", d.path, why, errNoDrive)
}

// setOffline takes the drive out of service; the monitor probes it.
func (d *drive) setOffline(reason string) {
	d.mu.Lock()
	d.reason = reason
	was := d.down.Swap(true)
	if !was {
		d.since = time.Now()
		d.droppedAt = d.s.healDropped.Load()
	}
	d.mu.Unlock()
	if !was {
		d.s.log().Warn("erasure: drive offline", "drive", d.path, "set", d.set, "index", d.index, "reason", reason)
	}
}

// setOnline puts the drive back into service.
func (d *drive) setOnline() {
	d.mu.Lock()
	was := d.down.Swap(false)
	since, dropped := d.since, d.droppedAt
	d.reason = ""
	d.mu.Unlock()
	if !was {
		return
	}
	d.s.log().Info("erasure: drive online again", "drive", d.path, "set", d.set, "index", d.index, "offline for", time.Since(since).Round(time.Millisecond))
	// The objects written meanwhile are in the heal queue, unless it
	// overflowed: then only a full cycle finds them.
	if d.s.healDropped.Load() != dropped {
		d.s.scanSoon()
	}
}

// suspect probes the drive after a call failed in a way that may be the
// drive's; the drive goes offline when the probe fails.
func (d *drive) suspect(err error) {
	if d.down.Load() || d.s == nil {
		return
	}
	now := time.Now().UnixNano()
	last := d.lastSuspect.Load()
	if now-last < int64(probeSuspectEvery) || !d.lastSuspect.CompareAndSwap(last, now) {
		return
	}
	go func() {
		if perr := d.s.probe(d); perr != nil && !errors.Is(perr, errProbeBusy) {
			d.setOffline(fmt.Sprintf("%v (probe: %v)", err, perr))
		}
	}()
}

// monitor probes every drive every ProbeInterval until the store closes:
// an offline drive that answers is back; an online drive that fails (hung
// while idle, or another drive put in its place) goes offline.
func (s *Store) monitor() {
	defer s.bgWG.Done()
	every := s.opts.ProbeInterval
	if every <= 0 {
		every = DefaultProbeInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
		}
		for _, d := range s.allDrives() {
			s.bgWG.Add(1)
			go func() {
				defer s.bgWG.Done()
				s.check(d, false)
			}()
		}
	}
}

// check probes d and sets its state by the answer. With wait, a probe
// already running is waited for and d probed again.
func (s *Store) check(d *drive, wait bool) {
	err := s.probe(d)
	for wait && errors.Is(err, errProbeBusy) {
		deadline := time.Now().Add(d.timeout)
		for d.probing.Load() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if d.probing.Load() {
			return // hung: that probe marks the drive
		}
		err = s.probe(d)
	}
	switch {
	case errors.Is(err, errProbeBusy):
	case err == nil:
		d.setOnline()
	case d.down.Load():
		d.mu.Lock()
		d.reason = err.Error()
		d.mu.Unlock()
	default:
		d.setOffline(err.Error())
	}
}

// probe checks the drive with its deadline, one probe at a time: an
// offline drive fully, an online one without writing (see probeNow).
func (s *Store) probe(d *drive) error {
	full := d.down.Load()
	if !d.probing.CompareAndSwap(false, true) {
		return errProbeBusy
	}
	errc := make(chan error, 1)
	go func() {
		defer d.probing.Store(false)
		if f := d.fault.Load(); f != nil {
			if err := (*f)("probe"); err != nil {
				errc <- err
				return
			}
		}
		errc <- s.probeNow(d, full)
	}()
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case err := <-errc:
		return err
	case <-t.C:
		return &driveTimeout{d.path, "probe", d.timeout}
	}
}

// probeNow checks the drive: its folder; its format.json, which must be
// this drive's of this deployment; its reserved folders. The full probe of
// an offline drive also formats an empty folder as this drive (a replaced
// or wiped drive, for heal to refill; not when the drive was a mount point
// that is now unmounted), creates the reserved folders, and writes a small
// file and reads it back. The probe of an online drive writes nothing:
// it must not race with whoever removes the drive's files.
func (s *Store) probeNow(d *drive, full bool) error {
	fi, err := os.Stat(d.path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", d.path)
	}
	data, err := os.ReadFile(filepath.Join(d.path, FormatFile))
	switch {
	case errors.Is(err, fs.ErrNotExist) && !full:
		return fmt.Errorf("%s is gone", FormatFile)
	case errors.Is(err, fs.ErrNotExist):
		if !emptyDir(d.path, true) {
			return fmt.Errorf("the folder is not empty and has no %s: not formatting it", FormatFile)
		}
		// What is left of the reserved folder (a wipe that raced with
		// a probe) goes.
		if err := os.RemoveAll(filepath.Join(d.path, SysDir)); err != nil {
			return err
		}
		if d.mountDev != 0 {
			if dev, ok := fileDev(d.path); ok && dev != d.mountDev {
				if pdev, ok := fileDev(filepath.Dir(d.path)); ok && pdev == dev {
					return errors.New("the drive's file system is not mounted: not formatting the folder under it")
				}
			}
		}
		f := driveFormat{Version: FormatVersion, Format: "strata-erasure", Deployment: s.deploy,
			Drive: d.id, Set: d.set, Index: d.index, Sets: s.layout}
		if err := d.writeFormat(&f); err != nil {
			return fmt.Errorf("formatting: %w", err)
		}
		s.log().Info("erasure: formatted an empty drive in place of a lost one; a heal refills it", "drive", d.path, "set", d.set, "index", d.index)
		if dev, ok := fileDev(d.path); ok {
			if pdev, ok := fileDev(filepath.Dir(d.path)); ok && pdev != dev {
				d.mountDev = dev
			}
		}
		defer s.scanSoon()
	case err != nil:
		return err
	default:
		var f driveFormat
		if err := json.Unmarshal(data, &f); err != nil || f.Format != "strata-erasure" {
			return fmt.Errorf("%s is not a Strata erasure drive format", FormatFile)
		}
		if f.Deployment != s.deploy || f.Drive != d.id || f.Set != d.set || f.Index != d.index {
			return fmt.Errorf("the folder holds drive %d of set %d of deployment %s, not drive %d of set %d of %s: not using it",
				f.Index, f.Set, f.Deployment, d.index, d.set, s.deploy)
		}
	}
	if !full {
		_, err := os.Stat(d.sys("tmp"))
		return err
	}
	for _, dir := range []string{d.sys("tmp"), d.sys("buckets"), d.sys("multipart")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := d.holdLock(); err != nil {
		return err
	}
	// Staging left from before the drive went offline (writes that failed
	// on it, or a crash while it was missing at start) goes: nothing has
	// written to it since.
	d.mu.Lock()
	since := d.since
	d.mu.Unlock()
	if ents, err := os.ReadDir(d.sys("tmp")); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(since) {
				os.RemoveAll(d.tmp(e.Name()))
			}
		}
	}
	// A small file written and read back.
	p := d.tmp("probe-" + randHex(8))
	want := []byte(randHex(16))
	err = writeFileSync(p, want, false)
	if errors.Is(err, syscall.ENOSPC) {
		os.Remove(p)
		return nil // full, not failing
	}
	if err != nil {
		os.Remove(p)
		return err
	}
	got, err := os.ReadFile(p)
	os.Remove(p)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("a probe file read back differs from what was written")
	}
	return nil
}

// reviveAll probes now every drive that is offline or not there, and
// brings back those that answer.
func (s *Store) reviveAll() {
	ds := s.allDrives()
	parallel(len(ds), func(i int) { s.revive(ds[i], true) })
}

// reviveSet is reviveAll for the drives of one set, each probed at most
// once a second and without waiting for a probe under way (HealObject calls
// it for every object).
func (s *Store) reviveSet(st *set) {
	now := time.Now().UnixNano()
	for _, d := range st.drives {
		if !d.down.Load() {
			continue
		}
		last := d.lastRevive.Load()
		if now-last >= int64(time.Second) && d.lastRevive.CompareAndSwap(last, now) {
			s.revive(d, false)
		}
	}
}

// revive probes d now when it is offline or not there, and brings it back
// when it answers; with wait, after a probe under way.
func (s *Store) revive(d *drive, wait bool) {
	if !d.down.Load() && d.present() {
		return
	}
	s.check(d, wait)
}

// withDeadline runs fn with a deadline, outside any drive's state (for
// Open).
func withDeadline[T any](timeout time.Duration, path, op string, fn func() (T, error)) (T, error) {
	ch := make(chan result[T], 1)
	go func() {
		v, err := fn()
		ch <- result[T]{v, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, &driveTimeout{path, op, timeout}
	}
}
