package backends

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that the S3 layer can map it to a code in one
// place, whatever backend it came from.
type Kind int

const (
	Internal Kind = iota
	NoSuchBucket
	NoSuchKey
	NoSuchUpload
	NotFound // a bucket document (CORS, tagging...) that is not there
	BucketExists
	NotEmpty
	PreconditionFailed
	InvalidArgument
	InvalidKey
	InvalidBucketName
	InvalidRange
	InvalidPart
	InvalidPartOrder
	EntityTooSmall
	EntityTooLarge
	BadDigest
	AccessDenied
	Unavailable
	SlowDown // the storage behind asks to slow down (throttling)
	NotImplemented
	KeyTooLong
	Conflict // the key is used by a directory, or a directory by a file
	Corrupt  // stored data failed its integrity check (bitrot)

	// Kinds of the versioning and object-lock layers.
	NoSuchVersion      // a version ID that names no version of the key
	MethodNotAllowed   // a read or metadata change of a delete marker
	InvalidBucketState // e.g. suspending versioning on an Object Lock bucket
	// InvalidRequest is a request that cannot be served as made (S3's
	// InvalidRequest, 400), such as reading an SSE-C object without its key.
	InvalidRequest
	MalformedXML // an XML document that does not validate
)

// Error is an error with a kind.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of kind k.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns err with kind k and a message.
func Wrap(k Kind, err error, msg string) error {
	return &Error{Kind: k, Msg: msg, Err: err}
}

// KindOf returns the kind of err, Internal when it has none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
