package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// Credentials every test server runs with.
const (
	accessKey = "e2e-access-key"
	secretKey = "e2e-secret-key-0123456789"
	region    = "us-east-1"
)

// strataBin is the binary built once by TestMain.
var strataBin string

// ganeshaDir is set (from STRATA_GANESHA_DIR) when the tests run inside
// tests/services/ganesha.sh, next to an NFS-Ganesha server.
var ganeshaDir string

// benchEnv holds the STRATA_BACKEND_BENCH* settings of TestBenchBackends,
// which TestMain removes from the environment with every other STRATA_*.
var benchEnv []string

// benchSetting is the value of one of them.
func benchSetting(name string) string {
	for _, kv := range benchEnv {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ganeshaDir = os.Getenv("STRATA_GANESHA_DIR")
	prebuilt := os.Getenv("STRATA_E2E_BIN")
	// Keep the clients hermetic: no user config, profile, endpoint or
	// credentials from the environment leak into the tests.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "STRATA_BACKEND_BENCH") {
			benchEnv = append(benchEnv, kv)
		}
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "STRATA_") {
			os.Unsetenv(name)
		}
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	if prebuilt != "" { // a run of the tests again, inside a namespace
		strataBin = prebuilt
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "strata-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	strataBin = filepath.Join(dir, "strata")
	if runtime.GOOS == "windows" {
		strataBin += ".exe"
	}
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", strataBin, "github.com/strata-storage/strata/cmd/strata")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building ./cmd/strata failed: %v\n%s", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", strataBin, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// server is one running `strata server` process.
type server struct {
	t       testing.TB
	cmd     *exec.Cmd
	Dir     string // the PATH it serves
	Addr    string // host:port it listens on
	URL     string // http://Addr or https://Addr
	CAFile  string // PEM of its certificate when it serves HTTPS
	RootCAs *x509.CertPool

	logs     *logBuffer
	done     chan struct{}
	signaled bool // SIGTERM sent
	stopped  bool // Stop ran
	mu       sync.Mutex
}

type serverConfig struct {
	dir  string   // directory to serve; a fresh temp dir when empty
	args []string // extra flags before PATH
	tls  bool     // generate a certificate and pass --certs-dir
	conf string   // serve a configuration file (--config) instead of dir
	addr string   // listen address; a free port when empty
	env  []string // extra environment, NAME=value
}

type serverOption func(*serverConfig)

// withDir serves an existing directory (for data laid out before start).
func withDir(dir string) serverOption { return func(c *serverConfig) { c.dir = dir } }

// withArgs adds flags to `strata server`.
func withArgs(args ...string) serverOption {
	return func(c *serverConfig) { c.args = append(c.args, args...) }
}

// withAddr listens on addr (to restart a server where it was).
func withAddr(addr string) serverOption { return func(c *serverConfig) { c.addr = addr } }

// withConfig serves the backends of a configuration file.
func withConfig(path string) serverOption { return func(c *serverConfig) { c.conf = path } }

// withEnv adds NAME=value entries to the server's environment.
func withEnv(kv ...string) serverOption {
	return func(c *serverConfig) { c.env = append(c.env, kv...) }
}

// withTLS makes the server answer HTTPS with a fresh self-signed certificate.
func withTLS() serverOption { return func(c *serverConfig) { c.tls = true } }

// startServer starts strata on a free loopback port and waits until
// /health/ready answers 200. The server is stopped with SIGTERM at the end of
// the test, and must then exit with status 0.
func startServer(t testing.TB, opts ...serverOption) *server {
	t.Helper()
	var cfg serverConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dir == "" {
		cfg.dir = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{t: t, Dir: cfg.dir, logs: &logBuffer{}, done: make(chan struct{})}
	s.Addr = cfg.addr
	if s.Addr == "" {
		s.Addr = freeAddr(t)
	}
	args := []string{"server", "--address", s.Addr}
	scheme := "http"
	if cfg.tls {
		certsDir := filepath.Join(t.TempDir(), "certs")
		s.CAFile, s.RootCAs = writeCerts(t, certsDir)
		args = append(args, "--certs-dir", certsDir)
		scheme = "https"
	}
	args = append(args, cfg.args...)
	if cfg.conf != "" {
		args = append(args, "--config", cfg.conf)
	} else {
		args = append(args, cfg.dir)
	}
	s.URL = scheme + "://" + s.Addr

	s.cmd = exec.Command(strataBin, args...)
	s.cmd.Env = append(os.Environ(), "STRATA_ROOT_USER="+accessKey, "STRATA_ROOT_PASSWORD="+secretKey)
	s.cmd.Env = append(s.cmd.Env, cfg.env...)
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", strataBin, err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("strata %s log (tail):\n%s", strings.Join(args, " "), s.logs.tail(16<<10))
		}
	})

	hc := s.HTTPClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(s.URL + "/health/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("strata %s exited before it was ready (%v); log:\n%s",
				strings.Join(args, " "), s.cmd.ProcessState, s.logs.tail(16<<10))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata %s not ready after 30s (last: %v); log:\n%s",
				strings.Join(args, " "), err, s.logs.tail(16<<10))
		}
	}
}

