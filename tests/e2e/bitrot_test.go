package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// flipByte changes one byte of a file in place, keeping its size and
// modification time: damage that the file system does not see, as a
// failing disk or a bad cable makes it.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err, "stat")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err, "open")
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	must(t, err, "read")
	b[0] ^= 0x01
	_, err = f.WriteAt(b[:], off)
	must(t, err, "write")
	must(t, f.Close(), "close")
	must(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()), "chtimes")
}

// strataAdmin runs `strata admin ARGS` against s and returns its output
// (stdout and stderr) and exit code.
func (s *server) strataAdmin(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), "STRATA_ENDPOINT="+s.URL, "STRATA_ROOT_USER="+accessKey, "STRATA_ROOT_PASSWORD="+secretKey)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("strata admin %s: %v\n%s", strings.Join(args, " "), err, out)
	return "", -1
}

// TestBitrot damages files under the served directory the way a disk
// would, and checks that clients get errors, never the damaged bytes, and
// that `strata admin scan` finds the damage and the files without hashes.
func TestBitrot(t *testing.T) {
	needAWSCLI(t)
	s := startServer(t)
	c := s.S3(t)
	ctx := ctxT(t)
	tmp := t.TempDir()

	b := newBucket(t, c)
	data := randBytes(1, 3<<20+12345)
	src := filepath.Join(tmp, "src.bin")
	must(t, os.WriteFile(src, data, 0o644), "write")
	s.mustAWS(t, "s3", "cp", src, "s3://"+b+"/dir/obj.bin")
	putBytes(t, c, b, "small.txt", []byte("a small object, one block"))
	big := filepath.Join(tmp, "big.bin")
	writeRandomFile(t, big, 2, 17<<20) // multipart with the CLI's 8 MiB parts
	s.mustAWS(t, "s3", "cp", big, "s3://"+b+"/big.bin")

	// Untouched, everything reads back and scans clean.
	out := filepath.Join(tmp, "out.bin")
	s.mustAWS(t, "s3", "cp", "s3://"+b+"/big.bin", out)
	sameFile(t, big, out)
	if o, code := s.strataAdmin(t, nil, "scan", b); code != 0 || !strings.Contains(o, "Corrupt              0") {
		t.Fatalf("scan of a clean bucket: exit %d\n%s", code, o)
	}

	// A byte flipped in a later block: the response has started when the
	// damage is found, and must be cut off.
	flipByte(t, filepath.Join(s.Dir, b, "dir", "obj.bin"), 2<<20+100)
	os.Remove(out)
	if _, err := s.awsCLI(t, "", "s3", "cp", "s3://"+b+"/dir/obj.bin", out); err == nil {
		t.Fatal("aws s3 cp of a damaged object succeeded")
	}
	if got, err := os.ReadFile(out); err == nil && bytes.Equal(got[:min(len(got), len(data))], data[:min(len(got), len(data))]) && len(got) >= len(data) {
		t.Fatal("the damaged object was downloaded whole")
	}
	res, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dir/obj.bin")})
	must(t, err, "GetObject (damage after the first block)")
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Fatalf("GetObject of a damaged object read %d bytes without an error", len(got))
	}
	if !bytes.HasPrefix(data, got) {
		t.Fatalf("GetObject returned %d bytes that are not the object's", len(got))
	}
	// A range that does not touch the damaged block is served.
	res, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dir/obj.bin"), Range: aws.String("bytes=0-2097151")})
	must(t, err, "GetObject range")
	got, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || !bytes.Equal(got, data[:2<<20]) {
		t.Fatalf("range before the damage: %v, %d bytes", err, len(got))
	}
	// Damage in the first block: a clean S3 error before any byte.
	flipByte(t, filepath.Join(s.Dir, b, "small.txt"), 3)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("small.txt")})
	wantErr(t, err, "InternalError", 500)
	if !strings.Contains(err.Error(), "integrity check") {
		t.Fatalf("error message: %v", err)
	}
	// And in the second part of the multipart object.
	flipByte(t, filepath.Join(s.Dir, b, "big.bin"), 9<<20)
	if _, err := s.awsCLI(t, "", "s3", "cp", "s3://"+b+"/big.bin", out); err == nil {
		t.Fatal("aws s3 cp of a damaged multipart object succeeded")
	}

	o, code := s.strataAdmin(t, nil, "scan", b)
	if code != 1 || !strings.Contains(o, "CORRUPT        dir/obj.bin: block 2 ") || !strings.Contains(o, "CORRUPT        small.txt") ||
		!strings.Contains(o, "CORRUPT        big.bin: block 9 ") || !strings.Contains(o, "3 corrupt objects found") {
		t.Fatalf("scan: exit %d\n%s", code, o)
	}
	o, code = s.strataAdmin(t, nil, "scan", b, "--json")
	if code != 1 || !strings.Contains(o, `"type":"summary"`) {
		t.Fatalf("scan --json: exit %d\n%s", code, o)
	}
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		if strings.HasPrefix(line, "strata:") {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("scan --json line %q: %v", line, err)
		}
	}

	// A file put into the directory by hand: served unverified, found by
	// the scan, hashed on request, and from then on protected.
	b2 := b + "-placed"
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b2)})
	must(t, err, "CreateBucket")
	placed := filepath.Join(s.Dir, b2, "placed.txt")
	must(t, os.WriteFile(placed, []byte("put on the share directly"), 0o644), "write")
	wantObject(t, c, b2, "placed.txt", []byte("put on the share directly"))
	if o, code := s.strataAdmin(t, nil, "scan", b2); code != 0 || !strings.Contains(o, "NO-HASHES      placed.txt") {
		t.Fatalf("scan: exit %d\n%s", code, o)
	}
	if o, code := s.strataAdmin(t, nil, "scan", b2, "--hash-missing"); code != 0 || !strings.Contains(o, "HASHED         placed.txt") {
		t.Fatalf("scan --hash-missing: exit %d\n%s", code, o)
	}
	if o, code := s.strataAdmin(t, nil, "scan", b2); code != 0 || strings.Contains(o, "placed.txt") || !strings.Contains(o, "OK                   1") {
		t.Fatalf("scan after hashing: exit %d\n%s", code, o)
	}
	flipByte(t, placed, 0)
	if _, err := s.awsCLI(t, "", "s3", "cp", "s3://"+b2+"/placed.txt", filepath.Join(tmp, "placed")); err == nil {
		t.Fatal("aws s3 cp of a damaged hashed file succeeded")
	}
	if o, code := s.strataAdmin(t, nil, "scan", b2); code != 1 || !strings.Contains(o, "CORRUPT        placed.txt") {
		t.Fatalf("scan after damage: exit %d\n%s", code, o)
	}
	// The listing shows the objects, nothing of Strata's own.
	if keys := listAll(t, c, b2, ""); len(keys) != 1 || keys[0] != "placed.txt" {
		t.Fatalf("listing: %q", keys)
	}

	// The admin command's errors.
	if o, code := s.strataAdmin(t, nil, "scan", "no-such-bucket"); code != 1 || !strings.Contains(o, `no bucket named "no-such-bucket"`) {
		t.Fatalf("unknown bucket: exit %d\n%s", code, o)
	}
	if o, code := s.strataAdmin(t, []string{"STRATA_ROOT_PASSWORD=wrong-password"}, "info"); code != 1 || !strings.Contains(o, "refused the credentials") {
		t.Fatalf("wrong password: exit %d\n%s", code, o)
	}
	if o, code := s.strataAdmin(t, []string{"STRATA_ENDPOINT=http://" + freeAddr(t)}, "info"); code != 1 || !strings.Contains(o, "cannot reach the Strata server") {
		t.Fatalf("no server: exit %d\n%s", code, o)
	}
	if o, code := s.strataAdmin(t, nil, "info"); code != 0 || !strings.Contains(o, "Corrupt blocks found") {
		t.Fatalf("info: exit %d\n%s", code, o)
	}
}
