package s3api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/sse"
	"github.com/strata-storage/strata/s3api/s3err"
)

// Headers of server-side encryption.
const (
	hSSE          = "X-Amz-Server-Side-Encryption"
	hSSEKMSKeyID  = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	hSSEContext   = "X-Amz-Server-Side-Encryption-Context"
	hSSEBucketKey = "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"
	hSSECPrefix   = "X-Amz-Server-Side-Encryption-Customer-"
	hCopySSECPfx  = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-"
)

// encrypts reports whether the backend stack encrypts (has the SSE
// layer). Without it, encryption headers are refused rather than ignored.
func (s *Server) encrypts() bool {
	_, ok := s.cfg.Backend.(interface{ ServerSideEncryption() bool })
	return ok
}

// withSSE returns ctx with options that carry req as the encryption.
func withSSE(ctx context.Context, o gateway.Options, req *gateway.SSE) context.Context {
	o.SSE = req
	return gateway.WithOptions(ctx, &o)
}

var (
	errSSEUnsupported = s3err.ErrInvalidArgument.WithMessage("The encryption method specified is not supported")
	errSSECOverHTTP   = s3err.ErrInvalidRequest.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
	errSSEBoth        = s3err.ErrInvalidArgument.WithMessage("Server Side Encryption with Customer provided key is incompatible with the encryption method specified")
)

