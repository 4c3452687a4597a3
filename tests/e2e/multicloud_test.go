package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Azurite's well-known development account.
const (
	azAccount = "devstoreaccount1"
	azKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// startAzurite runs Azurite's blob service on a free port and returns its
// endpoint. tests/services/azurite.sh installs it (make test runs it).
func startAzurite(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Azurite is not installed (%v): run tests/services/azurite.sh install (make test does)", err)
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", port,
		"--location", t.TempDir(), "--skipApiVersionCheck", "--silent")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/" + azAccount
		}
		select {
		case <-done:
			t.Fatalf("azurite exited: %s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("azurite not listening after 30s: %s", logs.String())
		}
	}
}

// TestMultiCloud serves a NAS folder, an Azure container, a GCS bucket
// under a prefix and a bucket of another S3 server behind one endpoint, as
// docs/config.md describes, and copies between the clouds with the aws CLI.
func TestMultiCloud(t *testing.T) {
	ctx := ctxT(t)

	// Google Cloud Storage: fake-gcs-server, with an object already there.
	// Its public host must be the address clients use, or reads fail.
	gcsAddr := freeAddr(t)
	_, gcsPort, _ := net.SplitHostPort(gcsAddr)
	port, _ := strconv.Atoi(gcsPort)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: gcsAddr,
		InitialObjects: []fakestorage.Object{{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "prod-events", Name: "raw/2025/01/e1.json",
				ContentType: "application/json", Metadata: map[string]string{"source": "pubsub"}},
			Content: []byte(`{"event":1}`),
		}, {
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "prod-events", Name: "raw/2025/02/e2.json", ContentType: "application/json"},
			Content:     []byte(`{"event":2}`),
		}, {
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "prod-events", Name: "other/hidden.txt"},
			Content:     []byte("outside the prefix"),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()

	// Azure: Azurite, with a container and a blob already there.
	azEndpoint := startAzurite(t)
	cred, err := azblob.NewSharedKeyCredential(azAccount, azKey)
	must(t, err, "azure credential")
	az, err := azblob.NewClientWithSharedKeyCredential(azEndpoint+"/", cred, nil)
	must(t, err, "azure client")
	_, err = az.CreateContainer(ctx, "invoices", nil)
	must(t, err, "create container")
	_, err = az.UploadBuffer(ctx, "invoices", "2024/inv-1.pdf", []byte("%PDF-1.4 invoice"), &azblob.UploadBufferOptions{
		Metadata: map[string]*string{"customer": to.Ptr("acme")},
	})
	must(t, err, "upload blob")

	// S3: another Strata, with a bucket and an object already there.
	remote := startServer(t)
	rc := remote.S3(t)
	_, err = rc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("reports")})
	must(t, err, "remote bucket")
	putBytes(t, rc, "reports", "q1.csv", []byte("a,b\n1,2\n"))

	// The NAS: a folder with files.
	nas := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(nas, "photos", "2024"), 0o755), "mkdir")
	must(t, os.WriteFile(filepath.Join(nas, "photos", "2024", "cat.jpg"), []byte("meow"), 0o644), "write")

	conf := filepath.Join(t.TempDir(), "strata.yaml")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
backends:
  archive: {type: azure, account: %s, key: "${E2E_AZURE_KEY}", endpoint: "%s"}
  lake:    {type: gcs, project: e2e, endpoint: "%s/storage/v1/"}
  oss:     {type: s3, endpoint: "%s", region: us-east-1, access_key: %s, secret_key: "${E2E_S3_SECRET}", path_style: true}
  nas:     {type: dir, path: "%s"}
buckets:
  invoices: {backend: archive, container: invoices}
  events:   {backend: lake, bucket: prod-events, prefix: raw/}
  reports:  {backend: oss}
