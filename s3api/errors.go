package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/s3api/s3err"
)

// kindErrors is the one table from backend error kinds to S3 errors.
var kindErrors = map[backends.Kind]*s3err.APIError{
	backends.Internal:           s3err.ErrInternal,
	backends.NoSuchBucket:       s3err.ErrNoSuchBucket,
	backends.NoSuchKey:          s3err.ErrNoSuchKey,
	backends.NoSuchUpload:       s3err.ErrNoSuchUpload,
	backends.BucketExists:       s3err.ErrBucketAlreadyOwnedByYou,
	backends.NotEmpty:           s3err.ErrBucketNotEmpty,
	backends.PreconditionFailed: s3err.ErrPreconditionFailed,
	backends.InvalidArgument:    s3err.ErrInvalidArgument,
	backends.InvalidKey:         s3err.ErrInvalidObjectName,
	backends.InvalidBucketName:  s3err.ErrInvalidBucketName,
	backends.InvalidRange:       s3err.ErrInvalidRange,
	backends.InvalidPart:        s3err.ErrInvalidPart,
	backends.InvalidPartOrder:   s3err.ErrInvalidPartOrder,
	backends.EntityTooSmall:     s3err.ErrEntityTooSmall,
	backends.EntityTooLarge:     s3err.ErrEntityTooLarge,
	backends.BadDigest:          s3err.ErrBadDigest,
	backends.AccessDenied:       s3err.ErrAccessDenied,
	backends.Unavailable:        s3err.ErrServiceUnavailable,
	backends.SlowDown:           s3err.ErrSlowDown,
	backends.NotImplemented:     s3err.ErrNotImplemented,
	backends.KeyTooLong:         s3err.ErrKeyTooLong,
	backends.Conflict:           s3err.ErrInvalidObjectName,
	backends.Corrupt:            s3err.ErrInternal, // with the kind's message
	backends.NoSuchVersion:      errNoSuchVersion,
	backends.MethodNotAllowed:   s3err.ErrMethodNotAllowed,
	backends.InvalidBucketState: errInvalidBucketState,
	backends.InvalidRequest:     s3err.ErrInvalidRequest,
	backends.MalformedXML:       s3err.ErrMalformedXML,
}

// toAPIError turns any error into the S3 error to answer.
func toAPIError(err error) *s3err.APIError {
	var ae *s3err.APIError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return s3err.ErrRequestTimeout
	}
	var be *backends.Error
	if errors.As(err, &be) {
		if ae, ok := kindErrors[be.Kind]; ok {
			// These answer S3's own words, whatever the backend said.
			switch be.Kind {
			case backends.Internal, backends.NoSuchBucket, backends.NoSuchKey, backends.NoSuchUpload,
				backends.NoSuchVersion, backends.MethodNotAllowed, backends.InvalidPart, backends.KeyTooLong,
				backends.InvalidPartOrder, backends.EntityTooSmall, backends.PreconditionFailed, backends.NotEmpty,
				backends.MalformedXML:
				return ae
			}
			if be.Msg != "" {
				return ae.WithMessage(be.Msg)
			}
			return ae
		}
	}
	return s3err.ErrInternal
}

// xmlField is an element named by its XMLName.
type xmlField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	Details    []xmlField
	Key        string `xml:"Key,omitempty"`
	BucketName string `xml:"BucketName,omitempty"`
	Resource   string `xml:"Resource,omitempty"`
	RequestID  string `xml:"RequestId"`
	HostID     string `xml:"HostId"`
}

// writeError answers with the S3 XML error body for err. HEAD requests and
// 304 answers carry no body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	info := reqInfoFrom(r.Context())
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Content-Length")
	if ae.Status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(ae.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(ae.Status)
	body := errorBody{Code: ae.Code, Message: ae.Message, Resource: r.URL.Path, RequestID: info.RequestID, HostID: info.HostID}
	if de := (*s3err.DetailedError)(nil); errors.As(err, &de) {
		for _, f := range de.Fields {
			body.Details = append(body.Details, xmlField{xml.Name{Local: f.Name}, f.Value})
		}
	}
	if info != nil {
		body.BucketName = info.Bucket
		body.Key = info.Key
	}
	out, _ := xml.Marshal(body) // strings only: it cannot fail
	w.Write([]byte(xml.Header))
	quotesUnescaped.WriteString(w, string(out))
}

// quotesUnescaped writes quotes in text as S3 does, literally: encoding/xml
// escapes them (&#34;), which XML parsers read the same but clients that
// look for a message's text do not (a POST policy condition is quoted as
// ["eq", "$key", "x"]). An escaped ampersand stays escaped, so no other
// text can turn into a quote.
var quotesUnescaped = strings.NewReplacer("&#34;", `"`, "&#39;", "'")
