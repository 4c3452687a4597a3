//go:build linux

package mount

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/backends"
)

func TestToErrno(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"store error", &Error{Op: "get", Key: "k", Errno: syscall.ENOENT, Err: errors.New("x")}, syscall.ENOENT},
		{"wrapped store error", fmt.Errorf("reading: %w", &Error{Errno: syscall.EACCES, Err: errors.New("x")}), syscall.EACCES},
		{"joined", errors.Join(errors.New("a"), &Error{Errno: syscall.ENOSPC, Err: errors.New("x")}), syscall.ENOSPC},
		{"local ENOSPC", fmt.Errorf("write: %w", syscall.ENOSPC), syscall.ENOSPC},
		{"network error", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), syscall.EIO},
		{"timeout", context.DeadlineExceeded, syscall.EIO},
		{"watchdog", &Error{Errno: syscall.EIO, Err: ErrTimeout}, syscall.EIO},
		{"anything", errors.New("boom"), syscall.EIO},
	} {
		if got := toErrno(tc.err); got != tc.want {
			t.Errorf("%s: toErrno(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// apiErr is an SDK error as the client returns it: an API error with the
// HTTP response.
func apiErr(status int, code string) error {
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status}}
	var err error = &smithy.GenericAPIError{Code: code, Message: "m"}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: resp, Err: err},
	}}
}

func TestS3Errno(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want syscall.Errno
	}{
		{apiErr(404, "NoSuchKey"), syscall.ENOENT},
		{apiErr(404, "NotFound"), syscall.ENOENT},
		{apiErr(404, ""), syscall.ENOENT},
		{apiErr(404, "NoSuchBucket"), syscall.ENOENT},
		{apiErr(403, "AccessDenied"), syscall.EACCES},
		{apiErr(403, "SignatureDoesNotMatch"), syscall.EACCES},
		{apiErr(403, ""), syscall.EACCES},
		{apiErr(400, "EntityTooLarge"), syscall.EFBIG},
		{apiErr(400, "KeyTooLongError"), syscall.ENAMETOOLONG},
		{apiErr(400, "InvalidObjectName"), syscall.EINVAL},
		{apiErr(507, "InsufficientStorage"), syscall.ENOSPC},
		{apiErr(507, ""), syscall.ENOSPC},
		{apiErr(501, "NotImplemented"), syscall.ENOTSUP},
		{apiErr(500, "InternalError"), syscall.EIO},
		{apiErr(503, "SlowDown"), syscall.EIO},
		{errors.New("connection refused"), syscall.EIO},
	} {
		if got := toErrno(s3Err("op", "key", tc.err)); got != tc.want {
			t.Errorf("s3Err(%v) → %v, want %v", tc.err, got, tc.want)
		}
	}
	if s3Err("op", "k", nil) != nil {
		t.Errorf("s3Err(nil) is not nil")
	}
}

func TestBackendErrno(t *testing.T) {
	for _, tc := range []struct {
		kind backends.Kind
		want syscall.Errno
	}{
		{backends.NoSuchKey, syscall.ENOENT},
		{backends.NoSuchBucket, syscall.ENOENT},
		{backends.NoSuchUpload, syscall.ENOENT},
		{backends.AccessDenied, syscall.EACCES},
		{backends.NotEmpty, syscall.ENOTEMPTY},
		{backends.InvalidKey, syscall.EINVAL},
		{backends.KeyTooLong, syscall.ENAMETOOLONG},
		{backends.EntityTooLarge, syscall.EFBIG},
		{backends.Conflict, syscall.EEXIST},
		{backends.NotImplemented, syscall.ENOTSUP},
		{backends.Internal, syscall.EIO},
		{backends.Unavailable, syscall.EIO},
	} {
		if got := toErrno(backendErr("op", "k", backends.Errorf(tc.kind, "x"))); got != tc.want {
			t.Errorf("kind %d → %v, want %v", tc.kind, got, tc.want)
		}
	}
	full := backends.Wrap(backends.Internal, fmt.Errorf("write: %w", syscall.ENOSPC), "cannot write")
	if got := toErrno(backendErr("put", "k", full)); got != syscall.ENOSPC {
		t.Errorf("a full disk → %v, want ENOSPC", got)
	}
}
