package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// LockFile is the file in each drive's reserved folder that the process
// serving the drive holds an exclusive lock on (flock, LockFileEx), so
// that a second process cannot use the drive at the same time: it would
// empty the first one's staging area at its start and write metadata
// without the first one's namespace locks. The file holds the process ID
// of the holder, for the error message; the lock, not the file, is what
// counts, and the kernel releases it when the process ends, however it
// ends.
const LockFile = "drive.lock"

// errLocked is what lockFile returns when another open file holds the
// lock; errNoLocks when the file system has no locks to give.
var (
	errLocked  = errors.New("locked")
	errNoLocks = errors.New("the file system does not support locks")
)

// holdLock takes the drive's lock, or checks that this store still holds
// it: a drive wiped while the store ran lost its lock file with the rest,
// and a probe that brings it back takes a new one.
func (d *drive) holdLock() error {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	p := d.sys(LockFile)
	if d.lockF != nil {
		if held, err := d.lockF.Stat(); err == nil {
			if now, err := os.Stat(p); err == nil && os.SameFile(held, now) {
				return nil
			}
		}
		d.lockF.Close()
		d.lockF = nil
	}
	if err := os.MkdirAll(d.sys(), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	err = lockFile(f)
	if errors.Is(err, errNoLocks) {
		// A drive on a mount without locking (NFS with nolock and no
		// lock daemon) is served unguarded rather than refused.
		d.s.log().Warn("erasure: the drive's file system cannot lock files; make sure no other Strata process serves it", "drive", d.path)
		err = nil
	}
	if err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			holder := ""
			if b, err := os.ReadFile(p); err == nil {
				if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid != os.Getpid() {
					holder = fmt.Sprintf(" (pid %d)", pid)
				}
			}
			return fmt.Errorf("in use by another Strata process%s: a drive is served by one process at a time", holder)
		}
		return fmt.Errorf("locking %s: %w", p, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	d.lockF = f
	return nil
}

// releaseLock lets go of the drive's lock (Close, or an Open that fails).
func (d *drive) releaseLock() {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.lockF != nil {
		d.lockF.Close()
		d.lockF = nil
	}
}
