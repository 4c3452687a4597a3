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
}

func benchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench --endpoint URL [flags]",
		Short: "Measure an S3 endpoint: concurrent PUT, GET and LIST",
		Long: `Measure any S3 endpoint (Strata, or the service behind it, to compare):
concurrent PUT, GET and LIST of objects of one size, each for --duration,
printing operations per second, MiB/s and latency percentiles.

Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the
usual AWS profile). The bucket is created when missing; the objects written
are removed at the end unless --keep.`,
		Example: `  AWS_ACCESS_KEY_ID=strataadmin AWS_SECRET_ACCESS_KEY=strataadmin \
    strata bench --endpoint http://127.0.0.1:9000 --size 1MiB --concurrency 8 --duration 10s`,
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
	if f.endpoint == "" {
		return errors.New("bench: --endpoint is required")
	}
	size, err := humanize.ParseBytes(f.size)
	if err != nil {
		return fmt.Errorf("bench: --size: %w", err)
	}
	if f.objects < 1 || f.concurrency < 1 {
		return errors.New("bench: --objects and --concurrency must be at least 1")
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(f.region)}
	if ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); ak != "" && sk != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(f.endpoint)
		o.UsePathStyle = true
	})
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &f.bucket}); err != nil {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &f.bucket}); err != nil {
			return fmt.Errorf("bench: bucket %s: %w", f.bucket, err)
		}
	}
	data := make([]byte, size)
	rand.Read(data)
	key := func(i int) string { return fmt.Sprintf("bench/obj-%06d", i) }

	var results []benchResult
	for _, op := range f.ops {
		var do func(i int) (int64, error)
		switch op {
		case "put":
			do = func(i int) (int64, error) {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &f.bucket, Key: aws.String(key(i % f.objects)),
					Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(size))})
				return int64(size), err
			}
		case "get":
			do = func(i int) (int64, error) {
				res, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &f.bucket, Key: aws.String(key(i % f.objects))})
				if err != nil {
					return 0, err
				}
				defer res.Body.Close()
				return io.Copy(io.Discard, res.Body)
			}
		case "list":
			do = func(i int) (int64, error) {
				_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: aws.String("bench/")})
				return 0, err
			}
		default:
			return fmt.Errorf("bench: unknown operation %q (put, get, list)", op)
		}
		if op == "get" {
			// Every key read must exist.
			for i := 0; i < f.objects; i++ {
				if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &f.bucket, Key: aws.String(key(i)),
					Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(size))}); err != nil {
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
			client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: aws.String(key(i))})
		}
	}
	for _, r := range results {
		if r.count == 0 {
			return fmt.Errorf("bench: no %s succeeded", r.op)
		}
	}
	return nil
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
