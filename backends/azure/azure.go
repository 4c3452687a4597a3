// Package azure is the backend over Azure Blob Storage (and Azurite): a
// bucket is a container, an object is a block blob of the same name.
//
// Objects are written as streams of staged blocks committed at the end,
// so nothing is visible before the commit and memory stays bounded;
// multipart uploads stage their parts as blocks of the target blob and
// commit the chosen ones. Metadata that Azure cannot hold as it is goes
// into reserved metadata entries; Strata's own records (bucket documents,
// multipart uploads) are blobs under .strata.sys/ in each container, which
// listings hide. docs/backend-azure.md describes it all for operators.
package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/strata-storage/strata/backends"
)

// Config configures the backend. Exactly one of Key, ConnectionString and
// SAS gives the credentials.
type Config struct {
	Account string `yaml:"account"`
	// Key is the account's shared key (base64).
	Key string `yaml:"key"`
	// Endpoint is the blob service URL; default
	// https://<account>.blob.core.windows.net/. Azurite:
	// http://127.0.0.1:10000/devstoreaccount1.
	Endpoint string `yaml:"endpoint"`
	// ConnectionString is a storage connection string (AccountName,
	// AccountKey or SharedAccessSignature, BlobEndpoint...). It names the
	// endpoint itself, so Endpoint must be empty with it.
	ConnectionString string `yaml:"connection_string"`
	// SAS is an account SAS token (the query string, with or without "?").
	// It needs the service, container and object resource types and the
	// permissions for what Strata is asked to do (r, w, d, l, c, a).
	SAS string `yaml:"sas"`

	// Timeout bounds each request to Azure: the whole of a request that
	// carries no object data, the wait for the response to a read, any
	// pause while reading it, and the upload of a block (plus 1 s per
	// MiB). Default 1 minute.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is how many times a failed request (throttled, 5xx, a
	// network error) is tried again, with exponential backoff. Default 3;
	// negative: never.
	MaxRetries int `yaml:"max_retries"`
	// BlockSize is the size of the blocks that uploads are cut into, in
	// bytes; an object that fits in one block is sent in one request.
	// Memory per upload is two blocks; an object can have at most 50,000
	// blocks (390 GiB at the default 8 MiB). 1 MiB to 4000 MiB.
	BlockSize int64 `yaml:"block_size"`
}

const (
	defaultTimeout   = time.Minute
	defaultRetries   = 3
	defaultBlockSize = 8 << 20
	minBlockSize     = 1 << 20
	maxBlockSize     = 4000 << 20 // Azure's limit for one block
	maxBlocks        = 50000      // committed blocks per blob
)

// Backend is a backends.Backend over one Azure storage account.
type Backend struct {
	svc       *service.Client
	timeout   time.Duration
	blockSize int
	bufs      sync.Pool // *[]byte of blockSize
	markers   markerCache
	// noStartFrom is set when the service refused List Blobs' startFrom.
	noStartFrom atomic.Bool
}

var _ backends.Backend = (*Backend)(nil)

// Client is the SDK client the backend uses, for tools that measure the
// account directly (strata bench --direct).
func (b *Backend) Client() *service.Client { return b.svc }

