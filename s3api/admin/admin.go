// Package admin is Strata's admin API: JSON over HTTP under the path
// prefix /.strata/admin/v1/ of the S3 endpoint (no bucket name starts with
// a dot, so it never meets an S3 path), signed with AWS Signature Version 4
// like any S3 request, by a user allowed to administer. `strata admin` is
// its client; docs/admin.md describes both.
//
// Routes are registered with Handle; each answers JSON, or an error that
// becomes {"code": ..., "message": ...} with its HTTP status.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/erasure"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/sigv4"
)

// Prefix is the path under which the admin API answers.
const Prefix = "/.strata/admin/v1/"

// Config configures the admin API.
type Config struct {
	// Lookup returns the secret of an access key (the S3 credentials).
	Lookup func(accessKey string) (secret string, ok bool)
	// IsAdmin reports whether an access key may use the admin API; nil
	// allows nobody.
	IsAdmin func(accessKey string) bool
	// Version is the server's version, for info.
	Version string
	// Backend describes what the server serves, for info (any value that
	// encodes to JSON); nil leaves it out.
	Backend func(ctx context.Context) any
	// Bitrot is the bitrot layer, for scan and the counters in info; nil
	// when the server has none.
	Bitrot Scanner
	// EnableWORM turns a bucket write-once; nil answers NotImplemented.
	EnableWORM func(ctx context.Context, bucket string) error
	Logger     *slog.Logger
	// Now is the clock of signature checks; nil is time.Now.
	Now func() time.Time
}

// Func serves one route. It writes its answer with WriteJSON (or streams
// it), or returns an error for the handler to answer with.
type Func func(w http.ResponseWriter, r *http.Request) error

// Handler is the admin API, an http.Handler for paths under Prefix.
type Handler struct {
	cfg    Config
	verify *sigv4.Verifier
	log    *slog.Logger

	mu     sync.RWMutex
	routes map[string]map[string]Func // route -> method -> func
	healer Healer                     // set by HandleHeal
}

// New returns the admin API with its built-in routes.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lookup := cfg.Lookup
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	h := &Handler{
		cfg:    cfg,
		verify: &sigv4.Verifier{Lookup: lookup, Now: cfg.Now},
		log:    cfg.Logger,
		routes: map[string]map[string]Func{},
	}
	h.Handle(http.MethodGet, "info", h.info)
	h.Handle(http.MethodPost, "scan", h.scan)
	h.Handle(http.MethodPost, "bucket/worm", h.bucketWORM)
	return h
}

