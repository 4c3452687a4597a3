// Package fsstore implements backends.Backend over a file-system tree in
// which every object is a plain file at its key. The tree is reached through
// the small FS interface, so the local-directory backend (backends/dir) and
// the NFS and SMB clients share this one implementation.
//
// The layout on disk is described in docs/formats.md, section "Directory
// backend".
package fsstore

import (
	"io"
	"io/fs"
	"time"
)

// FS is a file-system tree that a Store keeps its buckets in.
//
// Names are slash-separated paths relative to the root of the tree, as in
// io/fs: no leading or trailing slash, no "." or ".." elements, no empty
// elements; "." names the root itself. The Store checks every name it builds
// from a key before it reaches the FS, and an FS never resolves a name to a
// file outside its root.
//
// Errors satisfy errors.Is(err, fs.ErrNotExist) when the name, or one of its
// parents, does not exist or is not a directory, and errors.Is(err,
// fs.ErrExist) when Create or Mkdir find the name taken.
type FS interface {
	// Open opens a regular file (or a symbolic link to one) for reading.
	// Anything else is an error satisfying errors.Is(err, fs.ErrNotExist).
	Open(name string) (File, error)
	// Create creates a new regular file for writing, readable by everyone
	// who can read the tree. It fails if name exists.
	Create(name string) (Writer, error)
	// Mkdir creates one directory.
	Mkdir(name string) error
	// Rename moves oldname to newname, atomically replacing newname if it
	// is a file or a symbolic link. Both are on the same file system.
	Rename(oldname, newname string) error
	// Remove removes a file, a symbolic link or an empty directory.
	Remove(name string) error
	// ReadDir returns the entries of a directory in any order. The types
	// are those of the entries themselves (a link is a link).
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat follows symbolic links; Lstat does not follow a final one.
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	// Chtimes sets the modification time of a file.
	Chtimes(name string, mtime time.Time) error
}

// File is a regular file open for reading.
type File interface {
	io.Reader
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
}

// Writer is a new file open for writing.
type Writer interface {
	io.Writer
	// Sync makes the data durable; after Sync, Stat reports the final size
	// and modification time.
	Sync() error
	Stat() (fs.FileInfo, error)
	Close() error
}

// FileCopier is a Writer that can append a File of the same FS inside the
// file system, without the bytes passing through the process
// (copy_file_range: a reflink, no copy at all, on XFS and Btrfs).
type FileCopier interface {
	// CopyFrom appends n bytes of src from its current offset, fewer at
	// its end. It copies nothing and returns errors.ErrUnsupported when
	// src or the file system does not allow it.
	CopyFrom(src File, n int64) (int64, error)
}

// Xattrs is implemented by the Files and Writers of an FS that stores
// extended attributes. Working on the open file (not on a name) ties the
// attribute to exactly the data that was read or written.
type Xattrs interface {
	// GetXattr returns the value of an attribute; a missing attribute is
	// an error satisfying errors.Is(err, fs.ErrNotExist).
	GetXattr(name string) ([]byte, error)
	// SetXattr sets an attribute. Any error (no support, value too
	// large, no permission) makes the Store use a sidecar file instead.
	SetXattr(name string, value []byte) error
	RemoveXattr(name string) error
}

// DirSyncer is implemented by an FS that can make a directory's entries
// durable (fsync of the directory after a rename into it).
type DirSyncer interface {
	SyncDir(name string) error
}

// FileReader is implemented by an FS that reads a small file whole in
// fewer round trips than Open, Stat and Read take (the SMB client: no
// query of the file's attributes). The Store reads its sidecars and bucket
// records with it.
type FileReader interface {
	// ReadFile returns the first max bytes (or fewer: all) of the
	// regular file name. Errors are those of Open.
	ReadFile(name string, max int64) ([]byte, error)
}
