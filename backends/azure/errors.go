package azure

import (
	"context"
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/strata-storage/strata/backends"
)

// errCode returns Azure's error code and HTTP status of err, if it is an
// answer from Azure.
func errCode(err error) (bloberror.Code, int) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return bloberror.Code(re.ErrorCode), re.StatusCode
	}
	return "", 0
}

// scope says what a request was about, for a bare 404 or 400.
type scope int

const (
	onContainer scope = iota
	onBlob
)

// mapErr gives err a backends kind; msg says what failed.
func mapErr(err error, sc scope, msg string) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err // has its kind already
	}
	code, status := errCode(err)
	kind := backends.Internal
	switch code {
	case bloberror.ContainerNotFound, bloberror.ContainerDisabled:
		kind = backends.NoSuchBucket
	case bloberror.BlobNotFound:
		kind = backends.NoSuchKey
	case bloberror.ContainerAlreadyExists:
		kind = backends.BucketExists
	case bloberror.ContainerBeingDeleted:
		// Azure removes a container in the background; its name is free
		// again some 30 s later. Retrying later is the fix.
		return backends.Wrap(backends.Unavailable, err, msg+": the container is still being deleted by Azure, retry in a minute")
	case bloberror.ConditionNotMet, bloberror.BlobAlreadyExists, bloberror.TargetConditionNotMet,
		bloberror.SourceConditionNotMet:
		kind = backends.PreconditionFailed
	case bloberror.InvalidRange:
		kind = backends.InvalidRange
	case bloberror.AuthenticationFailed, bloberror.AuthorizationFailure,
		bloberror.AuthorizationPermissionMismatch, bloberror.AuthorizationResourceTypeMismatch,
		bloberror.AuthorizationServiceMismatch, bloberror.AuthorizationSourceIPMismatch,
		bloberror.AuthorizationProtocolMismatch, bloberror.InsufficientAccountPermissions,
		bloberror.AccountIsDisabled:
		kind = backends.AccessDenied
	case bloberror.ServerBusy:
		kind = backends.SlowDown
	case bloberror.OperationTimedOut, bloberror.InternalError:
		kind = backends.Unavailable
	case bloberror.InvalidResourceName, bloberror.OutOfRangeInput:
		if sc == onContainer {
			kind = backends.InvalidBucketName
		} else {
			kind = backends.InvalidKey
		}
	case bloberror.MetadataTooLarge, bloberror.InvalidMetadata, bloberror.EmptyMetadataKey:
		kind = backends.InvalidArgument
	case bloberror.RequestBodyTooLarge, bloberror.BlockCountExceedsLimit, bloberror.BlockListTooLong:
		kind = backends.EntityTooLarge
	case bloberror.LeaseIDMissing, bloberror.LeaseIDMismatchWithBlobOperation, bloberror.LeaseIDMismatchWithContainerOperation:
		kind = backends.Conflict // someone else holds a lease on it
	default:
		switch {
		case status == http.StatusNotFound && sc == onBlob:
			kind = backends.NoSuchKey
		case status == http.StatusNotFound:
			kind = backends.NoSuchBucket
		case status == http.StatusPreconditionFailed:
			kind = backends.PreconditionFailed
		case status == http.StatusRequestedRangeNotSatisfiable:
			kind = backends.InvalidRange
		case status == http.StatusForbidden:
			kind = backends.AccessDenied
		case status == http.StatusTooManyRequests:
			kind = backends.SlowDown
		case status == http.StatusServiceUnavailable, status == http.StatusInternalServerError, status == http.StatusBadGateway,
			status == http.StatusGatewayTimeout, status == http.StatusRequestTimeout:
			kind = backends.Unavailable
		case status == 0 && errors.Is(err, context.Canceled):
			return err // the caller went away; its own error says so
		case status == 0 && errors.Is(err, context.DeadlineExceeded):
			// A timeout of ours: not wrapped, for it is no deadline of the
			// caller's (s3api answers those with RequestTimeout).
			return backends.Errorf(backends.Unavailable, "%s: Azure did not answer in time: %v", msg, err)
		case status == 0:
			// No answer: the network, DNS.
			kind = backends.Unavailable
		}
	}
	return backends.Wrap(kind, err, msg)
}