// Handle registers fn for method on route, a path below Prefix such as
// "kms/key/create". A later registration of the same pair replaces it.
func (h *Handler) Handle(method, route string, fn Func) {
	route = strings.Trim(route, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.routes[route] == nil {
		h.routes[route] = map[string]Func{}
	}
	h.routes[route][method] = fn
}

// Error is an admin API error: an HTTP status and a JSON body.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors of the API itself.
var (
	ErrNotAdmin  = &Error{http.StatusForbidden, "AccessDenied", "the credentials are not allowed to administer this server"}
	ErrAnonymous = &Error{http.StatusForbidden, "AccessDenied",
		"the admin API needs a request signed with AWS Signature Version 4"}
)

// kindStatus maps backend error kinds to HTTP statuses.
var kindStatus = map[backends.Kind]int{
	backends.NoSuchBucket:       http.StatusNotFound,
	backends.NoSuchKey:          http.StatusNotFound,
	backends.NoSuchUpload:       http.StatusNotFound,
	backends.NotFound:           http.StatusNotFound,
	backends.BucketExists:       http.StatusConflict,
	backends.NotEmpty:           http.StatusConflict,
	backends.Conflict:           http.StatusConflict,
	backends.PreconditionFailed: http.StatusPreconditionFailed,
	backends.InvalidArgument:    http.StatusBadRequest,
	backends.InvalidKey:         http.StatusBadRequest,
	backends.InvalidBucketName:  http.StatusBadRequest,
	backends.AccessDenied:       http.StatusForbidden,
	backends.NotImplemented:     http.StatusNotImplemented,
	backends.Unavailable:        http.StatusServiceUnavailable,
	backends.SlowDown:           http.StatusServiceUnavailable,
}

// kindCode names backend error kinds in the API's answers.
var kindCode = map[backends.Kind]string{
	backends.NoSuchBucket:       "NoSuchBucket",
	backends.NoSuchKey:          "NoSuchKey",
	backends.NoSuchUpload:       "NoSuchUpload",
	backends.NotFound:           "NotFound",
	backends.BucketExists:       "BucketExists",
	backends.NotEmpty:           "NotEmpty",
	backends.Conflict:           "Conflict",
	backends.PreconditionFailed: "PreconditionFailed",
	backends.InvalidArgument:    "InvalidArgument",
	backends.InvalidKey:         "InvalidArgument",
	backends.InvalidBucketName:  "InvalidBucketName",
	backends.AccessDenied:       "AccessDenied",
	backends.NotImplemented:     "NotImplemented",
	backends.Unavailable:        "ServiceUnavailable",
	backends.SlowDown:           "SlowDown",
}

// ToError turns any error into the Error to answer.
func ToError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var se *s3err.APIError
	if errors.As(err, &se) {
		return &Error{Status: se.Status, Code: se.Code, Message: se.Message}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusServiceUnavailable, Code: "RequestTimeout", Message: err.Error()}
	}
	var be *backends.Error
	if errors.As(err, &be) {
		if st, ok := kindStatus[be.Kind]; ok {
			return &Error{Status: st, Code: kindCode[be.Kind], Message: be.Error()}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"InternalError","message":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// WriteError answers err.
func WriteError(w http.ResponseWriter, err error) {
	e := ToError(err)
	WriteJSON(w, e.Status, e)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		WriteError(w, Errorf(http.StatusNotFound, "NotFound", "no admin API at %s", r.URL.Path))
		return
	}
	res, err := h.verify.Verify(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	if res.Anonymous {
		WriteError(w, ErrAnonymous)
		return
	}
	if h.cfg.IsAdmin == nil || !h.cfg.IsAdmin(res.AccessKey) {
		WriteError(w, ErrNotAdmin)
		return
	}
	// The verified body: a payload whose hash does not match fails as it
	// is read.
	r.Body = io.NopCloser(res.Body)

	h.mu.RLock()
	methods := h.routes[strings.Trim(route, "/")]
	fn := methods[r.Method]
	h.mu.RUnlock()
	switch {
	case methods == nil:
		WriteError(w, Errorf(http.StatusNotFound, "NotFound", "the admin API has no %q", route))
		return
	case fn == nil:
		WriteError(w, Errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on %q", r.Method, route))
		return
	}
	if err := fn(w, r); err != nil {
		e := ToError(err)
		if e.Status >= 500 && e.Status != http.StatusNotImplemented {
			h.log.Error("admin: request failed", "route", route, "err", err)
		}
		WriteJSON(w, e.Status, e)
	}
}

// Bool reads a boolean query parameter: absent is false, "" and "true" are
// true.
func Bool(r *http.Request, name string) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	switch strings.ToLower(q.Get(name)) {
	case "", "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, Errorf(http.StatusBadRequest, "InvalidArgument", "%s=%q is neither true nor false", name, q.Get(name))
}

// bucketParam returns the required bucket parameter.
func bucketParam(r *http.Request) (string, error) {
	b := r.URL.Query().Get("bucket")
	if b == "" {
		return "", Errorf(http.StatusBadRequest, "InvalidArgument", "the bucket parameter is missing")
	}
	if !backends.ValidBucketName(b) {
		return "", Errorf(http.StatusNotFound, "NoSuchBucket", "no bucket named %q", b)
	}
	return b, nil
}

// Info is the answer of GET info.
type Info struct {
	Version string        `json:"version"`
	Backend any           `json:"backend,omitempty"`
	Bitrot  *BitrotStatus `json:"bitrot,omitempty"`
	// Erasure is the erasure store's layout and drives, when the server
	// serves one.
	Erasure *erasure.Status `json:"erasure,omitempty"`
}

// BitrotStatus is the bitrot layer's part of Info.
type BitrotStatus struct {
	BlockSize int `json:"block_size"`
	Counters  any `json:"counters"`
}

func (h *Handler) info(w http.ResponseWriter, r *http.Request) error {
	in := Info{Version: h.cfg.Version}
	if h.cfg.Backend != nil {
		in.Backend = h.cfg.Backend(r.Context())
	}
	if h.cfg.Bitrot != nil {
		in.Bitrot = &BitrotStatus{BlockSize: h.cfg.Bitrot.BlockSize(), Counters: h.cfg.Bitrot.Stats()}
	}
	h.mu.RLock()
	hl := h.healer
	h.mu.RUnlock()
	if hl != nil {
		st := hl.Status()
		in.Erasure = &st
	}
	WriteJSON(w, http.StatusOK, in)
	return nil
}

func (h *Handler) bucketWORM(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketParam(r)
	if err != nil {
		return err
	}
	if h.cfg.EnableWORM == nil {
		return Errorf(http.StatusNotImplemented, "NotImplemented", "this server cannot make buckets write-once")
	}
	if err := h.cfg.EnableWORM(r.Context(), bucket); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"bucket": bucket, "worm": true})
	return nil
}
