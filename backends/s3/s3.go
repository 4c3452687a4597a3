// Package s3 is the backend over any S3-compatible object store: Amazon S3,
// Alibaba OSS through its S3-compatible endpoint, MinIO, Ceph RGW, another
// Strata, and emulators such as moto's server. It speaks S3 through
// aws-sdk-go-v2.
//
// Buckets and objects are the remote's own: an object that was in the remote
// bucket before Strata is served as it is, with its metadata, and what Strata
// writes can be read with any S3 client. Content headers, user metadata and
// tags map to their native S3 counterparts; what S3 has no place for
// (checksums, the part list of a multipart object) goes into one reserved
// user-metadata entry, x-amz-meta-strata, or when that would break the 2 KiB
// limit on user metadata, into a small hidden object that the entry points
// to. Strata's own objects live under the hidden prefix .strata.sys/ of each
// bucket, which listings never show. docs/backend-s3.md describes the layout
// and the costs.
package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-storage/strata/backends"
)

// Config configures the backend. The YAML names are those of the s3 entry
// under backends: in strata.yaml.
type Config struct {
	// Endpoint is the service's URL, such as
	// https://oss-cn-hangzhou.aliyuncs.com; empty means Amazon S3.
	Endpoint string `yaml:"endpoint"`
	// Region signs the requests; empty means us-east-1.
	Region string `yaml:"region"`
	// AccessKey and SecretKey are static credentials; both empty means the
	// SDK's default chain (environment, shared files, web identity, IMDS).
	AccessKey    string `yaml:"access_key"`
	SecretKey    string `yaml:"secret_key"`
	SessionToken string `yaml:"session_token"`
	// PathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint (emulators, MinIO, most on-premises services).
	PathStyle bool `yaml:"path_style"`

	// InsecureSkipVerify accepts any TLS certificate (test set-ups only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// MaxRetries is how often a failed request that is safe to repeat
	// (throttling, 5xx, broken connections) is retried with backoff: 0
	// means 3, a negative value means never.
	MaxRetries int `yaml:"max_retries"`
	// PartSize is the memory buffer of one upload, in bytes: a PUT up to
	// this size is sent as one request, a larger one is streamed as a
	// multipart upload in parts of this size; an uploaded part larger than
	// this is spooled to a temporary file. 0 means 8 MiB; at least 5 MiB.
	PartSize int64 `yaml:"part_size"`
	// SpoolDir holds the temporary files of large parts; empty means the
	// system's temporary directory.
	SpoolDir string `yaml:"spool_dir"`
	// Checksums chooses when the SDK adds its own CRC checksums to
	// requests and checks them on responses: "when_required" (the
	// default: bodies are protected by the SigV4 payload hash, and the
	// checksums Strata was given are sent as they are) or
	// "when_supported" (CRC32 on every upload besides; many
	// S3-compatible services reject those requests).
	Checksums string `yaml:"checksums"`
	// ConditionalWrites is "native" (If-Match and If-None-Match sent to
	// the service, which must support them: AWS, MinIO, Strata, moto) or
	// "emulate" (a HEAD before the write: not safe against concurrent
	// writers). Empty means native.
	ConditionalWrites string `yaml:"conditional_writes"`
	// Timeout bounds each request that carries no object data (HEAD,
	// LIST, DELETE, tagging, multipart control); 0 means one minute.
	Timeout time.Duration `yaml:"timeout"`
	// ConnectTimeout bounds TCP and TLS connection set-up; 0 means 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ResponseTimeout bounds the wait for a response's headers once the
	// request is sent; 0 means one minute.
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// IdleTimeout aborts a transfer of object data that moves no byte for
	// this long; 0 means one minute.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

const (
	defaultPartSize = 8 << 20
	minPartSize     = 5 << 20
	maxPartSize     = 5 << 30
	maxParts        = 10000
)

// check validates cfg and fills in the defaults.
func (cfg *Config) check() error {
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return fmt.Errorf("s3: endpoint %q: %v", cfg.Endpoint, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("s3: endpoint %q: want an http:// or https:// URL with a host", cfg.Endpoint)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("s3: endpoint %q: must not hold a query, fragment or user", cfg.Endpoint)
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if strings.ContainsAny(cfg.Region, " /\t\n") {
		return fmt.Errorf("s3: region %q is not a region name", cfg.Region)
	}
	switch {
	case (cfg.AccessKey == "") != (cfg.SecretKey == ""):
		return errors.New("s3: access_key and secret_key go together: set both, or neither for the SDK's default credential chain")
	case cfg.SessionToken != "" && cfg.AccessKey == "":
		return errors.New("s3: session_token needs access_key and secret_key")
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 3
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	case cfg.MaxRetries > 20:
		return fmt.Errorf("s3: max_retries %d: at most 20", cfg.MaxRetries)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = defaultPartSize
	}
	if cfg.PartSize < minPartSize || cfg.PartSize > 1<<30 {
		return fmt.Errorf("s3: part_size %d: want 5 MiB (%d) to 1 GiB (%d) bytes", cfg.PartSize, minPartSize, 1<<30)
	}
	if cfg.SpoolDir != "" {
		if fi, err := os.Stat(cfg.SpoolDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("s3: spool_dir %q is not a directory", cfg.SpoolDir)
		}
	}
	switch cfg.Checksums {
	case "", "when_supported", "when_required":
	default:
		return fmt.Errorf("s3: checksums %q: want when_supported or when_required", cfg.Checksums)
	}
	switch cfg.ConditionalWrites {
	case "":
		cfg.ConditionalWrites = "native"
	case "native", "emulate":
	default:
		return fmt.Errorf("s3: conditional_writes %q: want native or emulate", cfg.ConditionalWrites)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &cfg.Timeout, time.Minute},
		{"connect_timeout", &cfg.ConnectTimeout, 10 * time.Second},
		{"response_timeout", &cfg.ResponseTimeout, time.Minute},
		{"idle_timeout", &cfg.IdleTimeout, time.Minute},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return fmt.Errorf("s3: %s %v is negative", d.name, *d.v)
		}
	}
	return nil
}

