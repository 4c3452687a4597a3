package smb

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/fsstore"
)

// SMB servers look names up without case (Windows always; Samba with its
// default "case sensitive = auto"), while S3 keys are case-sensitive: a write
// of "Photo.JPG" would silently replace "photo.jpg", and "A/x" would land in
// the folder "a". checkCase refuses that: every element of a name that a
// write, mkdir or delete is about to touch must exist with exactly that case
// or not at all. Elements are checked against the listing of their parent
// folder; folders found right are remembered, so a write into a known
// folder costs one lookup of the final name, and a listing of the folder
// only when that name exists (an overwrite or a delete).
//
// Names in the reserved folder are Strata's own (lower-case hex, fixed
// names) and are not checked.

// maxExact bounds the memory of remembered folders.
const maxExact = 1 << 14

func (f *FS) checkCase(name string) error {
	if name == "." || name == "" || name == fsstore.SysDir || strings.HasPrefix(name, fsstore.SysDir+"/") {
		return nil
	}
	segs := strings.Split(name, "/")
	p := ""
	for i, seg := range segs {
		parent := p
		p = join(p, seg)
		if i < len(segs)-1 && f.known(p) {
			continue
		}
		if i == len(segs)-1 {
			// The final element: list the parent only when something
			// answers to the name.
			if _, err := f.Lstat(p); errors.Is(err, fs.ErrNotExist) {
				return nil
			} else if err != nil {
				return err
			}
		}
		ok, err := f.exactIn(parent, seg, name)
		if err != nil || !ok {
			return err // not there: the rest cannot collide
		}
		if i < len(segs)-1 {
			f.remember(p)
		}
	}
	return nil
}

// exactIn reports whether the folder parent holds seg with exactly that
// case, and fails with Conflict when it holds it only in another case.
func (f *FS) exactIn(parent, seg, name string) (bool, error) {
	ents, err := f.ReadDir(orRoot(parent))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var other string
	for _, e := range ents {
		if e.Name() == seg {
			return true, nil
		}
		if strings.EqualFold(e.Name(), seg) {
			other = e.Name()
		}
	}
	if other != "" {
		return false, backends.Errorf(backends.Conflict,
			"%q and the existing %q differ only in case, and SMB shares do not tell them apart: refused (name %q)",
			seg, other, strings.TrimPrefix(name, bucketOf(name)+"/"))
	}
	return false, nil
}

func orRoot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func bucketOf(name string) string {
	b, _, _ := strings.Cut(name, "/")
	return b
}

func (f *FS) known(p string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exact[p]
}

func (f *FS) remember(p string) {
	if p == fsstore.SysDir || strings.HasPrefix(p, fsstore.SysDir+"/") {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.exact) >= maxExact {
		clear(f.exact)
	}
	f.exact[p] = true
}

// forget drops p and everything below it (a folder removed or renamed).
func (f *FS) forget(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.exact[p] {
		return
	}
	delete(f.exact, p)
	for k := range f.exact {
		if strings.HasPrefix(k, p+"/") {
			delete(f.exact, k)
		}
	}
}