// New returns a backend for the account that cfg names. It checks the
// configuration but does not contact Azure, so that a server starts while
// the account is unreachable; the first request reports that.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	b := &Backend{timeout: cfg.Timeout, blockSize: defaultBlockSize}
	if b.timeout <= 0 {
		b.timeout = defaultTimeout
	}
	if cfg.BlockSize != 0 {
		if cfg.BlockSize < minBlockSize || cfg.BlockSize > maxBlockSize {
			return nil, fmt.Errorf("azure: block_size %d is out of range: 1 MiB (%d) to 4000 MiB (%d)", cfg.BlockSize, minBlockSize, maxBlockSize)
		}
		b.blockSize = int(cfg.BlockSize)
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = defaultRetries
	case retries < 0:
		retries = -1 // azcore: one try, no retries
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // a gateway talks to one host, much in parallel
	// Bodies are objects: a blob stored with Content-Encoding: gzip must
	// come back as stored, not unpacked by the transport.
	tr.DisableCompression = true
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	opts := &service.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    int32(retries),
			RetryDelay:    500 * time.Millisecond,
			MaxRetryDelay: 10 * time.Second,
			// No TryTimeout: it would also bound reading a download's
			// body. Timeouts are ours, per call (see Config.Timeout).
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "strata"},
		Transport: &http.Client{Transport: tr},
	}}

	n := 0
	for _, s := range []string{cfg.Key, cfg.ConnectionString, cfg.SAS} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		what := "none is set"
		if n > 1 {
			what = "more than one is set"
		}
		return nil, fmt.Errorf("azure: set exactly one of key, connection_string and sas: %s", what)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" && cfg.ConnectionString == "" {
		if cfg.Account == "" {
			return nil, errors.New("azure: account or endpoint is needed")
		}
		endpoint = "https://" + cfg.Account + ".blob.core.windows.net/"
	}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("azure: endpoint %q is not an http or https URL", endpoint)
		}
		if u.RawQuery != "" {
			return nil, fmt.Errorf("azure: endpoint %q has a query; give a SAS token in sas", endpoint)
		}
		if !strings.HasSuffix(endpoint, "/") {
			endpoint += "/"
		}
	}
	var err error
	switch {
	case cfg.Key != "":
		if cfg.Account == "" {
			return nil, errors.New("azure: a shared key needs the account name (account)")
		}
		var cred *service.SharedKeyCredential
		cred, err = service.NewSharedKeyCredential(cfg.Account, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("azure: the shared key is not valid base64: %w", err)
		}
		b.svc, err = service.NewClientWithSharedKeyCredential(endpoint, cred, opts)
	case cfg.SAS != "":
		b.svc, err = service.NewClientWithNoCredential(endpoint+"?"+strings.TrimPrefix(cfg.SAS, "?"), opts)
	default:
		if cfg.Endpoint != "" {
			return nil, errors.New("azure: connection_string names the endpoint (BlobEndpoint=...); leave endpoint empty")
		}
		b.svc, err = service.NewClientFromConnectionString(cfg.ConnectionString, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	b.bufs.New = func() any { s := make([]byte, b.blockSize); return &s }
	return b, nil
}

// call returns a context for one request that carries no object data.
func (b *Backend) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout)
}

// dataTimeout is the timeout of a request that sends n bytes.
func (b *Backend) dataTimeout(n int) time.Duration {
	return b.timeout + time.Duration(n>>20)*time.Second
}

func (b *Backend) container(bucket string) *container.Client {
	return b.svc.NewContainerClient(bucket)
}

func (b *Backend) blob(bucket, name string) *blockblob.Client {
	return b.container(bucket).NewBlockBlobClient(name)
}

// ---- buckets ----

func (b *Backend) ListBuckets(ctx context.Context) ([]backends.BucketInfo, error) {
	var out []backends.BucketInfo
	var marker *string
	for {
		cctx, cancel := b.call(ctx)
		page, err := b.svc.NewListContainersPager(&service.ListContainersOptions{Marker: marker}).NextPage(cctx)
		cancel()
		if err != nil {
			return nil, mapErr(err, onContainer, "azure: cannot list containers")
		}
		for _, c := range page.ContainerItems {
			if c == nil || c.Name == nil {
				continue
			}
			bi := backends.BucketInfo{Name: *c.Name}
			if c.Properties != nil && c.Properties.LastModified != nil {
				bi.Created = *c.Properties.LastModified
			}
			out = append(out, bi)
		}
		if page.NextMarker == nil || *page.NextMarker == "" {
			break
		}
		marker = page.NextMarker
	}
	slices.SortFunc(out, func(a, b backends.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	cctx, cancel := b.call(ctx)
	defer cancel()
	_, err := b.container(bucket).Create(cctx, nil)
	return mapErr(err, onContainer, "azure: cannot create container "+bucket)
}

// HeadBucket reports the container's Last-Modified time as its creation:
// Azure keeps no other, and Strata never changes a container's properties.
func (b *Backend) HeadBucket(ctx context.Context, bucket string) (backends.BucketInfo, error) {
	cctx, cancel := b.call(ctx)
	defer cancel()
	p, err := b.container(bucket).GetProperties(cctx, nil)
	if err != nil {
		return backends.BucketInfo{}, mapErr(err, onContainer, "azure: cannot read container "+bucket)
	}
	bi := backends.BucketInfo{Name: bucket}
	if p.LastModified != nil {
		bi.Created = *p.LastModified
	}
	return bi, nil
}

// DeleteBucket removes the container if it holds no object; bucket
// documents and uploads in progress go with it, as on AWS. Azure has no conditional
// delete of a container, so an object written between the check and the
// delete is lost with it.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	cc := b.container(bucket)
	cctx, cancel := b.call(ctx)
	more, err := b.anyObject(cctx, cc)
	cancel()
	if err != nil {
		return mapErr(err, onContainer, "azure: cannot list container "+bucket)
	}
	if more {
		return backends.Errorf(backends.NotEmpty, "the bucket %s is not empty", bucket)
	}
	cctx, cancel = b.call(ctx)
	defer cancel()
	_, err = cc.Delete(cctx, nil)
	return mapErr(err, onContainer, "azure: cannot delete container "+bucket)
}

// anyObject reports whether the container holds a blob outside
// .strata.sys/: at the top level of a "/" listing, .strata.sys/ is one
// prefix, and anything else is an object or a folder of objects.
func (b *Backend) anyObject(ctx context.Context, cc *container.Client) (bool, error) {
	var marker *string
	for {
		page, err := cc.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Marker: marker, MaxResults: ptr(int32(10))}).NextPage(ctx)
		if err != nil {
			return false, err
		}
		if seg := page.Segment; seg != nil {
			if len(seg.BlobItems) > 0 {
				return true, nil
			}
			for _, p := range seg.BlobPrefixes {
				if p.Name != nil && *p.Name != sysPrefix {
					return true, nil
				}
			}
		}
		if page.NextMarker == nil || *page.NextMarker == "" {
			return false, nil
		}
		marker = page.NextMarker
	}
}

