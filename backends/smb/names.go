package smb

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"unicode/utf8"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/fsstore"
)

// SMB servers look names up without case (Windows always; Samba with its
// default "case sensitive = auto"), while S3 keys are case-sensitive: a write
// of "Photo.JPG" would silently replace "photo.jpg", and "A/x" would land in
// the folder "a". checkCase refuses that: every element of a name that a
// write, mkdir or delete is about to touch must exist with exactly that case
// or not at all. An element that exists is looked for with its exact case
// by a search of its parent folder that the server filters (exactIn), so
// the cost does not grow with the size of the folder; folders found right
// are remembered, so a write into a known folder costs one lookup of the
// final name, and a search only when that name exists (an overwrite or a
// delete).
//
// A share that compares names with case (Samba's "case sensitive = yes")
// needs none of this: Open probes the share once (probeCase) and turns the
// check off there.
//
// Names in the reserved folder are Strata's own (lower-case hex, fixed
// names) and are not checked.

// maxExact bounds the memory of remembered folders.
const maxExact = 1 << 14

func (f *FS) checkCase(name string) error {
	if f.caseSensitive.Load() || name == "." || name == "" || name == fsstore.SysDir || strings.HasPrefix(name, fsstore.SysDir+"/") {
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
		// Look further only when something answers to the name.
		if _, err := f.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return nil // not there: the rest cannot collide
		} else if err != nil {
			return err
		}
		ok, err := f.exactIn(parent, seg, name)
		if err != nil || !ok {
			return err
		}
		if i < len(segs)-1 {
			f.remember(p)
		}
	}
	return nil
}

// probeCase finds out whether the share compares names with case: it
// creates a file in the reserved folder and looks it up in upper case.
func (f *FS) probeCase() error {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := fsstore.SysDir + "/case-probe-" + hex.EncodeToString(rnd[:])
	w, err := f.Create(name)
	if err != nil {
		return err
	}
	w.Close()
	defer f.Remove(name)
	_, err = f.Lstat(strings.ToUpper(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.caseSensitive.Store(true)
	case err != nil:
		return err
	}
	return nil
}

// exactIn reports whether the folder parent holds seg with exactly that
// case, and fails with Conflict when it holds it only in another case.
func (f *FS) exactIn(parent, seg, name string) (bool, error) {
	if f.foundExact(parent, seg) {
		return true, nil
	}
	// Not found with its case (a real conflict, or the entry went away
	// meanwhile), or the search could not be used: the listing decides.
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

// foundExact searches the folder parent for seg with a pattern that the
// server matches without case and the library then matches with case: the
// last character of seg in a one-character class ("Photo.JP[G]") reaches
// the server as a wildcard ("Photo.JP?"), so only the entries of that
// shape cross the wire, whatever the size of the folder. It reports false
// when seg is not among them, or when the names hold pattern characters.
func (f *FS) foundExact(parent, seg string) bool {
	dir := f.path(parent)
	last, size := utf8.DecodeLastRuneInString(seg)
	if dir == "" || size == 0 || strings.ContainsAny(dir+"/"+seg, "*?[]") {
		return false
	}
	pattern := smbPath(dir) + `\` + seg[:len(seg)-size] + "[" + string(last) + "]"
	var found []string
	err := f.do(true, func(sh *smb2.Share) (err error) {
		found, err = sh.Glob(pattern)
		return err
	})
	if err != nil {
		return false
	}
	for _, m := range found {
		if strings.HasSuffix(m, `\`+seg) {
			return true
		}
	}
	return false
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
