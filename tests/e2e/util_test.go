package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// randBytes returns n pseudo-random bytes, the same for the same seed.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(s).Read(b)
	return b
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// quoted wraps an ETag in double quotes, as S3 sends it in headers.
func quoted(s string) string { return `"` + s + `"` }

// bucketName turns a test name into a valid, unique-enough bucket name.
func bucketName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); len(s) > 0 && s[len(s)-1] != '-' {
				b.WriteByte('-')
			}
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 50 {
		name = name[len(name)-50:]
		name = strings.Trim(name, "-")
	}
	if len(name) < 3 {
		name = "bkt-" + name
	}
	return name
}

// newBucket creates a bucket named after the test.
func newBucket(t testing.TB, c *s3.Client) string {
	t.Helper()
	name := bucketName(t)
	_, err := c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String(name)})
	must(t, err, "CreateBucket "+name)
	return name
}

func putBytes(t testing.TB, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	must(t, err, "PutObject "+bucket+"/"+key)
	return out
}

func getBytes(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	must(t, err, "GetObject "+bucket+"/"+key)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	must(t, err, "reading "+bucket+"/"+key)
	return b
}

// wantObject fails unless bucket/key holds exactly data.
func wantObject(t testing.TB, c *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	got := getBytes(t, c, bucket, key)
	if !bytes.Equal(got, data) {
		t.Errorf("%s/%s: got %d bytes (md5 %s), want %d bytes (md5 %s)",
			bucket, key, len(got), md5Hex(got), len(data), md5Hex(data))
	}
}

// wantNoObject fails unless bucket/key does not exist.
func wantNoObject(t testing.TB, c *s3.Client, bucket, key string) {
	t.Helper()
	_, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if errStatus(err) != 404 {
		t.Errorf("HeadObject %s/%s: got %v, want 404", bucket, key, err)
	}
}

// listAll lists every key under prefix with ListObjectsV2 and the SDK's
// paginator.
func listAll(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxT(t))
		must(t, err, "ListObjectsV2 "+bucket)
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// treeFiles returns relative path -> content of every regular file under dir.
func treeFiles(t testing.TB, dir string, skip func(rel string) bool) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if skip != nil && rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[rel] = b
		}
		return nil
	})
	must(t, err, "walking "+dir)
	return files
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameTree fails unless the two maps from treeFiles are equal.
func sameTree(t testing.TB, got, want map[string][]byte) {
	t.Helper()
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s", k)
		case !bytes.Equal(g, want[k]):
			t.Errorf("%s differs: %d bytes, want %d", k, len(g), len(want[k]))
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s", k)
		}
	}
}

// runTool runs a client program with a clean environment for it and
// returns its output (stdout and stderr); a failure fails the test.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := tryTool(t, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	return toolEnv(t, nil, name, args...)
}

// toolEnv runs a client program with only PATH, HOME (a temp dir), the
// loopback proxy bypass and env in its environment, for 3 minutes at most.
func toolEnv(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (%v); run `make test` (it installs the test tools)", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// rclone refuses AWS_CA_BUNDLE with its own transport: the tools get
	// nothing from this process's environment but PATH.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s (%v)", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}
