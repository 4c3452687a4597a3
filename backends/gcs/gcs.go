// Package gcs is the backend over Google Cloud Storage: every bucket it is
// given is a GCS bucket, every object a GCS object at its key, with its
// content headers and user metadata as GCS attributes, so that objects
// already in a bucket are served as they are and what Strata writes can be
// read with any GCS tool.
//
// Strata's own state lives under the reserved prefix .strata.sys/ of each
// bucket, which listings never show: staged uploads, multipart parts and
// upload records, bucket documents, and metadata too large for GCS's 8 KiB
// of custom metadata. See docs/backend-gcs.md.
package gcs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	raw "google.golang.org/api/storage/v1"

	"github.com/strata-storage/strata/backends"
)

// Config configures the GCS backend; it is decoded from the server's YAML
// configuration.
type Config struct {
	// Project is the Google Cloud project in which buckets are created
	// and listed.
	Project string `yaml:"project"`
	// Credentials is the path of a credentials JSON file (a service
	// account key, or any other type Google's libraries accept); empty
	// means Application Default Credentials.
	Credentials string `yaml:"credentials"`
	// Endpoint is the JSON API endpoint of an emulator, such as
	// http://127.0.0.1:4443/storage/v1/. When set, requests are not
	// authenticated.
	Endpoint string `yaml:"endpoint"`

	// Location and StorageClass apply to buckets that Strata creates;
	// empty means GCS's defaults (US multi-region, STANDARD).
	Location     string `yaml:"location"`
	StorageClass string `yaml:"storage_class"`
	// DisableSoftDelete turns soft delete off on buckets that Strata
	// creates. Strata deletes its staging objects right after use, and
	// with soft delete (7 days by default) each of them is billed for
	// that long.
	DisableSoftDelete bool `yaml:"disable_soft_delete"`

	// ChunkSize is the size of the requests an upload is sent in, and
	// the largest object written in one request straight to its key
	// (larger ones are staged, then copied into place). Each upload in
	// progress holds up to two chunks in memory. Default 8 MiB; it is
	// rounded up to a multiple of 256 KiB.
	ChunkSize int `yaml:"chunk_size"`
	// Timeout bounds each request that is not a data stream (metadata,
	// listing, copy, compose, delete), e.g. "1m". Default 2m.
	Timeout string `yaml:"timeout"`
}

const (
	defaultChunkSize = 8 << 20
	chunkUnit        = 256 << 10
	defaultTimeout   = 2 * time.Minute
)

// Backend is a backends.Backend over Google Cloud Storage.
type Backend struct {
	client  *storage.Client
	raw     *raw.Service // for PATCH requests that the client cannot express
	cfg     Config
	chunk   int
	timeout time.Duration
}

var _ backends.Backend = (*Backend)(nil)

// Client is the SDK client the backend uses, for tools that measure the
// service directly (strata bench --direct).
func (b *Backend) Client() *storage.Client { return b.client }

// New returns a backend for the project and credentials of cfg. It does not
// contact GCS.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	b := &Backend{cfg: cfg, chunk: cfg.ChunkSize, timeout: defaultTimeout}
	switch {
	case b.chunk == 0:
		b.chunk = defaultChunkSize
	case b.chunk < 0:
		return nil, fmt.Errorf("gcs: chunk_size %d is negative", cfg.ChunkSize)
	default:
		b.chunk = (b.chunk + chunkUnit - 1) / chunkUnit * chunkUnit
	}
	if cfg.Timeout != "" {
		d, err := time.ParseDuration(cfg.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("gcs: timeout %q is not a positive duration such as 1m", cfg.Timeout)
		}
		b.timeout = d
	}

	var opts []option.ClientOption
	endpoint := cfg.Endpoint
	if endpoint == "" {
		// The client finds the emulator by itself; the PATCH service
		// needs to be told.
		if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
			if !strings.Contains(host, "://") {
				host = "http://" + host
			}
			endpoint = strings.TrimSuffix(host, "/") + "/storage/v1/"
		}
	}
	switch {
	case endpoint != "":
		if !strings.HasSuffix(endpoint, "/") {
			endpoint += "/"
		}
		opts = append(opts, option.WithEndpoint(endpoint), option.WithoutAuthentication())
	case cfg.Credentials != "":
		data, err := os.ReadFile(cfg.Credentials)
		if err != nil {
			return nil, fmt.Errorf("gcs: credentials: %w", err)
		}
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, fmt.Errorf("gcs: credentials %s: not a JSON credentials file: %w", cfg.Credentials, err)
		}
		typ, ok := credTypes[head.Type]
		if !ok {
			return nil, fmt.Errorf("gcs: credentials %s: unsupported type %q", cfg.Credentials, head.Type)
		}
		opts = append(opts, option.WithAuthCredentialsJSON(typ, data))
	}

	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcs: %w", err)
	}
	// Retry what is idempotent (reads, and writes with a generation
	// precondition); handles of staging objects retry always.
	client.SetRetry(
		storage.WithPolicy(storage.RetryIdempotent),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2}),
		storage.WithMaxAttempts(6),
	)
	svc, err := raw.NewService(ctx, append(opts, option.WithScopes(raw.DevstorageFullControlScope))...)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("gcs: %w", err)
	}
	b.client, b.raw = client, svc
	return b, nil
}