default: nas
`, azAccount, azEndpoint, gcs.URL(), remote.URL, accessKey, nas)), 0o644), "write config")
	t.Setenv("E2E_AZURE_KEY", azKey)
	t.Setenv("E2E_S3_SECRET", secretKey)

	s := startServer(t, withConfig(conf))
	c := s.S3(t)

	out, err := s.awsCLI(t, "", "s3", "ls")
	must(t, err, "s3 ls")
	for _, b := range []string{"invoices", "events", "reports", "photos"} {
		if !strings.Contains(out, " "+b+"\n") {
			t.Errorf("s3 ls lacks %s:\n%s", b, out)
		}
	}

	// What was there appears as it is, with its metadata.
	if got := listAll(t, c, "events", ""); strings.Join(got, ",") != "2025/01/e1.json,2025/02/e2.json" {
		t.Fatalf("events: %v", got)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("events"), Key: aws.String("2025/01/e1.json")})
	must(t, err, "head gcs object")
	if head.Metadata["source"] != "pubsub" || aws.ToString(head.ContentType) != "application/json" {
		t.Errorf("gcs object metadata: %v %v", head.Metadata, aws.ToString(head.ContentType))
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("invoices"), Key: aws.String("2024/inv-1.pdf")})
	must(t, err, "head azure blob")
	if head.Metadata["customer"] != "acme" {
		t.Errorf("azure blob metadata: %v", head.Metadata)
	}
	wantObject(t, c, "events", "2025/01/e1.json", []byte(`{"event":1}`))
	wantObject(t, c, "invoices", "2024/inv-1.pdf", []byte("%PDF-1.4 invoice"))
	wantObject(t, c, "reports", "q1.csv", []byte("a,b\n1,2\n"))
	wantObject(t, c, "photos", "2024/cat.jpg", []byte("meow"))

	// Copy between clouds through Strata.
	_, err = s.awsCLI(t, "", "s3", "sync", "s3://events/2025/", "s3://invoices/copy/")
	must(t, err, "sync gcs -> azure")
	for _, k := range []string{"copy/01/e1.json", "copy/02/e2.json"} {
		resp, err := az.DownloadStream(ctx, "invoices", k, nil)
		must(t, err, "download "+k)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(b), `{"event":`) {
			t.Errorf("azure %s: %q", k, b)
		}
	}
	_, err = s.awsCLI(t, "", "s3", "sync", "s3://invoices/", "s3://reports/from-azure/")
	must(t, err, "sync azure -> s3")
	wantObject(t, rc, "reports", "from-azure/2024/inv-1.pdf", []byte("%PDF-1.4 invoice"))

	// Multipart uploads on each cloud (native S3 multipart, Azure blocks,
	// GCS compose), written through Strata and read back.
	big := randBytes(7, 18<<20)
	src := filepath.Join(t.TempDir(), "big.bin")
	must(t, os.WriteFile(src, big, 0o644), "write big")
	for _, b := range []string{"invoices", "events", "reports", "photos"} {
		_, err = s.awsCLI(t, "", "s3", "cp", src, "s3://"+b+"/big/big.bin")
		must(t, err, "cp big to "+b)
		if got := getBytes(t, c, b, "big/big.bin"); !bytes.Equal(got, big) {
			t.Errorf("%s: big object differs (%d bytes)", b, len(got))
		}
	}
	// Written through Strata, read with the cloud's own client: the GCS
	// object landed under the prefix.
	if o, err := gcs.GetObject("prod-events", "raw/big/big.bin"); err != nil || !bytes.Equal(o.Content, big) {
		t.Errorf("gcs: object not under the mapped prefix or different: %v", err)
	}

	// A bucket created on a named backend (location constraint).
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("placed-on-azure"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint("archive")}})
	must(t, err, "create bucket on archive")
	putBytes(t, c, "placed-on-azure", "x.txt", []byte("x"))
	resp, err := az.DownloadStream(ctx, "placed-on-azure", "x.txt", nil)
	must(t, err, "placed bucket is an Azure container")
	resp.Body.Close()

	// Mapped buckets are not deleted through S3.
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("events")})
	wantErr(t, err, "AccessDenied", 403)
}

// failingReader passes data through and runs fail once, after the first
// at bytes have gone.
type failingReader struct {
	r    io.Reader
	n    int64
	at   int64
	fail func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.fail != nil && f.n >= f.at {
		f.fail()
		f.fail = nil
	}
	n, err := f.r.Read(p)
	f.n += int64(n)
	return n, err
}

// TestCloudFault stops the S3 service behind Strata in the middle of an
// upload: the client gets an error and no partial object appears; once the
// service is back, requests succeed again.
func TestCloudFault(t *testing.T) {
	ctx := ctxT(t)
	remoteDir := filepath.Join(t.TempDir(), "remote")
	must(t, os.MkdirAll(filepath.Join(remoteDir, "reports"), 0o755), "mkdir")
	remote := startServer(t, withDir(remoteDir))
	conf := filepath.Join(t.TempDir(), "strata.yaml")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
backends:
  oss: {type: s3, endpoint: "%s", access_key: %s, secret_key: %s, path_style: true, max_retries: 1, timeout: 10s}
buckets:
  reports: {backend: oss}
`, remote.URL, accessKey, secretKey)), 0o644), "write config")
	s := startServer(t, withConfig(conf))
	c := s.S3(t)
	putBytes(t, c, "reports", "before.txt", []byte("before"))

	data := randBytes(11, 48<<20)
	body := &failingReader{r: bytes.NewReader(data), at: 16 << 20, fail: remote.Kill}
	// An unseekable body over plain HTTP: sent with an unsigned payload.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("big.bin"),
		Body: body, ContentLength: aws.Int64(int64(len(data)))}, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	if err == nil {
		t.Fatal("upload succeeded although the service behind was killed")
	}
	t.Logf("upload with the service gone: %v", err)

	// Back where it was, with the same data.
	startServer(t, withDir(remoteDir), withAddr(remote.Addr))
	wantNoObject(t, c, "reports", "big.bin")
	wantObject(t, c, "reports", "before.txt", []byte("before"))
	putBytes(t, c, "reports", "big.bin", data[:1<<20])
	wantObject(t, c, "reports", "big.bin", data[:1<<20])
	if fi, err := os.Stat(filepath.Join(remoteDir, "reports", "big.bin")); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("remote file: %v %v", fi, err)
	}
}