// sseWrite parses the encryption a write asks for (PUT, POST fields,
// CreateMultipartUpload, the target of a copy): SSE-S3, SSE-KMS or SSE-C.
func (s *Server) sseWrite(q *request, h http.Header) (*gateway.SSE, error) {
	alg := strings.TrimSpace(h.Get(hSSE))
	c, err := s.sseCustomer(q, h, hSSECPrefix)
	if err != nil {
		return nil, err
	}
	if c != nil {
		if alg != "" {
			return nil, errSSEBoth
		}
		return c, nil
	}
	if alg == "" {
		if h.Get(hSSEKMSKeyID) != "" || h.Get(hSSEContext) != "" {
			return nil, s3err.ErrInvalidArgument.WithMessage("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
		return nil, nil
	}
	if !s.encrypts() {
		return nil, s3err.ErrNotImplemented.WithMessage("Server-side encryption is not enabled on this server.")
	}
	req := &gateway.SSE{}
	switch alg {
	case gateway.SSES3:
		req.Type = gateway.SSES3
		if h.Get(hSSEKMSKeyID) != "" || h.Get(hSSEContext) != "" {
			return nil, s3err.ErrInvalidArgument.WithMessage("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
	case gateway.SSEKMS:
		req.Type = gateway.SSEKMS
		req.KMSKeyID = strings.TrimSpace(h.Get(hSSEKMSKeyID))
		if v := h.Get(hSSEContext); v != "" {
			b, err := base64.StdEncoding.DecodeString(v)
			var m map[string]string
			if err == nil {
				err = json.Unmarshal(b, &m)
			}
			if err != nil {
				return nil, s3err.ErrInvalidArgument.WithMessage("The encryption context must be base64-encoded JSON with string values.")
			}
			req.KMSContext = m
		}
	case "aws:kms:dsse":
		return nil, s3err.ErrNotImplemented.WithMessage("Dual-layer server-side encryption (aws:kms:dsse) is not implemented.")
	default:
		return nil, errSSEUnsupported
	}
	switch strings.ToLower(h.Get(hSSEBucketKey)) {
	case "":
	case "true":
		req.BucketKey = req.Type == gateway.SSEKMS
	case "false":
	default:
		return nil, s3err.ErrInvalidArgument.WithMessage("x-amz-server-side-encryption-bucket-key-enabled must be true or false")
	}
	return req, nil
}

// sseCustomer parses SSE-C headers under prefix (the object's, or the copy
// source's); nil when none were sent.
func (s *Server) sseCustomer(q *request, h http.Header, prefix string) (*gateway.SSE, error) {
	alg, key, sum := h.Get(prefix+"Algorithm"), h.Get(prefix+"Key"), h.Get(prefix+"Key-Md5")
	if alg == "" && key == "" && sum == "" {
		return nil, nil
	}
	if !s.encrypts() {
		return nil, s3err.ErrNotImplemented.WithMessage("Server-side encryption is not enabled on this server.")
	}
	if q.TLS == nil && !s.cfg.AllowSSECOverHTTP {
		return nil, errSSECOverHTTP
	}
	switch {
	case alg == "":
		return nil, s3err.ErrInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
	case alg != "AES256":
		return nil, &s3err.APIError{Code: "InvalidEncryptionAlgorithmError", Status: http.StatusBadRequest, Message: "The encryption request you specified is not valid. The valid value is AES256."}
	case key == "":
		return nil, s3err.ErrInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
	case sum == "":
		return nil, s3err.ErrInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) != 32 {
		return nil, s3err.ErrInvalidArgument.WithMessage("The secret key was invalid for the specified algorithm.")
	}
	if sse.KeyMD5(k) != sum {
		return nil, s3err.ErrInvalidArgument.WithMessage("The calculated MD5 hash of the key did not match the hash that was provided.")
	}
	return &gateway.SSE{Type: gateway.SSEC, CustomerKey: k}, nil
}

// sseRead parses the SSE-C headers of a read (GET, HEAD, UploadPart):
// other encryption headers do not belong there.
func (s *Server) sseRead(q *request) (*gateway.SSE, error) {
	if q.Header.Get(hSSE) != "" || q.Header.Get(hSSEKMSKeyID) != "" {
		if q.Method == http.MethodGet || q.Method == http.MethodHead {
			return nil, s3err.ErrInvalidArgument.WithMessage("x-amz-server-side-encryption header is not supported for this operation.")
		}
	}
	return s.sseCustomer(q, q.Header, hSSECPrefix)
}

// setSSEHeaders answers how the object is encrypted. req is the request's
// SSE-C key, whose MD5 an SSE-C answer repeats.
func setSSEHeaders(h http.Header, m backends.Meta, req *gateway.SSE) {
	info := sse.Describe(m)
	switch info.Type {
	case gateway.SSES3:
		h.Set(hSSE, gateway.SSES3)
	case gateway.SSEKMS:
		h.Set(hSSE, gateway.SSEKMS)
		if info.KMSKeyID != "" {
			h.Set(hSSEKMSKeyID, info.KMSKeyID)
		}
		if info.KMSContext != "" {
			h.Set(hSSEContext, info.KMSContext)
		}
		if info.BucketKey {
			h.Set(hSSEBucketKey, "true")
		}
	case gateway.SSEC:
		h.Set(hSSECPrefix+"Algorithm", "AES256")
		if req != nil && req.Type == gateway.SSEC {
			h.Set(hSSECPrefix+"Key-Md5", sse.KeyMD5(req.CustomerKey))
		}
	}
}

// needCustomerKey refuses to serve an SSE-C object's data or headers
// without its key, as S3 does for GET and HEAD.
func needCustomerKey(m backends.Meta, req *gateway.SSE) error {
	if sse.Describe(m).Type == gateway.SSEC && (req == nil || req.Type != gateway.SSEC) {
		return s3err.ErrInvalidRequest.WithMessage("The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
	}
	return nil
}

// ---- bucket default encryption ----

func (s *Server) putBucketEncryption(q *request) {
	if !s.encrypts() {
		q.fail(s3err.ErrNotImplemented.WithMessage("Server-side encryption is not enabled on this server."))
		return
	}
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		q.fail(err)
		return
	}
	if _, err := sse.ParseBucketConfig(data); err != nil {
		if errors.Is(err, sse.ErrMalformed) {
			err = s3err.ErrMalformedXML
		}
		q.fail(err)
		return
	}
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), gateway.DocEncryption, data); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusOK)
}

func (s *Server) getBucketEncryption(q *request) {
	data, err := s.gw.GetBucketConfig(q.ctx(), q.bucket(), gateway.DocEncryption)
	if backends.Is(err, backends.NotFound) {
		if _, herr := s.gw.HeadBucket(q.ctx(), q.bucket()); herr != nil {
			err = herr
		} else {
			err = notConfigured("ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found")
		}
	}
	if err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Write(data)
}

func (s *Server) deleteBucketEncryption(q *request) {
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), gateway.DocEncryption, nil); err != nil && !backends.Is(err, backends.NotFound) {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}