var credTypes = map[string]option.CredentialsType{
	"service_account":              option.ServiceAccount,
	"authorized_user":              option.AuthorizedUser,
	"external_account":             option.ExternalAccount,
	"impersonated_service_account": option.ImpersonatedServiceAccount,
}

// Close releases the client's connections.
func (b *Backend) Close() error { return b.client.Close() }

// Reserved names inside every bucket.
const (
	sysPrefix    = ".strata.sys/"
	sysEnd       = ".strata.sys0" // the first name after all those under sysPrefix
	tmpPrefix    = sysPrefix + "tmp/"
	configPrefix = sysPrefix + "config/"
	uploadPrefix = sysPrefix + "uploads/"
	sidePrefix   = sysPrefix + "meta/"
)

// op returns a context bounded by the backend's timeout, for one request
// that is not a data stream.
func (b *Backend) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout)
}

func (b *Backend) obj(bucket, name string) *storage.ObjectHandle {
	return b.client.Bucket(bucket).Object(name)
}

// always returns a handle whose requests are retried even without a
// precondition. It is used for objects with names of their own (staging
// objects, parts, records) and for unconditional writes of a key: a retried
// write that had already succeeded writes the same bytes and attributes
// again, which S3 clients do themselves when a response is lost.
func always(h *storage.ObjectHandle) *storage.ObjectHandle {
	return h.Retryer(storage.WithPolicy(storage.RetryAlways))
}

func newID() string {
	var p [16]byte
	rand.Read(p[:])
	return hex.EncodeToString(p[:])
}

// ---- errors ----

// mapErr gives err a backends kind; a missing object gets kind notFound.
func mapErr(err error, notFound backends.Kind, what string) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return backends.Wrap(backends.Internal, err, "gcs: "+what)
	case errors.Is(err, context.DeadlineExceeded):
		// The service did not answer in time.
		return backends.Wrap(backends.Unavailable, err, "gcs: "+what)
	case errors.Is(err, storage.ErrBucketNotExist):
		return backends.Wrap(backends.NoSuchBucket, err, "gcs: "+what+": the bucket does not exist")
	case errors.Is(err, storage.ErrObjectNotExist):
		return backends.Wrap(notFound, err, "gcs: "+what)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		k := backends.Internal
		switch ge.Code {
		case http.StatusBadRequest:
			k = backends.InvalidArgument
		case http.StatusUnauthorized, http.StatusForbidden:
			k = backends.AccessDenied
		case http.StatusNotFound:
			k = notFound
		case http.StatusConflict:
			k = backends.Conflict
		case http.StatusPreconditionFailed:
			k = backends.PreconditionFailed
		case http.StatusRequestedRangeNotSatisfiable:
			k = backends.InvalidRange
		case http.StatusTooManyRequests:
			k = backends.SlowDown
		case http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			k = backends.Unavailable
		}
		return backends.Wrap(k, err, "gcs: "+what)
	}
	if storage.ShouldRetry(err) {
		// Connection refused or reset, timeouts: the service is not
		// there right now.
		return backends.Wrap(backends.Unavailable, err, "gcs: "+what)
	}
	return backends.Wrap(backends.Internal, err, "gcs: "+what)
}