// ---- bucket documents ----

const configPrefix = sysPrefix + "config/"

func configName(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || azureUnsafe(name) != "" {
		return "", backends.Errorf(backends.InvalidArgument, "bad bucket document name %q", name)
	}
	return configPrefix + name, nil
}

// maxConfigSize bounds what GetBucketConfig reads.
const maxConfigSize = 16 << 20

func (b *Backend) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	bn, err := configName(name)
	if err != nil {
		return nil, err
	}
	data, _, err := b.readSmall(ctx, bucket, bn, maxConfigSize)
	if backends.Is(err, backends.NoSuchKey) {
		return nil, backends.Errorf(backends.NotFound, "the bucket %s has no %s document", bucket, name)
	}
	return data, err
}

func (b *Backend) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	bn, err := configName(name)
	if err != nil {
		return err
	}
	if data == nil {
		cctx, cancel := b.call(ctx)
		defer cancel()
		_, err := b.blob(bucket, bn).Delete(cctx, nil)
		if code, _ := errCode(err); code == "BlobNotFound" {
			return nil
		}
		return mapErr(err, onBlob, "azure: cannot delete the "+name+" document of "+bucket)
	}
	_, err = b.writeSmall(ctx, bucket, bn, data, nil, nil)
	return err
}

// readSmall reads a small blob whole.
func (b *Backend) readSmall(ctx context.Context, bucket, name string, limit int64) ([]byte, map[string]*string, error) {
	cctx, cancel := b.call(ctx)
	defer cancel()
	resp, err := b.blob(bucket, name).DownloadStream(cctx, nil)
	if err != nil {
		return nil, nil, mapErr(err, onBlob, "azure: cannot read "+bucket+"/"+name)
	}
	defer resp.Body.Close()
	if resp.ContentLength != nil && *resp.ContentLength > limit {
		return nil, nil, backends.Errorf(backends.Internal, "azure: %s/%s is larger than %d bytes", bucket, name, limit)
	}
	data, err := readAllLimit(resp.Body, limit)
	if err != nil {
		return nil, nil, mapErr(err, onBlob, "azure: cannot read "+bucket+"/"+name)
	}
	return data, resp.Metadata, nil
}

// writeSmall writes a small blob in one request.
func (b *Backend) writeSmall(ctx context.Context, bucket, name string, data []byte, md map[string]*string, cond *blob.AccessConditions) (blockblob.UploadResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, b.dataTimeout(len(data)))
	defer cancel()
	resp, err := b.blob(bucket, name).Upload(cctx, nopCloser(data), &blockblob.UploadOptions{
		Metadata:         md,
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/octet-stream")},
		AccessConditions: cond,
	})
	return resp, mapErr(err, onBlob, "azure: cannot write "+bucket+"/"+name)
}

func ptr[T any](v T) *T { return &v }
