// Package s3err holds the S3 error codes that Strata answers, as AWS
// documents them.
package s3err

// APIError is an S3 error: a code, an HTTP status and a message.
type APIError struct {
	Code    string
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// WithMessage returns a copy of e with another message.
func (e *APIError) WithMessage(msg string) *APIError {
	c := *e
	c.Message = msg
	return &c
}

// The S3 errors Strata answers, in the words of AWS's error table (AWS's
// servers leave the final period off some of them; clients go by the
// code, and conformance suites by the table).
var (
	ErrAccessDenied                      = &APIError{"AccessDenied", 403, "Access Denied."}
	ErrBadDigest                         = &APIError{"BadDigest", 400, "The Content-MD5 or checksum value that you specified did not match what the server received."}
	ErrBucketAlreadyOwnedByYou           = &APIError{"BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it."}
	ErrBucketNotEmpty                    = &APIError{"BucketNotEmpty", 409, "The bucket you tried to delete is not empty."}
	ErrEntityTooSmall                    = &APIError{"EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size"}
	ErrEntityTooLarge                    = &APIError{"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."}
	ErrExpiredToken                      = &APIError{"ExpiredToken", 400, "The provided token has expired."}
	ErrIncompleteBody                    = &APIError{"IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	ErrInternal                          = &APIError{"InternalError", 500, "We encountered an internal error. Please try again."}
	ErrInvalidAccessKeyID                = &APIError{"InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."}
	ErrInvalidArgument                   = &APIError{"InvalidArgument", 400, "Invalid Argument."}
	ErrInvalidBucketName                 = &APIError{"InvalidBucketName", 400, "The specified bucket is not valid."}
	ErrInvalidDigest                     = &APIError{"InvalidDigest", 400, "The Content-MD5 or checksum value that you specified is not valid."}
	ErrInvalidObjectName                 = &APIError{"InvalidObjectName", 400, "The specified object name is not valid."}
	ErrInvalidPart                       = &APIError{"InvalidPart", 400, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."}
	ErrInvalidPartOrder                  = &APIError{"InvalidPartOrder", 400, "The list of parts was not in ascending order. Parts must be ordered by part number."}
	ErrInvalidRange                      = &APIError{"InvalidRange", 416, "The requested range is not satisfiable"}
	ErrInvalidRequest                    = &APIError{"InvalidRequest", 400, "Invalid Request."}
	ErrInvalidTag                        = &APIError{"InvalidTag", 400, "The tag provided was not a valid tag."}
	ErrKeyTooLong                        = &APIError{"KeyTooLongError", 400, "Your key is too long."}
	ErrMalformedXML                      = &APIError{"MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema."}
	ErrMalformedPOSTRequest              = &APIError{"MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data."}
	ErrMethodNotAllowed                  = &APIError{"MethodNotAllowed", 405, "The specified method is not allowed against this resource."}
	ErrMissingContentLength              = &APIError{"MissingContentLength", 411, "You must provide the Content-Length HTTP header."}
	ErrMissingSecurityHeader             = &APIError{"MissingSecurityHeader", 400, "Your request is missing a required header."}
	ErrNoSuchBucket                      = &APIError{"NoSuchBucket", 404, "The specified bucket does not exist."}
	ErrNoSuchCORSConfiguration           = &APIError{"NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"}
	ErrNoSuchKey                         = &APIError{"NoSuchKey", 404, "The specified key does not exist."}
	ErrNoSuchTagSet                      = &APIError{"NoSuchTagSet", 404, "The TagSet does not exist."}
	ErrNoSuchUpload                      = &APIError{"NoSuchUpload", 404, "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
	ErrNotImplemented                    = &APIError{"NotImplemented", 501, "A header you provided implies functionality that is not implemented."}
	ErrNotModified                       = &APIError{"NotModified", 304, "Not Modified."}
	ErrPreconditionFailed                = &APIError{"PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold."}
	ErrConditionalRequestConflict        = &APIError{"ConditionalRequestConflict", 409, "A conflicting operation occurred. If using PutObject you can retry the request."}
	ErrRequestTimeTooSkewed              = &APIError{"RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large."}
	ErrSignatureDoesNotMatch             = &APIError{"SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	ErrAuthorizationHeaderMalformed      = &APIError{"AuthorizationHeaderMalformed", 400, "The authorization header that you provided is not valid."}
	ErrAuthorizationQueryParametersError = &APIError{"AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."}
	ErrSlowDown                          = &APIError{"SlowDown", 503, "Please reduce your request rate."}
	ErrServiceUnavailable                = &APIError{"ServiceUnavailable", 503, "The service is unavailable. Please retry."}
	ErrXAmzContentSHA256Mismatch         = &APIError{"XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."}
	ErrInvalidPartNumber                 = &APIError{"InvalidPartNumber", 416, "The requested partnumber is not satisfiable."}
	ErrTooManyParts                      = &APIError{"InvalidArgument", 400, "Part number must be an integer between 1 and 10000, inclusive."}
	ErrMalformedDate                     = &APIError{"AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header."}
	ErrUnsupportedSignature              = &APIError{"InvalidRequest", 400, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."}
	ErrCORSForbidden                     = &APIError{"AccessForbidden", 403, "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."}
	ErrInvalidEncodingMethod             = &APIError{"InvalidArgument", 400, "Invalid Encoding Method specified in Request."}
	ErrInvalidMaxKeys                    = &APIError{"InvalidArgument", 400, "Argument maxKeys must be an integer between 0 and 2147483647."}
	ErrInvalidContinuationToken          = &APIError{"InvalidArgument", 400, "The continuation token provided is incorrect."}
	ErrInvalidStorageClass               = &APIError{"InvalidStorageClass", 400, "The storage class you specified is not valid."}
	ErrInvalidLocationConstraint         = &APIError{"InvalidLocationConstraint", 400, "The specified location-constraint is not valid."}
	ErrRequestTimeout                    = &APIError{"RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period."}
)

// Field is an extra element of an S3 error body, such as ArgumentName or
// Condition.
type Field struct{ Name, Value string }

// DetailedError is an S3 error whose body carries extra elements after its
// message, as S3 gives them for some errors: ArgumentName and
// ArgumentValue, the Condition of a PreconditionFailed, what a
// SignatureDoesNotMatch was computed over.
type DetailedError struct {
	*APIError
	Fields []Field
}

func (e *DetailedError) Unwrap() error { return e.APIError }

// With returns e with extra elements in its body, as name, value pairs.
func (e *APIError) With(nameValues ...string) *DetailedError {
	d := &DetailedError{APIError: e}
	for i := 0; i+1 < len(nameValues); i += 2 {
		d.Fields = append(d.Fields, Field{nameValues[i], nameValues[i+1]})
	}
	return d
}

// SignatureMismatch is SignatureDoesNotMatch with what S3 puts in its body
// for the client to compare its own signing with.
func SignatureMismatch(accessKey, stringToSign, signature, canonicalRequest string) *DetailedError {
	d := ErrSignatureDoesNotMatch.With("AWSAccessKeyId", accessKey, "StringToSign", stringToSign, "SignatureProvided", signature)
	if canonicalRequest != "" {
		d.Fields = append(d.Fields, Field{"CanonicalRequest", canonicalRequest})
	}
	return d
}

// PostFieldMissing is the error of a POST upload without a field it needs.
func PostFieldMissing(name string) *DetailedError {
	return ErrInvalidArgument.WithMessage("Bucket POST must contain a field named '"+name+"'.  If it is specified, please check the order of the fields.").
		With("ArgumentName", name, "ArgumentValue", "")
}