// missing refines an error of a missing object, document or upload: when
// the bucket itself is missing, the error says so. GCS answers 404 for both.
func (b *Backend) missing(ctx context.Context, bucket string, err error) error {
	switch backends.KindOf(err) {
	case backends.NoSuchKey, backends.NotFound, backends.NoSuchUpload, backends.InvalidPart:
	default:
		return err
	}
	if _, herr := b.HeadBucket(ctx, bucket); backends.Is(herr, backends.NoSuchBucket) {
		return herr
	}
	return err
}

// ---- buckets ----

func (b *Backend) ListBuckets(ctx context.Context) ([]backends.BucketInfo, error) {
	if b.cfg.Project == "" {
		return nil, backends.Errorf(backends.InvalidArgument, "gcs: listing buckets needs the project in the configuration")
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	var out []backends.BucketInfo
	it := b.client.Buckets(ctx, b.cfg.Project)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, mapErr(err, backends.NoSuchBucket, "list buckets")
		}
		out = append(out, backends.BucketInfo{Name: a.Name, Created: a.Created})
	}
	slices.SortFunc(out, func(x, y backends.BucketInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	if b.cfg.Project == "" {
		return backends.Errorf(backends.InvalidArgument, "gcs: creating buckets needs the project in the configuration")
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	attrs := &storage.BucketAttrs{
		Location:                 b.cfg.Location,
		StorageClass:             b.cfg.StorageClass,
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
		// Staged uploads left by a crash are removed by GCS itself.
		Lifecycle: storage.Lifecycle{Rules: []storage.LifecycleRule{{
			Action:    storage.LifecycleAction{Type: storage.DeleteAction},
			Condition: storage.LifecycleCondition{AgeInDays: 2, MatchesPrefix: []string{tmpPrefix}},
		}}},
	}
	if b.cfg.DisableSoftDelete {
		attrs.SoftDeletePolicy = &storage.SoftDeletePolicy{RetentionDuration: 0}
	}
	err := b.client.Bucket(bucket).Create(ctx, b.cfg.Project, attrs)
	if err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusConflict {
			return backends.Wrap(backends.BucketExists, err, "gcs: bucket "+bucket+" exists")
		}
		return mapErr(err, backends.NoSuchBucket, "create bucket "+bucket)
	}
	return nil
}

func (b *Backend) HeadBucket(ctx context.Context, bucket string) (backends.BucketInfo, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	a, err := b.client.Bucket(bucket).Attrs(ctx)
	if err != nil {
		return backends.BucketInfo{}, mapErr(err, backends.NoSuchBucket, "bucket "+bucket)
	}
	return backends.BucketInfo{Name: a.Name, Created: a.Created}, nil
}

// DeleteBucket removes a bucket that holds no objects, with Strata's own
// objects in it (bucket documents, uploads in progress, leftovers).
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	if _, err := b.HeadBucket(ctx, bucket); err != nil {
		return err
	}
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(res.Objects)+len(res.Prefixes) > 0 {
		return backends.Errorf(backends.NotEmpty, "gcs: bucket %s is not empty", bucket)
	}
	if err := b.deletePrefix(ctx, bucket, sysPrefix); err != nil {
		return err
	}
	cctx, cancel := b.op(ctx)
	defer cancel()
	err = b.client.Bucket(bucket).Delete(cctx)
	var ge *googleapi.Error
	if errors.As(err, &ge) && (ge.Code == http.StatusConflict || ge.Code == http.StatusPreconditionFailed) {
		// An object arrived meanwhile (or noncurrent versions remain).
		return backends.Wrap(backends.NotEmpty, err, "gcs: bucket "+bucket+" is not empty")
	}
	return mapErr(err, backends.NoSuchBucket, "delete bucket "+bucket)
}

// deletePrefix deletes every object whose name starts with prefix.
func (b *Backend) deletePrefix(ctx context.Context, bucket, prefix string) error {
	lctx, cancel := b.op(ctx)
	defer cancel()
	var names []*storage.ObjectAttrs
	q := &storage.Query{Prefix: prefix, Projection: storage.ProjectionNoACL}
	q.SetAttrSelection([]string{"Name", "Generation"})
	it := b.client.Bucket(bucket).Objects(lctx, q)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return mapErr(err, backends.NoSuchKey, "list "+prefix)
		}
		names = append(names, a)
	}
	return b.deleteAll(ctx, bucket, names)
}

