package s3

import (
	"context"
	"errors"
	"net"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/strata-storage/strata/backends"
)

// codeKinds maps S3 error codes to kinds.
var codeKinds = map[string]backends.Kind{
	"NoSuchBucket":               backends.NoSuchBucket,
	"NoSuchKey":                  backends.NoSuchKey,
	"NoSuchUpload":               backends.NoSuchUpload,
	"PreconditionFailed":         backends.PreconditionFailed,
	"ConditionalRequestConflict": backends.PreconditionFailed, // a concurrent conditional write won
	"BucketAlreadyOwnedByYou":    backends.BucketExists,
	"BucketAlreadyExists":        backends.BucketExists,
	"BucketNotEmpty":             backends.NotEmpty,
	"AccessDenied":               backends.AccessDenied,
	"Forbidden":                  backends.AccessDenied,
	"InvalidAccessKeyId":         backends.AccessDenied,
	"SignatureDoesNotMatch":      backends.AccessDenied,
	"ExpiredToken":               backends.AccessDenied,
	"InvalidToken":               backends.AccessDenied,
	"AccountProblem":             backends.AccessDenied,
	"AllAccessDisabled":          backends.AccessDenied,
	"SlowDown":                   backends.SlowDown,
	"Throttling":                 backends.SlowDown,
	"ThrottlingException":        backends.SlowDown,
	"RequestLimitExceeded":       backends.SlowDown,
	"TooManyRequests":            backends.SlowDown,
	"ServiceUnavailable":         backends.Unavailable,
	"RequestTimeout":             backends.Unavailable,
	"InternalError":              backends.Unavailable,
	"InvalidRange":               backends.InvalidRange,
	"InvalidPart":                backends.InvalidPart,
	"InvalidPartOrder":           backends.InvalidPartOrder,
	"EntityTooSmall":             backends.EntityTooSmall,
	"EntityTooLarge":             backends.EntityTooLarge,
	"BadDigest":                  backends.BadDigest,
	"InvalidDigest":              backends.BadDigest,
	"XAmzContentSHA256Mismatch":  backends.BadDigest,
	"KeyTooLongError":            backends.KeyTooLong,
	"InvalidObjectName":          backends.InvalidKey,
	"InvalidKey":                 backends.InvalidKey,
	"InvalidBucketName":          backends.InvalidBucketName,
	"NotImplemented":             backends.NotImplemented,
	"InvalidArgument":            backends.InvalidArgument,
	"InvalidRequest":             backends.InvalidArgument,
	"MetadataTooLarge":           backends.InvalidArgument,
	"InvalidTag":                 backends.InvalidArgument,
	"MalformedXML":               backends.InvalidArgument,
	"InvalidStorageClass":        backends.InvalidArgument,
}

// statusKinds maps HTTP statuses to kinds for errors without a code (the
// bodiless answers to HEAD, or services that send none).
var statusKinds = map[int]backends.Kind{
	http.StatusForbidden:                    backends.AccessDenied,
	http.StatusPreconditionFailed:           backends.PreconditionFailed,
	http.StatusRequestedRangeNotSatisfiable: backends.InvalidRange,
	http.StatusTooManyRequests:              backends.SlowDown,
	http.StatusServiceUnavailable:           backends.Unavailable,
	http.StatusBadGateway:                   backends.Unavailable,
	http.StatusGatewayTimeout:               backends.Unavailable,
	http.StatusNotImplemented:               backends.NotImplemented,
}

// errKind returns the kind of an SDK error and whether it is known. A 404
// without a code (HEAD) is reported as NoSuchKey; callers that can tell
// a missing bucket from a missing key do so themselves.
func errKind(err error) (backends.Kind, bool) {
	var api smithy.APIError
	if errors.As(err, &api) {
		if k, ok := codeKinds[api.ErrorCode()]; ok {
			return k, true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		st := re.HTTPStatusCode()
		if k, ok := statusKinds[st]; ok {
			return k, true
		}
		if st == http.StatusNotFound {
			return backends.NoSuchKey, true
		}
		if st >= 500 {
			return backends.Unavailable, true
		}
		return backends.Internal, false
	}
	var ne net.Error
	if errors.As(err, &ne) && !errors.Is(err, context.Canceled) {
		// Connection refused or reset, timeouts, DNS: the service is
		// not reachable now.
		return backends.Unavailable, true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return backends.Unavailable, true
	}
	return backends.Internal, false
}

// mapErr returns err as an error with a kind, prefixed with what was being
// done. Context errors stay recognisable through errors.Is.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if backends.KindOf(err) != backends.Internal {
		return err
	}
	k, _ := errKind(err)
	if k == backends.Unavailable && errors.Is(err, context.Canceled) {
		k = backends.Internal
	}
	return backends.Wrap(k, err, "s3: "+what)
}

// isNotFound reports whether err says that what was asked for is not there
// (key, bucket, or a 404 without a code).
func isNotFound(err error) bool {
	k, _ := errKind(err)
	return k == backends.NoSuchKey || k == backends.NoSuchBucket
}

// hasCode reports whether err carries the S3 error code.
func hasCode(err error, code string) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == code
}
