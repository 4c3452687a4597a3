package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const kmsKeyName = "e2e-key"

// kmsEnv is a built-in KMS master key for the server.
func kmsEnv(t *testing.T) string {
	k := make([]byte, 32)
	rand.Read(k)
	return "STRATA_KMS_SECRET_KEY=" + kmsKeyName + ":" + base64.StdEncoding.EncodeToString(k)
}

// TestSSE drives server-side encryption with the aws CLI and boto3 over
// HTTPS, and checks what lands on disk.
func TestSSE(t *testing.T) {
	needAWSCLI(t)
	s := startServer(t, withTLS(), withEnv(kmsEnv(t)))
	work := t.TempDir()
	const b = "sse-cli"
	s.mustAWS(t, "s3", "mb", "s3://"+b)

	// A file whose plaintext is easy to find on disk.
	marker := []byte("STRATA-PLAINTEXT-MARKER:")
	plain := filepath.Join(work, "plain.txt")
	if err := os.WriteFile(plain, bytes.Repeat(marker, 300_000), 0o644); err != nil { // ~7 MiB: multipart in the CLI
		t.Fatal(err)
	}
	keyFile := filepath.Join(work, "sse-c.key")
	ck := make([]byte, 32)
	rand.Read(ck)
	os.WriteFile(keyFile, ck, 0o600)
	wrongKey := filepath.Join(work, "wrong.key")
	wk := make([]byte, 32)
	rand.Read(wk)
	os.WriteFile(wrongKey, wk, 0o600)

	cases := []struct {
		key  string
		args []string
	}{
		{"sse-s3.txt", []string{"--sse", "AES256"}},
		{"sse-kms.txt", []string{"--sse", "aws:kms", "--sse-kms-key-id", kmsKeyName}},
		{"sse-c.txt", []string{"--sse-c", "AES256", "--sse-c-key", "fileb://" + keyFile}},
	}
	for _, c := range cases {
		s.mustAWS(t, append([]string{"s3", "cp", plain, "s3://" + b + "/" + c.key}, c.args...)...)
		back := filepath.Join(work, c.key+".back")
		get := []string{"s3", "cp", "s3://" + b + "/" + c.key, back}
		if c.key == "sse-c.txt" {
			get = append(get, c.args...)
		}
		s.mustAWS(t, get...)
		sameFile(t, plain, back)
	}
	head := s.mustAWS(t, "s3api", "head-object", "--bucket", b, "--key", "sse-kms.txt")
	if !strings.Contains(head, `"ServerSideEncryption": "aws:kms"`) || !strings.Contains(head, kmsKeyName) {
		t.Errorf("head-object of the SSE-KMS object:\n%s", head)
	}

	// SSE-C: a wrong key is AccessDenied, no key is refused.
	if _, err := s.awsCLI(t, "", "s3", "cp", "s3://"+b+"/sse-c.txt", filepath.Join(work, "x"), "--sse-c", "AES256", "--sse-c-key", "fileb://"+wrongKey); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("GET with a wrong SSE-C key: %v", err)
	}
	if _, err := s.awsCLI(t, "", "s3api", "get-object", "--bucket", b, "--key", "sse-c.txt", filepath.Join(work, "y")); err == nil || !strings.Contains(err.Error(), "InvalidRequest") {
		t.Errorf("GET of an SSE-C object without its key: %v", err)
	}
	// Its attributes need the key too, as its HEAD does.
	c := s.S3(t)
	attrs := func(key []byte) (*s3.GetObjectAttributesOutput, error) {
		in := &s3.GetObjectAttributesInput{Bucket: aws.String(b), Key: aws.String("sse-c.txt"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesObjectSize}}
		if key != nil {
			sum := md5.Sum(key)
			in.SSECustomerAlgorithm, in.SSECustomerKey = aws.String("AES256"), aws.String(base64.StdEncoding.EncodeToString(key))
			in.SSECustomerKeyMD5 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
		}
		return c.GetObjectAttributes(ctxT(t), in)
	}
	_, err := attrs(nil)
	wantErr(t, err, "InvalidRequest", 400)
	if out, err := attrs(ck); err != nil || aws.ToInt64(out.ObjectSize) != int64(len(marker)*300_000) {
		t.Errorf("GetObjectAttributes of an SSE-C object with its key: %v", err)
	}

	// Plaintext is nowhere under the served directory.
	filepath.WalkDir(s.Dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, marker) {
			t.Errorf("plaintext found on disk in %s", p)
		}
		return nil
	})

	// A byte changed in a stored file: GET fails, never returns other data.
	stored := filepath.Join(s.Dir, b, "sse-s3.txt")
	fi, err := os.Stat(stored)
	must(t, err, "stat stored file")
	f, err := os.OpenFile(stored, os.O_RDWR, 0)
	must(t, err, "open stored file")
	one := []byte{0}
	f.ReadAt(one, 5<<20)
	one[0] ^= 1
	f.WriteAt(one, 5<<20)
	f.Close()
	os.Chtimes(stored, fi.ModTime(), fi.ModTime())
	c = s.S3(t)
	ctx := ctxT(t)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("sse-s3.txt")})
	if err == nil {
		var buf bytes.Buffer
		_, err = buf.ReadFrom(out.Body)
		out.Body.Close()
		if err == nil {
			t.Errorf("GET of a changed encrypted file returned %d bytes without error", buf.Len())
		}
	}

	t.Run("admin kms", func(t *testing.T) {
		env := []string{"SSL_CERT_FILE=" + s.CAFile}
		out, code := s.strataAdmin(t, env, "kms", "key", "list")
		if code != 0 || !strings.Contains(out, kmsKeyName+" (default)") {
			t.Errorf("strata admin kms key list: exit %d\n%s", code, out)
		}
		out, code = s.strataAdmin(t, env, "kms", "status")
		if code != 0 || !strings.Contains(out, "builtin") || !strings.Contains(out, "true") {
			t.Errorf("strata admin kms status: exit %d\n%s", code, out)
		}
		out, code = s.strataAdmin(t, env, "kms", "key", "create", "another")
		if code == 0 || !strings.Contains(out, "STRATA_KMS_SECRET_KEY") {
			t.Errorf("strata admin kms key create on the built-in KMS: exit %d\n%s", code, out)
		}
	})

	t.Run("boto3", func(t *testing.T) {
		py := needBoto3(t)
		script, err := filepath.Abs(filepath.Join("testdata", "boto3_sse.py"))
		must(t, err, "script path")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, script)
		cmd.Env = append(os.Environ(),
			"STRATA_ENDPOINT="+s.URL,
			"STRATA_ACCESS_KEY="+accessKey,
			"STRATA_SECRET_KEY="+secretKey,
			"STRATA_BUCKET=sse-boto3",
			"STRATA_WORKDIR="+t.TempDir(),
			"STRATA_CA_BUNDLE="+s.CAFile,
			"STRATA_KMS_KEY="+kmsKeyName,
			"AWS_CONFIG_FILE="+os.DevNull,
			"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
			"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
		)
		var outb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &outb
		if err := cmd.Run(); err != nil {
			t.Errorf("boto3_sse.py failed: %v\n%s", err, outb.String())
		}
	})
}

// TestSSEWithoutKMS: a server without a KMS says so for SSE-S3, and still
// refuses SSE-C keys over plain HTTP.
func TestSSEWithoutKMS(t *testing.T) {
	s := startServer(t)
	c := s.S3(t)
	ctx := ctxT(t)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("nokms")})
	must(t, err, "CreateBucket")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nokms"), Key: aws.String("k"), Body: strings.NewReader("x"), ServerSideEncryption: "AES256"})
	wantErr(t, err, "NotImplemented", 501)
	key := make([]byte, 32)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nokms"), Key: aws.String("k"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(base64.StdEncoding.EncodeToString(key))})
	wantErr(t, err, "InvalidRequest", 400)
}
