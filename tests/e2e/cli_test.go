package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const installHint = "run `make test` (it installs the test tools) or `apt-get install -y awscli python3-boto3`"

// needAWSCLI fails the test when the aws CLI is missing: a missing tool must
// not make the suite pass silently.
func needAWSCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the aws CLI is not installed (%v); %s", err, installHint)
	}
	return p
}

// awsCLI runs the aws CLI against the server and returns its stdout; stderr
// goes into the error.
func (s *server) awsCLI(t *testing.T, configFile string, args ...string) (string, error) {
	t.Helper()
	if configFile == "" {
		configFile = os.DevNull
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	shown := strings.Join(args, " ")
	args = append(args, "--endpoint-url", s.URL)
	if s.CAFile != "" {
		args = append(args, "--ca-bundle", s.CAFile)
	}
	cmd := exec.CommandContext(ctx, "aws", args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+accessKey,
		"AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE="+configFile,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_PAGER=",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("aws %s (%v)", shown, time.Since(start).Round(time.Millisecond))
	if err != nil {
		return stdout.String(), fmt.Errorf("aws %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (s *server) mustAWS(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.awsCLI(t, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeRandomFile writes size pseudo-random bytes to path, 1 MiB at a time.
func writeRandomFile(t *testing.T, path string, seed uint64, size int64) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err, "create")
	w := bufio.NewWriterSize(f, 1<<20)
	block := randBytes(seed, 1<<20)
	for off := int64(0); off < size; off += int64(len(block)) {
		n := min(int64(len(block)), size-off)
		block[0] ^= byte(off >> 20) // vary the blocks
		w.Write(block[:n])
	}
	must(t, w.Flush(), "flush")
	must(t, f.Close(), "close")
}

// sameFile compares two files without loading them whole.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	must(t, err, "open")
	defer fa.Close()
	fb, err := os.Open(b)
	must(t, err, "open")
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, ea := io.ReadFull(ra, bufA)
		nb, eb := io.ReadFull(rb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			t.Fatalf("%s and %s differ in the MiB at offset %d (read %d and %d bytes)", a, b, off, na, nb)
		}
		off += int64(na)
		if ea != nil || eb != nil {
			if (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF) {
				return
			}
			t.Fatalf("comparing %s and %s: %v, %v", a, b, ea, eb)
		}
	}
}

// TestAWSCLI drives the server with the aws CLI (v1) as a user would.
func TestAWSCLI(t *testing.T) {
	needAWSCLI(t)
	s := startServer(t)
	c := s.S3(t)
	ctx := ctxT(t)
	work := t.TempDir()
	const b = "cli-bucket"
	if v, err := s.awsCLI(t, "", "--version"); err == nil {
		t.Logf("aws --version: %s", strings.TrimSpace(v))
	}

	out := s.mustAWS(t, "s3", "mb", "s3://"+b)
	if !strings.Contains(out, "make_bucket: "+b) {
		t.Errorf("s3 mb output %q", out)
	}

	t.Run("cp 100 MiB", func(t *testing.T) {
		big := filepath.Join(work, "big.bin")
		const size = 100 << 20
		writeRandomFile(t, big, 100, size)
		start := time.Now()
		s.mustAWS(t, "s3", "cp", big, "s3://"+b+"/big/big.bin")
		up := time.Since(start)
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("big/big.bin")})
		must(t, err, "HeadObject")
		etag := strings.Trim(aws.ToString(h.ETag), `"`)
		if aws.ToInt64(h.ContentLength) != size || !strings.Contains(etag, "-") {
			t.Errorf("after s3 cp: size %d ETag %s; want %d and a multipart ETag", aws.ToInt64(h.ContentLength), etag, size)
		}
		back := filepath.Join(work, "back.bin")
		start = time.Now()
		s.mustAWS(t, "s3", "cp", "s3://"+b+"/big/big.bin", back)
		down := time.Since(start)
		sameFile(t, big, back)
		t.Logf("s3 cp 100 MiB: up %v (%.0f MiB/s), down %v (%.0f MiB/s), ETag %s",
			up.Round(time.Millisecond), 100/up.Seconds(), down.Round(time.Millisecond), 100/down.Seconds(), etag)
	})

	src := filepath.Join(work, "src")
	srcFiles := map[string][]byte{
		"a.txt":              []byte("alpha\n"),
		"d1/b.txt":           []byte("bravo\n"),
		"d1/d2/c.bin":        randBytes(3, 200<<10),
		"d1/d2/d3/empty.txt": nil,
		"with space/e f.txt": []byte("echo\n"),
	}
	t.Run("sync", func(t *testing.T) {
		old := time.Now().Add(-time.Hour)
		for rel, data := range srcFiles {
			p := filepath.Join(src, filepath.FromSlash(rel))
			must(t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
			must(t, os.WriteFile(p, data, 0o644), "write")
			must(t, os.Chtimes(p, old, old), "chtimes")
		}
		s.mustAWS(t, "s3", "sync", src, "s3://"+b+"/tree/")
		keys := listAll(t, c, b, "tree/")
		var want []string
		for rel := range srcFiles {
			want = append(want, "tree/"+rel)
		}
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("after sync up: keys %q, want %q", keys, want)
		}
		if out := s.mustAWS(t, "s3", "sync", src, "s3://"+b+"/tree/"); strings.TrimSpace(out) != "" {
			t.Errorf("second sync up transferred again:\n%s", out)
		}

		dst := filepath.Join(work, "dst")
		s.mustAWS(t, "s3", "sync", "s3://"+b+"/tree/", dst)
		sameTree(t, treeFiles(t, dst, nil), srcFiles)
		if out := s.mustAWS(t, "s3", "sync", "s3://"+b+"/tree/", dst); strings.TrimSpace(out) != "" {
			t.Errorf("second sync down transferred again:\n%s", out)
		}

		// A change and a removal travel; nothing else does.
		must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha, changed\n"), 0o644), "write")
		must(t, os.Remove(filepath.Join(src, "d1", "b.txt")), "remove")
		out := s.mustAWS(t, "s3", "sync", "--delete", src, "s3://"+b+"/tree/")
		if strings.Count(out, "upload:") != 1 || !strings.Contains(out, "tree/a.txt") || !strings.Contains(out, "delete: s3://"+b+"/tree/d1/b.txt") {
			t.Errorf("sync --delete after one change and one removal:\n%s", out)
		}
		srcFiles["a.txt"] = []byte("alpha, changed\n")
		delete(srcFiles, "d1/b.txt")
		dst2 := filepath.Join(work, "dst2")
		s.mustAWS(t, "s3", "sync", "s3://"+b+"/tree/", dst2)
		sameTree(t, treeFiles(t, dst2, nil), srcFiles)
		// The objects are plain files in the served directory.
		sameTree(t, treeFiles(t, filepath.Join(s.Dir, b, "tree"), nil), srcFiles)
	})

	t.Run("ls", func(t *testing.T) {
		out := s.mustAWS(t, "s3", "ls")
		if !strings.Contains(out, " "+b) {
			t.Errorf("s3 ls does not list %s:\n%s", b, out)
		}
		out = s.mustAWS(t, "s3", "ls", "s3://"+b+"/")
		if !strings.Contains(out, "PRE tree/") || !strings.Contains(out, "PRE big/") {
			t.Errorf("s3 ls s3://%s/ lacks PRE tree/ and PRE big/:\n%s", b, out)
		}
		out = s.mustAWS(t, "s3", "ls", "--recursive", "s3://"+b+"/")
		for rel := range srcFiles {
			if !strings.Contains(out, "tree/"+rel) {
				t.Errorf("s3 ls --recursive lacks tree/%s:\n%s", rel, out)
			}
		}
		if !strings.Contains(out, "big/big.bin") {
			t.Errorf("s3 ls --recursive lacks big/big.bin:\n%s", out)
		}
	})

	t.Run("presign", func(t *testing.T) {
		// aws CLI v1 presigns with SigV2 against custom endpoints unless
		// told otherwise; this checks the SigV4 URL (sigv2_test.go checks
		// the default one).
		cfg := filepath.Join(work, "aws-config")
		must(t, os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n"), 0o644), "write config")
		out, err := s.awsCLI(t, cfg, "s3", "presign", "s3://"+b+"/tree/d1/d2/c.bin", "--expires-in", "300", "--region", region)
		must(t, err, "s3 presign")
		u := strings.TrimSpace(out)
		if !strings.Contains(u, "X-Amz-Signature=") {
			t.Fatalf("s3 presign made no SigV4 URL: %s", u)
		}
		resp, err := s.HTTPClient().Get(u)
		must(t, err, "GET presigned URL")
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, srcFiles["d1/d2/c.bin"]) {
			t.Errorf("GET %s: HTTP %d, %d bytes; want 200, %d bytes\n%.500s", u, resp.StatusCode, len(got), len(srcFiles["d1/d2/c.bin"]), got)
		}
	})

	t.Run("s3api", func(t *testing.T) {
		s.mustAWS(t, "s3api", "put-object-tagging", "--bucket", b, "--key", "tree/a.txt",
			"--tagging", "TagSet=[{Key=team,Value=storage},{Key=tier,Value=hot}]")
		out := s.mustAWS(t, "s3api", "get-object-tagging", "--bucket", b, "--key", "tree/a.txt")
		var tags struct{ TagSet []struct{ Key, Value string } }
		if err := json.Unmarshal([]byte(out), &tags); err != nil {
			t.Fatalf("get-object-tagging output: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, tg := range tags.TagSet {
			got[tg.Key] = tg.Value
		}
		if len(got) != 2 || got["team"] != "storage" || got["tier"] != "hot" {
			t.Errorf("get-object-tagging: %v", got)
		}

		out = s.mustAWS(t, "s3api", "list-object-versions", "--bucket", b, "--prefix", "tree/")
		var lv struct {
			Versions []struct {
				Key, VersionId, ETag string
				IsLatest             bool
				Size                 int64
			}
		}
		if err := json.Unmarshal([]byte(out), &lv); err != nil {
			t.Fatalf("list-object-versions output: %v\n%s", err, out)
		}
		var keys []string
		for _, v := range lv.Versions {
			keys = append(keys, v.Key)
			if !v.IsLatest || v.VersionId != "null" || v.ETag == "" {
				t.Errorf("list-object-versions entry %+v: want IsLatest, VersionId null, an ETag", v)
			}
		}
		var want []string
		for rel := range srcFiles {
			want = append(want, "tree/"+rel)
		}
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("list-object-versions keys %q, want %q", keys, want)
		}

		outFile := filepath.Join(work, "got-a.txt")
		out = s.mustAWS(t, "s3api", "get-object", "--bucket", b, "--key", "tree/a.txt", outFile)
		if got, _ := os.ReadFile(outFile); !bytes.Equal(got, srcFiles["a.txt"]) {
			t.Errorf("s3api get-object wrote %q, want %q\n%s", got, srcFiles["a.txt"], out)
		}
		out = s.mustAWS(t, "s3api", "head-object", "--bucket", b, "--key", "tree/d1/d2/c.bin")
		var head struct{ ContentLength int64 }
		if err := json.Unmarshal([]byte(out), &head); err != nil || head.ContentLength != int64(len(srcFiles["d1/d2/c.bin"])) {
			t.Errorf("s3api head-object: %v\n%s", err, out)
		}
	})

	t.Run("rm and rb", func(t *testing.T) {
		out, err := s.awsCLI(t, "", "s3", "rb", "s3://"+b)
		if err == nil || !strings.Contains(err.Error(), "BucketNotEmpty") {
			t.Errorf("s3 rb of a non-empty bucket: %v\n%s; want a BucketNotEmpty failure", err, out)
		}
		s.mustAWS(t, "s3", "rm", "--recursive", "s3://"+b+"/tree/")
		if keys := listAll(t, c, b, ""); !slices.Equal(keys, []string{"big/big.bin"}) {
			t.Errorf("after s3 rm --recursive tree/: %q", keys)
		}
		s.mustAWS(t, "s3", "rm", "--recursive", "s3://"+b)
		if keys := listAll(t, c, b, ""); len(keys) != 0 {
			t.Errorf("after s3 rm --recursive: %q", keys)
		}
		out = s.mustAWS(t, "s3", "rb", "s3://"+b)
		if !strings.Contains(out, "remove_bucket: "+b) {
			t.Errorf("s3 rb output %q", out)
		}
		if out := s.mustAWS(t, "s3", "ls"); strings.Contains(out, " "+b) {
			t.Errorf("bucket still listed after rb:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, b)); !os.IsNotExist(err) {
			t.Errorf("bucket folder still exists after rb (%v)", err)
		}
	})
}