// Backend is a backends.Backend over an S3-compatible service.
type Backend struct {
	cfg    Config
	client *s3sdk.Client

	// created caches bucket creation dates, which HeadBucket lacks.
	createdMu sync.Mutex
	created   map[string]time.Time

	// uploads caches what UploadPart needs of an upload (key, checksum
	// algorithm) so that it does not read the upload's record each time.
	uploadsMu sync.Mutex
	uploads   map[string]uploadRef
}

var (
	_ backends.Backend           = (*Backend)(nil)
	_ backends.Mover             = (*Backend)(nil)
	_ backends.IntegrityVerifier = (*Backend)(nil)
)

// VerifiesIntegrity reports that the service keeps its data whole: S3
// services checksum what they store and check it, so the bitrot layer steps
// aside. (ListObjectsV2 carries no metadata, so the backend is no
// backends.SysLister.)
func (b *Backend) VerifiesIntegrity(bucket string) bool { return true }

// New returns the backend for cfg. It checks cfg but does not contact the
// service, so that a cloud that is down does not stop Strata from starting.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	hc := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = cfg.ConnectTimeout
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = cfg.ConnectTimeout
			tr.ResponseHeaderTimeout = cfg.ResponseTimeout
			tr.MaxIdleConns = 256
			tr.MaxIdleConnsPerHost = 64
			tr.IdleConnTimeout = 90 * time.Second
			if cfg.InsecureSkipVerify {
				if tr.TLSClientConfig == nil {
					tr.TLSClientConfig = &tls.Config{}
				}
				tr.TLSClientConfig.InsecureSkipVerify = true
			}
		})
	reqSums, respSums := aws.RequestChecksumCalculationWhenSupported, aws.ResponseChecksumValidationWhenSupported
	if cfg.Checksums != "when_supported" {
		reqSums, respSums = aws.RequestChecksumCalculationWhenRequired, aws.ResponseChecksumValidationWhenRequired
	}
	attempts := cfg.MaxRetries + 1
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithHTTPClient(hc),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				// No client-side retry quota: under a burst of
				// throttling it fails requests that backoff would
				// have carried through.
				o.RateLimiter = ratelimit.None
			})
		}),
		config.WithRequestChecksumCalculation(reqSums),
		config.WithResponseChecksumValidation(respSums),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	client := s3sdk.NewFromConfig(awsCfg, func(o *s3sdk.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &Backend{
		cfg:     cfg,
		client:  client,
		created: map[string]time.Time{},
		uploads: map[string]uploadRef{},
	}, nil
}

// Client returns the SDK client the backend uses (tests, tools).
func (b *Backend) Client() *s3sdk.Client { return b.client }

// opCtx bounds a request that carries no object data.
func (b *Backend) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.Timeout)
}

// cleanupCtx is for work that must be done even when the request that led
// to it was canceled (aborting an upload, removing a temporary object).
func (b *Backend) cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.cfg.Timeout)
}