// Pid is the server's process id.
func (s *server) Pid() int { return s.cmd.Process.Pid }

// Terminate sends SIGTERM without waiting.
func (s *server) Terminate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.terminate()
}

func (s *server) terminate() {
	if s.signaled {
		return
	}
	s.signaled = true
	select {
	case <-s.done:
		s.t.Errorf("strata exited on its own before the test stopped it: %v", s.cmd.ProcessState)
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Errorf("SIGTERM: %v", err)
	}
}

// Stop sends SIGTERM (unless Terminate did) and waits for the process; it
// reports an error if the server does not exit, or exits with a status
// other than 0.
func (s *server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.terminate()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("strata did not exit within 30s of SIGTERM")
		return
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("strata exited with %v after SIGTERM, want exit status 0", s.cmd.ProcessState)
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cmd.Process.Kill()
	<-s.done
}

// Logs returns everything the server printed so far.
func (s *server) Logs() string { return s.logs.String() }

// HTTPClient is a plain net/http client that trusts the server's certificate
// and does not follow redirects.
func (s *server) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if s.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.RootCAs}
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       5 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// S3 returns an aws-sdk-go-v2 client with the SDK's default configuration
// (including its default checksum behaviour), pointed at the server with
// path-style addressing.
func (s *server) S3(t testing.TB, opts ...func(*s3.Options)) *s3.Client {
	return s.s3With(t, accessKey, secretKey, opts...)
}

func (s *server) s3With(t testing.TB, ak, sk string, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")),
	)
	if err != nil {
		t.Fatalf("loading SDK config: %v", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// The SDK logs "Response has no supported checksum" for objects
		// stored without one (files found on disk); the tests assert
		// checksums where they matter.
		o.Logger = logging.Nop{}
		o.BaseEndpoint = aws.String(s.URL)
		o.UsePathStyle = true
		if s.RootCAs != nil {
			pool := s.RootCAs
			o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.TLSClientConfig = &tls.Config{RootCAs: pool}
			})
		}
		for _, f := range opts {
			f(o)
		}
	})
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// writeCerts writes a self-signed certificate for 127.0.0.1 and localhost as
// dir/public.crt and dir/private.key.
func writeCerts(t testing.TB, dir string) (caFile string, pool *x509.CertPool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "strata e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	caFile = filepath.Join(dir, "public.crt")
	if err := os.WriteFile(caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "private.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return caFile, pool
}

// logBuffer collects a process's output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep memory bounded on chatty servers: drop the oldest half past 8 MiB.
	if b.buf.Len() > 8<<20 {
		rest := append([]byte(nil), b.buf.Bytes()[b.buf.Len()/2:]...)
		b.buf.Reset()
		b.buf.WriteString("[...]\n")
		b.buf.Write(rest)
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "[...]" + s[len(s)-n:]
	}
	return s
}

// ---- SDK error helpers ----

// errCode is the S3 error code of an SDK error ("" when none).
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// errStatus is the HTTP status of an SDK error (0 when none).
func errStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantErr fails unless err is an S3 error with the given code and, if status
// is not 0, HTTP status.
func wantErr(t testing.TB, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("got success, want error %s (%d)", code, status)
		return
	}
	if got := errCode(err); got != code {
		t.Errorf("got error code %q (HTTP %d), want %q: %v", got, errStatus(err), code, err)
		return
	}
	if status != 0 && errStatus(err) != status {
		t.Errorf("error %s: got HTTP %d, want %d", code, errStatus(err), status)
	}
}

// must fails the test at once on err.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ctxT is a context for one test step, bounded so a hung server fails the
// test rather than the whole run.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