// deleteAll deletes the given generations, a few at a time. Objects already
// gone are not an error.
func (b *Backend) deleteAll(ctx context.Context, bucket string, objs []*storage.ObjectAttrs) error {
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(objs))
	for _, a := range objs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- b.deleteGen(ctx, bucket, a.Name, a.Generation)
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteGen deletes one generation of a staging object (any generation when
// gen is 0); a missing one is not an error.
func (b *Backend) deleteGen(ctx context.Context, bucket, name string, gen int64) error {
	ctx, cancel := b.op(ctx)
	defer cancel()
	h := always(b.obj(bucket, name))
	if gen > 0 {
		h = h.Generation(gen)
	}
	err := h.Delete(ctx)
	if err == nil || errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return mapErr(err, backends.NoSuchKey, "delete "+name)
}

// ---- bucket documents ----

func validConfigName(name string) bool {
	return name != "" && len(name) <= 128 && !strings.ContainsAny(name, "/\r\n\x00") && name != "." && name != ".."
}

func (b *Backend) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	if !validConfigName(name) {
		return nil, backends.Errorf(backends.InvalidArgument, "gcs: bad bucket document name %q", name)
	}
	data, _, err := b.readSmall(ctx, bucket, configPrefix+name)
	if err != nil {
		return nil, b.missing(ctx, bucket, mapErr(err, backends.NotFound, "bucket document "+name))
	}
	return data, nil
}

func (b *Backend) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if !validConfigName(name) {
		return backends.Errorf(backends.InvalidArgument, "gcs: bad bucket document name %q", name)
	}
	if data == nil {
		ctx, cancel := b.op(ctx)
		defer cancel()
		err := always(b.obj(bucket, configPrefix+name)).Delete(ctx)
		if err == nil {
			return nil
		}
		err = mapErr(err, backends.NotFound, "delete bucket document "+name)
		if err = b.missing(ctx, bucket, err); backends.Is(err, backends.NotFound) {
			return nil
		}
		return err
	}
	_, err := b.writeSmall(ctx, bucket, configPrefix+name, data, storage.ObjectAttrs{ContentType: "application/octet-stream"}, nil)
	return err
}

// readSmall reads a small object whole, with its attributes.
func (b *Backend) readSmall(ctx context.Context, bucket, name string) ([]byte, *storage.ObjectAttrs, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	r, err := b.obj(bucket, name).ReadCompressed(true).NewReader(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	data, err := readAllLimit(r, 64<<20)
	if err != nil {
		return nil, nil, err
	}
	return data, &storage.ObjectAttrs{Name: name, Generation: r.Attrs.Generation, Size: r.Attrs.Size}, nil
}

// writeSmall writes data in one request as name, with attrs. A write
// without conditions is retried always (see always).
func (b *Backend) writeSmall(ctx context.Context, bucket, name string, data []byte, attrs storage.ObjectAttrs, cond *storage.Conditions) (*storage.ObjectAttrs, error) {
	if err := ctx.Err(); err != nil {
		return nil, mapErr(err, backends.NoSuchBucket, "write "+name)
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	h := b.obj(bucket, name)
	if cond != nil {
		h = h.If(*cond)
	} else {
		h = always(h)
	}
	w := h.NewWriter(ctx)
	attrs.Name, attrs.Bucket = name, bucket
	w.ObjectAttrs = attrs
	w.ForceEmptyContentType = true
	// One request, buffered by the writer so that it can be retried.
	w.ChunkSize = (len(data) + 1 + chunkUnit - 1) / chunkUnit * chunkUnit
	if _, err := w.Write(data); err != nil {
		w.Close()
		return nil, writeErr(err, name)
	}
	if err := w.Close(); err != nil {
		return nil, writeErr(err, name)
	}
	return w.Attrs(), nil
}

// writeErr maps the error of a write: 404 can only mean that the bucket is
// missing.
func writeErr(err error, name string) error {
	return mapErr(err, backends.NoSuchBucket, "write "+name)
}
