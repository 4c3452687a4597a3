//go:build linux

// Package mount shows a bucket, or a prefix of one, as a directory tree on
// Linux through FUSE (github.com/hanwen/go-fuse/v2).
//
// The file system works over Store, a small interface of its own: list,
// head, ranged get, put, multipart upload, copy and delete. NewS3Store
// implements it with an S3 client (any S3 service, Strata included);
// NewBackendStore implements it over a backends.Backend in the same
// process. WithTimeout wraps either so that no call can hang.
//
// docs/mount.md tells how files map to objects and what each operation
// costs.
package mount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// Store is the object store under a mount. Keys are full object keys in
// the mounted bucket. Every method honours its context.
type Store interface {
	// List returns one page of the keys starting with prefix, rolled up
	// at delimiter ("" for none), after the position token (from an
	// earlier page; "" for the start). ListPage.Next is "" on the last
	// page.
	List(ctx context.Context, prefix, delimiter, token string, max int) (ListPage, error)
	Head(ctx context.Context, key string) (Object, error)
	// Get reads n bytes from off (n < 0: to the end).
	Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Put stores size bytes of body at key. The body is seekable so that
	// a client may sign, checksum or retry it.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, meta Meta) (Object, error)

	CreateMultipart(ctx context.Context, key string, meta Meta) (uploadID string, err error)
	UploadPart(ctx context.Context, key, uploadID string, number int, body io.ReadSeeker, size int64) (etag string, err error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error)
	AbortMultipart(ctx context.Context, key, uploadID string) error

	// Copy copies the object src (its Key and Size are used) to dst on
	// the server. With meta nil the metadata is copied, otherwise
	// replaced. src.Key == dst with a meta only changes the metadata.
	Copy(ctx context.Context, src Object, dst string, meta *Meta) (Object, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Meta is the metadata the file system stores with an object.
type Meta struct {
	ContentType string
	// User holds the user metadata (x-amz-meta-*) by lower-case name.
	User map[string]string
}

// Object describes an object.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
	ETag    string
	Meta    Meta
	// HasMeta tells that Meta was read (HEAD always reads it; an S3
	// listing does not).
	HasMeta bool
}

// ListPage is one page of a listing, in key order.
type ListPage struct {
	Objects  []Object
	Prefixes []string
	// Next is the token for the following page, "" when this is the last.
	Next string
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int
	ETag   string
}

// Error is a store error with the errno the file system answers for it.
type Error struct {
	Op, Key string
	Errno   syscall.Errno
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Op, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTimeout is the cause of a call that WithTimeout cancelled.
var ErrTimeout = errors.New("the object store did not answer in time")

// toErrno is the errno for err: the one an Error carries, EIO for a
// timeout or anything else unknown. Every file system operation answers
// through it.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) && e.Errno != 0 {
		return e.Errno
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		switch en {
		case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG, syscall.EACCES, syscall.EPERM,
			syscall.EROFS, syscall.ENOENT, syscall.ENOTEMPTY, syscall.EEXIST, syscall.ENOTDIR,
			syscall.EISDIR, syscall.ENAMETOOLONG, syscall.EINVAL, syscall.ENOTSUP, syscall.EINTR:
			return en
		}
		// Network errors (ECONNREFUSED, ECONNRESET...) mean nothing to
		// a file's reader.
	}
	return syscall.EIO
}

// notFound reports whether err means the key does not exist.
func notFound(err error) bool { return toErrno(err) == syscall.ENOENT }
