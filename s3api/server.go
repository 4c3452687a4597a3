// Package s3api serves the Amazon S3 REST API over a backends.Backend: HTTP
// routing, authentication, checksums and XML bodies. It knows nothing of any
// particular backend.
package s3api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/bitrot"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/sigv2"
	"github.com/strata-storage/strata/s3api/sigv4"
)

// Config configures a Server.
type Config struct {
	Backend backends.Backend
	// Credentials maps access keys to secret keys.
	Credentials map[string]string
	// Domains are the host names under which buckets are addressed
	// virtual-host style (bucket.domain). Path style always works.
	Domains []string
	// Region is returned by GetBucketLocation; signatures for any region
	// are accepted.
	Region string
	Logger *slog.Logger
	// Now returns the current time (tests); nil is time.Now.
	Now func() time.Time
	// AllowSSECOverHTTP accepts SSE-C keys on plain HTTP connections
	// (behind a proxy that terminates TLS). S3 refuses them.
	AllowSSECOverHTTP bool
	// DisableSigV2 refuses requests and POST forms signed with AWS
	// Signature Version 2 (InvalidRequest: use AWS4-HMAC-SHA256). V2 is
	// accepted by default: presigned URLs from boto3 and aws CLI v1 use it.
	DisableSigV2 bool
	// Admin, when set, serves the paths under /.strata/ (the admin API,
	// s3api/admin); no bucket name starts with a dot.
	Admin http.Handler
	// CanBypassGovernance reports whether a user (by access key) may
	// bypass GOVERNANCE Object Lock retention with
	// x-amz-bypass-governance-retention: true. Nil: no one may.
	CanBypassGovernance func(accessKey string) bool
}

// Server is an http.Handler that serves the S3 API.
type Server struct {
	cfg    Config
	gw     *gateway.Gateway
	auth   *sigv4.Verifier
	v2     *sigv2.Verifier // nil when V2 is refused
	log    *slog.Logger
	hostID string

	uploads uploadAlgs
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	creds := cfg.Credentials
	h := sha256.Sum256([]byte("strata-host"))
	lookup := func(ak string) (string, bool) { s, ok := creds[ak]; return s, ok }
	s := &Server{
		cfg: cfg,
		gw:  gateway.New(cfg.Backend),
		auth: &sigv4.Verifier{
			Lookup: lookup,
			Now:    cfg.Now,
		},
		log:    cfg.Logger,
		hostID: hex.EncodeToString(h[:]),
	}
	if !cfg.DisableSigV2 {
		s.v2 = &sigv2.Verifier{Lookup: lookup, Now: cfg.Now, Domains: cfg.Domains}
	}
	return s
}

// reqInfo is what a request carries through the handlers.
type reqInfo struct {
	RequestID string
	HostID    string
	Bucket    string
	Key       string
	AccessKey string
}

type ctxKey struct{}

