package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

type benchFlags struct {
	endpoint    string
	region      string
	bucket      string
	size        string
	objects     int
	concurrency int
	duration    time.Duration
	ops         []string
	keep        bool
	config      string
	direct      string
}

func benchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench --endpoint URL [flags]",
		Short: "Measure an S3 endpoint, or a backend directly: concurrent PUT, GET and LIST",
		Long: `Measure any S3 endpoint (Strata, or the service behind it, to compare):
concurrent PUT, GET and LIST of objects of one size, each for --duration,
printing operations per second, MiB/s and latency percentiles.

Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the
usual AWS profile). The bucket is created when missing; the objects written
are removed at the end unless --keep.

With --config and --direct NAME, the same load goes straight to the storage
of the backend NAME of that configuration file, through the client library
the backend uses and nothing of Strata: the S3, Azure or GCS SDK, or the
file-system client of dir, nfs and smb (a PUT there creates, writes and
syncs a file; a GET opens and reads it). --bucket is then the remote bucket,
container or folder. Beside a run through Strata over the same backend,
that gives Strata's added latency and its throughput ratio.`,
		Example: `  AWS_ACCESS_KEY_ID=strataadmin AWS_SECRET_ACCESS_KEY=strataadmin \
    strata bench --endpoint http://127.0.0.1:9000 --size 1MiB --concurrency 8 --duration 10s
  strata bench --config strata.yaml --direct archive --bucket invoices --size 64MiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "S3 endpoint URL (required)")
	fl.StringVar(&f.region, "region", "us-east-1", "region to sign requests for")
	fl.StringVar(&f.bucket, "bucket", "strata-bench", "bucket to use (created when missing)")
	fl.StringVar(&f.size, "size", "1MiB", "object size (for example 4KiB, 1MiB, 64MiB)")
	fl.IntVar(&f.objects, "objects", 64, "distinct keys written and read")
	fl.IntVar(&f.concurrency, "concurrency", 4, "requests in flight")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long each operation runs")
	fl.StringSliceVar(&f.ops, "ops", []string{"put", "get", "list"}, "operations to measure, in order")
	fl.BoolVar(&f.keep, "keep", false, "keep the objects written")
	fl.StringVar(&f.config, "config", "", "configuration file whose backend --direct measures")
	fl.StringVar(&f.direct, "direct", "", "measure this backend of --config directly, without Strata")
	return cmd
}

// benchResult is what one operation measured.
type benchResult struct {
	op       string
	count    int64
	errors   int64
	bytes    int64
	elapsed  time.Duration
	lat      []time.Duration
	firstErr error
}

func runBench(ctx context.Context, out io.Writer, f benchFlags) error {
	size, err := humanize.ParseBytes(f.size)
	if err != nil {
		return fmt.Errorf("bench: --size: %w", err)
	}
	if f.objects < 1 || f.concurrency < 1 {
		return errors.New("bench: --objects and --concurrency must be at least 1")
	}
	var tg benchTarget
	switch {
	case f.direct != "" && f.config == "":
		return errors.New("bench: --direct needs --config")
	case f.direct != "" && f.endpoint != "":
		return errors.New("bench: --endpoint and --direct exclude each other")
	case f.direct != "":
		tg, err = directTarget(ctx, f.config, f.direct, f.bucket)
	case f.endpoint == "":
		return errors.New("bench: --endpoint (or --config with --direct) is required")
	default:
		tg, err = endpointTarget(ctx, f.endpoint, f.region, f.bucket)
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer tg.close()
	data := make([]byte, size)
	rand.Read(data)
	key := func(i int) string { return fmt.Sprintf("bench/obj-%06d", i) }

	var results []benchResult
	for _, op := range f.ops {
		var do func(i int) (int64, error)
		switch op {
		case "put":
			do = func(i int) (int64, error) { return int64(size), tg.put(ctx, key(i%f.objects), data) }
		case "get":
			do = func(i int) (int64, error) { return tg.get(ctx, key(i%f.objects)) }
		case "list":
			do = func(i int) (int64, error) { return 0, tg.list(ctx, "bench/") }
		default:
			return fmt.Errorf("bench: unknown operation %q (put, get, list)", op)
		}
		if op == "get" {
			// Every key read must exist.
			for i := 0; i < f.objects; i++ {
				if err := tg.put(ctx, key(i), data); err != nil {
					return fmt.Errorf("bench: preparing objects: %w", err)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "bench: %s for %v with %d in flight...\n", op, f.duration, f.concurrency)
		results = append(results, measure(ctx, op, f.concurrency, f.duration, do))
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "op\tsize\tops\terrors\tops/s\tMiB/s\tp50\tp90\tp99\tmax\t\n")
	for _, r := range results {
		secs := r.elapsed.Seconds()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t\n", r.op, humanize.IBytes(size), r.count, r.errors,
			float64(r.count)/secs, float64(r.bytes)/secs/(1<<20),
			pct(r.lat, 50), pct(r.lat, 90), pct(r.lat, 99), pct(r.lat, 100))
	}
	tw.Flush()
	for _, r := range results {
		if r.firstErr != nil {
			fmt.Fprintf(out, "%s: first error: %v\n", r.op, r.firstErr)
		}
	}

	if !f.keep {
		for i := 0; i < f.objects; i++ {
			tg.remove(ctx, key(i))
		}
	}
	for _, r := range results {
		if r.count == 0 {
			return fmt.Errorf("bench: no %s succeeded", r.op)
		}
	}
	return nil
}

// benchTarget is what bench sends its load to: an S3 endpoint, or the
// storage behind one backend through its own client library.
type benchTarget interface {
	put(ctx context.Context, key string, data []byte) error
	// get reads the whole object and returns its length.
	get(ctx context.Context, key string) (int64, error)
	// list lists up to 1000 keys under prefix.
	list(ctx context.Context, prefix string) error
	remove(ctx context.Context, key string) error
	close()
}

// endpointTarget is an S3 endpoint, reached with the AWS SDK.
func endpointTarget(ctx context.Context, endpoint, region, bucket string) (benchTarget, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); ak != "" && sk != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
			return nil, fmt.Errorf("bucket %s: %w", bucket, err)
		}
	}
	return s3Target{client: client, bucket: bucket}, nil
}

type s3Target struct {
	client *s3.Client
	bucket string
}

func (t s3Target) put(ctx context.Context, key string, data []byte) error {
	_, err := t.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &t.bucket, Key: &key,
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	return err
}

func (t s3Target) get(ctx context.Context, key string) (int64, error) {
	res, err := t.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &t.bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return drain(res.Body)
}

func (t s3Target) list(ctx context.Context, prefix string) error {
	_, err := t.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &t.bucket, Prefix: &prefix})
	return err
}

func (t s3Target) remove(ctx context.Context, key string) error {
	_, err := t.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &t.bucket, Key: &key})
	return err
}

func (t s3Target) close() {}

// drainBufs holds the buffers drain reads into.
var drainBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// drain reads r to its end in 256 KiB reads (io.Discard's ReadFrom would
// read 8 KiB at a time) and returns how many bytes it read.
func drain(r io.Reader) (int64, error) {
	bp := drainBufs.Get().(*[]byte)
	defer drainBufs.Put(bp)
	var n int64
	for {
		m, err := r.Read(*bp)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// measure runs do from n goroutines for d and gathers latencies.
func measure(ctx context.Context, op string, n int, d time.Duration, do func(i int) (int64, error)) benchResult {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		wg       sync.WaitGroup
		res      = benchResult{op: op}
		deadline = time.Now().Add(d)
	)
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var count, errs, nbytes int64
			var first error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1))
				t := time.Now()
				b, err := do(i)
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t))
				count++
				nbytes += b
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.count += count
			res.errors += errs
			res.bytes += nbytes
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	return res
}

// pct returns the p-th percentile of sorted latencies.
func pct(lat []time.Duration, p int) string {
	if len(lat) == 0 {
		return "-"
	}
	i := (len(lat)*p + 99) / 100
	if i > 0 {
		i--
	}
	if i >= len(lat) {
		i = len(lat) - 1
	}
	return fmt.Sprintf("%.2fms", float64(lat[i].Microseconds())/1000)
}
