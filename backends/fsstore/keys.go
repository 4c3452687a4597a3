package fsstore

import (
	"strings"
	"unicode/utf8"

	"github.com/strata-storage/strata/backends"
)

// SysDir is the reserved folder at the root of the tree that holds the
// Store's own state. No bucket can have its name (bucket names never start
// with a dot) and no key can reach it.
const SysDir = ".strata.sys"

// MaxSegment is the longest path element, in bytes, that the Store accepts:
// the NAME_MAX of nearly every file system.
const MaxSegment = 255

// checkKey returns an error for a key that cannot be a path below a bucket's
// folder. A key may end in one "/" (a folder object); otherwise every element
// must be a non-empty file name other than "." and "..".
func checkKey(key string, windows bool) error {
	if err := backends.CheckKey(key); err != nil {
		return err
	}
	if key[0] == '/' {
		return backends.Errorf(backends.InvalidKey, "object key %q starts with /, which a file-system backend cannot store", key)
	}
	p := strings.TrimSuffix(key, "/")
	if p == "" {
		return backends.Errorf(backends.InvalidKey, "object key %q has an empty path element", key)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return backends.Errorf(backends.InvalidKey, "object key %q has an empty path element (//), which a file-system backend cannot store", key)
		case seg == "." || seg == "..":
			return backends.Errorf(backends.InvalidKey, "object key %q has a path element %q", key, seg)
		case len(seg) > MaxSegment:
			return backends.Errorf(backends.KeyTooLong, "object key %q has a path element longer than %d bytes, the file-system limit", key, MaxSegment)
		}
		if windows {
			if err := checkWindowsName(key, seg); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkWindowsName refuses the names that Windows (and SMB shares) cannot
// hold: reserved characters, a trailing dot or space, device names.
func checkWindowsName(key, seg string) error {
	for _, c := range seg {
		if c < 0x20 || strings.ContainsRune(`<>:"|?*\`, c) {
			return backends.Errorf(backends.InvalidKey, "object key %q holds %q, which Windows file names cannot", key, c)
		}
	}
	if last := seg[len(seg)-1]; last == '.' || last == ' ' {
		return backends.Errorf(backends.InvalidKey, "object key %q has a path element ending in %q, which Windows file names cannot", key, last)
	}
	base := strings.ToUpper(seg)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	base = strings.TrimRight(base, " ")
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return backends.Errorf(backends.InvalidKey, "object key %q uses the Windows device name %q", key, seg)
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '0' && base[3] <= '9' {
		return backends.Errorf(backends.InvalidKey, "object key %q uses the Windows device name %q", key, seg)
	}
	return nil
}

// validName reports whether a file name found on disk in the directory of
// key prefix dir can be listed as (part of) a key.
func validName(dir, name string) bool {
	return name != "" && len(dir)+len(name) <= backends.MaxKeyLen && utf8.ValidString(name) &&
		strings.IndexByte(name, 0) < 0
}

func isFolderKey(key string) bool { return strings.HasSuffix(key, "/") }

// objPath is the FS name of key in bucket: the file, or for a folder key
// the directory.
func objPath(bucket, key string) string {
	return bucket + "/" + strings.TrimSuffix(key, "/")
}

// parentKey returns the directory part of a key ("a/b/" for "a/b/c" and
// for "a/b/c/"), "" at the top of the bucket.
func parentKey(key string) string {
	k := strings.TrimSuffix(key, "/")
	return k[:strings.LastIndexByte(k, '/')+1]
}

// dirPath is the FS name of a directory key prefix ("" or ending in "/").
func dirPath(bucket, dir string) string {
	if dir == "" {
		return bucket
	}
	return bucket + "/" + strings.TrimSuffix(dir, "/")
}

func join(elem ...string) string { return strings.Join(elem, "/") }