func reqInfoFrom(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	ri := &reqInfo{RequestID: newRequestID(), HostID: s.hostID}
	w.Header().Set("x-amz-request-id", ri.RequestID)
	w.Header().Set("x-amz-id-2", s.hostID)
	w.Header().Set("Server", "Strata")
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))

	s.serve(w, r, ri)

	level := slog.LevelDebug
	if w.status >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "request", "id", ri.RequestID, "method", r.Method,
		"bucket", ri.Bucket, "key", ri.Key, "query", r.URL.RawQuery, "status", w.status,
		"bytes", w.bytes, "duration", time.Since(start))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if r.URL.Path == "/health/live" || r.URL.Path == "/health/ready" {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	bucket, key, err := s.splitPath(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ri.Bucket, ri.Key = bucket, key
	if bucket == ".strata" && s.cfg.Admin != nil {
		s.cfg.Admin.ServeHTTP(w, r)
		return
	}

	if headerSection(r.Header) > maxHeaderSection {
		writeError(w, r, errHeaderSectionTooLarge)
		return
	}
	if r.Method == http.MethodOptions {
		s.preflight(w, r, bucket)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && backends.ValidBucketName(bucket) {
		// Before authentication: a browser reads S3's refusals too (a
		// 403, a failed POST form) only with the CORS headers.
		s.corsActual(w, r, bucket, origin)
	}
	if r.Method == http.MethodPost && key == "" && bucket != "" {
		switch {
		case isFormUpload(r):
			s.postObject(w, r, bucket)
			return
		case r.URL.RawQuery == "":
			writeError(w, r, errPostNotForm)
			return
		}
	}
	if r.Method == http.MethodPost && key != "" && r.URL.RawQuery == "" {
		// POST Object goes to the bucket: a POST to a key (a form with
		// the key in the URL, say) is no operation, whoever sends it.
		writeError(w, r, errPostToObject)
		return
	}

	var res *sigv4.Result
	if s.v2 != nil && sigv2.Is(r) {
		res, err = s.v2.Verify(r)
	} else {
		res, err = s.auth.Verify(r) // V2 when disabled: InvalidRequest
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if res.Anonymous {
		// Strata serves nothing anonymously. As on S3, a bucket that does
		// not exist is NoSuchBucket to anyone; the rest is AccessDenied.
		err := s3err.ErrAccessDenied
		create := r.Method == http.MethodPut && key == "" && r.URL.RawQuery == ""
		if bucket != "" && !create && !s.bucketExists(r.Context(), bucket) {
			err = s3err.ErrNoSuchBucket
		}
		writeError(w, r, err)
		return
	}
	ri.AccessKey = res.AccessKey
	// The gateway options ride on the request's context; handlers fill
	// them (q.options()) before they call the gateway.
	opts := &gateway.Options{Result: &gateway.Result{}, BypassGovernance: s.canBypass(r, res.AccessKey)}
	r = r.WithContext(gateway.WithOptions(r.Context(), opts))
	req := &request{Request: r, w: w, body: res, info: ri, s: s, opts: opts}

	if bucket == "" {
		if r.Method == http.MethodGet {
			s.listBuckets(req)
			return
		}
		writeError(w, r, s3err.ErrMethodNotAllowed)
		return
	}
	if !backends.ValidBucketName(bucket) {
		// Only a name that could exist reaches the backend.
		if r.Method == http.MethodPut && key == "" && !hasOtherSubresource(req, nil) {
			writeError(w, r, s3err.ErrInvalidBucketName)
		} else {
			writeError(w, r, s3err.ErrNoSuchBucket)
		}
		return
	}
	if err := s.checkExpectedOwner(r.Header, res.AccessKey); err != nil {
		writeError(w, r, err)
		return
	}
	if r.Header.Get("X-Amz-Content-Sha256") == sigv4.StreamingUnsignedTrailer && isConfigPut(r, key) {
		// S3 takes an unsigned streaming body only for object data
		// (PutObject, UploadPart), not for a configuration document.
		writeError(w, r, errStreamingConfig)
		return
	}
	if key == "" {
		s.routeBucket(req)
	} else {
		if err := backends.CheckKey(key); err != nil {
			writeError(w, r, err)
			return
		}
		if bitrot.Reserved(key) {
			writeError(w, r, s3err.ErrInvalidObjectName.WithMessage("Object keys under "+bitrot.Prefix+" are reserved by Strata."))
			return
		}
		if err := checkReservedKey(key); err != nil {
			writeError(w, r, err)
			return
		}
		s.routeObject(req)
	}
}

var errStreamingConfig = s3err.ErrInvalidRequest.WithMessage("The value of x-amz-content-sha256 header is invalid.")

// isConfigPut reports whether r puts a configuration document: a PUT of a
// bucket sub-resource, or of an object's tagging, retention, legal hold or
// ACL.
func isConfigPut(r *http.Request, key string) bool {
	if r.Method != http.MethodPut {
		return false
	}
	q := r.URL.Query()
	if key == "" {
		for p := range q {
			// x-id names the operation (SDKs add it): not a sub-resource.
			if p != "x-id" && !strings.HasPrefix(strings.ToLower(p), "x-amz-") {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"tagging", "retention", "legal-hold", "acl"} {
		if q.Has(p) {
			return true
		}
	}
	return false
}

// splitPath finds the bucket and key of a request, virtual-host style when
// the host is a subdomain of a configured domain, else path style.
func (s *Server) splitPath(r *http.Request) (bucket, key string, err error) {
	p := r.URL.Path
	if r.URL.RawPath != "" {
		// Decode once ourselves: keys may hold any byte sequence.
		if u, e := url.PathUnescape(r.URL.RawPath); e == nil {
			p = u
		}
	}
	host := r.Host
	if h, _, e := net.SplitHostPort(host); e == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, d := range s.cfg.Domains {
		if strings.HasSuffix(host, "."+d) {
			bucket = strings.TrimSuffix(host, "."+d)
			return bucket, strings.TrimPrefix(p, "/"), nil
		}
	}
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return "", "", nil
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key, nil
}

// request is one authenticated S3 request.
type request struct {
	*http.Request
	w    http.ResponseWriter
	body *sigv4.Result
	info *reqInfo
	s    *Server
	opts *gateway.Options // carried by the request's context
}

func (q *request) ctx() context.Context { return q.Context() }
func (q *request) bucket() string       { return q.info.Bucket }
func (q *request) key() string          { return q.info.Key }

// options are the request's gateway options (version, encryption,
// governance bypass), which its context carries to the layers.
func (q *request) options() *gateway.Options { return q.opts }

// fail answers err; a delete marker that a layer reported (a GET of a
// deleted key, or of a marker by its version ID) is named in the headers,
// as S3 does.
func (q *request) fail(err error) {
	if q.opts != nil && q.opts.Result != nil && q.opts.Result.DeleteMarker {
		q.w.Header().Set("x-amz-delete-marker", "true")
		q.w.Header().Set("x-amz-version-id", q.opts.Result.VersionID)
	}
	writeError(q.w, q.Request, err)
}
func (q *request) has(param string) bool {
	_, ok := q.URL.Query()[param]
	return ok
}
func (q *request) query(param string) string { return q.URL.Query().Get(param) }

// notConfigured answers the "no such configuration" error AWS gives for a
// bucket sub-resource that was never set.
func notConfigured(code, msg string) *s3err.APIError {
	return &s3err.APIError{Code: code, Status: http.StatusNotFound, Message: msg}
}

func (s *Server) routeBucket(q *request) {
	switch q.Method {
	case http.MethodGet:
		switch {
		case q.has("location"):
			s.getBucketLocation(q)
		case q.has("cors"):
			s.getBucketCors(q)
		case q.has("tagging"):
			s.getBucketTagging(q)
		case q.has("uploads"):
			s.listMultipartUploads(q)
		case q.has("versions"):
			s.listObjectVersions(q)
		case q.has("versioning"):
			s.getBucketVersioning(q)
		case q.has("acl"):
			s.getACL(q, true)
		case q.has("ownershipControls"):
			s.getBucketOwnershipControls(q)
		case q.has("policy"), q.has("policyStatus"):
			s.checkBucketThen(q, notConfigured("NoSuchBucketPolicy", "The bucket policy does not exist"))
		case q.has("publicAccessBlock"):
			s.getPublicAccessBlock(q)
		case q.has("lifecycle"):
			s.checkBucketThen(q, notConfigured("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"))
		case q.has("encryption"):
			s.getBucketEncryption(q)
		case q.has("object-lock"):
			s.getObjectLockConfiguration(q)
		case q.has("website"):
			s.checkBucketThen(q, notConfigured("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"))
		case q.has("replication"):
			s.checkBucketThen(q, notConfigured("ReplicationConfigurationNotFoundError", "The replication configuration was not found"))
		case hasOtherSubresource(q, listExtensions):
			q.fail(s3err.ErrNotImplemented)
		case q.query("list-type") == "2":
			s.listObjectsV2(q)
		default:
			s.listObjectsV1(q)
		}
	case http.MethodHead:
		s.headBucket(q)
	case http.MethodPut:
		switch {
		case q.has("cors"):
			s.putBucketCors(q)
		case q.has("versioning"):
			s.putBucketVersioning(q)
		case q.has("object-lock"):
			s.putObjectLockConfiguration(q)
		case q.has("tagging"):
			s.putBucketTagging(q)
		case q.has("encryption"):
			s.putBucketEncryption(q)
		case q.has("acl"):
			s.putACL(q, true)
		case q.has("ownershipControls"):
			s.putBucketOwnershipControls(q)
		case q.has("publicAccessBlock"):
			s.putPublicAccessBlock(q)
		case hasOtherSubresource(q, nil):
			q.fail(s3err.ErrNotImplemented)
		default:
			s.createBucket(q)
		}
	case http.MethodDelete:
		switch {
		case q.has("cors"):
			s.deleteBucketCors(q)
		case q.has("tagging"):
			s.deleteBucketTagging(q)
		case q.has("encryption"):
			s.deleteBucketEncryption(q)
		case q.has("ownershipControls"):
			s.checkBucketThen(q, errOwnershipNotSupported)
		case q.has("publicAccessBlock"):
			s.deletePublicAccessBlock(q)
		case hasOtherSubresource(q, nil):
			q.fail(s3err.ErrNotImplemented)
		default:
			s.deleteBucket(q)
		}
	case http.MethodPost:
		switch {
		case q.has("delete"):
			s.deleteObjects(q)
		default:
			q.fail(s3err.ErrNotImplemented)
		}
	default:
		q.fail(s3err.ErrMethodNotAllowed)
	}
}

func (s *Server) routeObject(q *request) {
	switch q.Method {
	case http.MethodGet:
		switch {
		case q.has("uploadId"):
			s.listParts(q)
		case q.has("tagging"):
			s.getObjectTagging(q)
		case q.has("attributes"):
			s.getObjectAttributes(q)
		case q.has("retention"):
			s.getObjectRetention(q)
		case q.has("legal-hold"):
			s.getObjectLegalHold(q)
		case q.has("acl"):
			s.getACL(q, false)
		case hasOtherSubresource(q, nil):
			q.fail(s3err.ErrNotImplemented)
		default:
			s.getObject(q, false)
		}
	case http.MethodHead:
		s.getObject(q, true)
	case http.MethodPut:
		switch {
		case q.has("uploadId") || q.has("partNumber"):
			if q.Header.Get("x-amz-copy-source") != "" {
				s.uploadPartCopy(q)
			} else {
				s.uploadPart(q)
			}
		case q.has("tagging"):
			s.putObjectTagging(q)
		case q.has("retention"):
			s.putObjectRetention(q)
		case q.has("legal-hold"):
			s.putObjectLegalHold(q)
		case q.has("acl"):
			s.putACL(q, false)
		case hasOtherSubresource(q, nil):
			q.fail(s3err.ErrNotImplemented)
		case q.Header.Get("x-amz-copy-source") != "":
			s.copyObject(q)
		default:
			s.putObject(q)
		}
	case http.MethodDelete:
		switch {
		case q.has("uploadId"):
			s.abortMultipartUpload(q)
		case q.has("tagging"):
			s.deleteObjectTagging(q)
		case hasOtherSubresource(q, nil):
			q.fail(s3err.ErrNotImplemented)
		default:
			s.deleteObject(q)
		}
	case http.MethodPost:
		switch {
		case q.has("uploads"):
			s.createMultipartUpload(q)
		case q.has("uploadId"):
			s.completeMultipartUpload(q)
		case hasOtherSubresource(q, nil):
			q.fail(s3err.ErrNotImplemented) // restore, select
		default:
			q.fail(errPostToObject)
		}
	default:
		q.fail(s3err.ErrMethodNotAllowed)
	}
}

// errPostToObject is S3's answer to a POST to a key without a subresource.
var errPostToObject = s3err.ErrMethodNotAllowed.With("Method", "POST", "ResourceType", "OBJECT")

// maxHeaderSection is the most request headers S3 takes: "The PUT request
// header is limited to 8 KB in size" (of which 2 KB of user metadata).
const maxHeaderSection = 8 << 10

var errHeaderSectionTooLarge = (&s3err.APIError{Code: "RequestHeaderSectionTooLarge", Status: http.StatusBadRequest,
	Message: "Your request header section exceeds the maximum allowed size."}).With("MaxSizeAllowed", strconv.Itoa(maxHeaderSection))

// headerSection is the size of h as sent: "Name: value\r\n" per value.
func headerSection(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// knownParams are query parameters that are not sub-resources: anything
// else in a request's query names a feature Strata does not have yet, and
// gets NotImplemented rather than a wrong success.
var knownParams = map[string]bool{
	"prefix": true, "delimiter": true, "marker": true, "max-keys": true, "encoding-type": true,
	"list-type": true, "continuation-token": true, "start-after": true, "fetch-owner": true,
	"key-marker": true, "version-id-marker": true, "upload-id-marker": true, "max-uploads": true,
	"max-parts": true, "part-number-marker": true, "partNumber": true, "uploadId": true, "uploads": true,
	"versionId": true, "x-id": true, "delete": true,
	"response-content-type": true, "response-content-language": true, "response-expires": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
	"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
	"X-Amz-Content-Sha256": true, "x-amz-checksum-mode": true,
	"AWSAccessKeyId": true, "Signature": true, "Expires": true,
	// botocore puts the signed Content-Type and Content-MD5 of a V2
	// presigned URL in its query.
	"content-type": true, "content-md5": true,
}

// listExtensions are listing parameters of other servers that a listing
// may ignore: MinIO's metadata=true (minio-go's WithMetadata) asks for user
// metadata in ListObjectsV2, which then comes without it.
var listExtensions = map[string]bool{"metadata": true}

// hasOtherSubresource reports whether q's query has a parameter that is
// neither known nor in also.
func hasOtherSubresource(q *request, also map[string]bool) bool {
	for p := range q.URL.Query() {
		if !knownParams[p] && !also[p] && !strings.HasPrefix(strings.ToLower(p), "x-amz-") {
			return true
		}
	}
	return false
}

// bucketExists tells whether bucket certainly exists or may (an error
// other than NoSuchBucket).
func (s *Server) bucketExists(ctx context.Context, bucket string) bool {
	if !backends.ValidBucketName(bucket) {
		return false
	}
	_, err := s.gw.HeadBucket(ctx, bucket)
	return !backends.Is(err, backends.NoSuchBucket)
}

func (s *Server) checkBucketThen(q *request, err error) {
	if _, e := s.cfg.Backend.HeadBucket(q.ctx(), q.bucket()); e != nil {
		q.fail(e)
		return
	}
	q.fail(err)
}
