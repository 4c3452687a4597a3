package smb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/fsstore"
	"github.com/strata-storage/strata/gateway/stack/stacktest"
)

func open(t *testing.T, cfg Config) *fsstore.Store {
	t.Helper()
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func wantKind(t *testing.T, what string, err error, k backends.Kind) {
	t.Helper()
	var be *backends.Error
	if !errors.As(err, &be) || be.Kind != k {
		t.Fatalf("%s: got %v, want an error of kind %v", what, err, k)
	}
}

func get(t *testing.T, s backends.Backend, bucket, key string) ([]byte, error) {
	t.Helper()
	rc, _, err := s.GetObject(t.Context(), bucket, key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestSuite(t *testing.T) {
	srv := startSamba(t, "")
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		s := open(t, srv.config(subdir(t)))
		if s.Xattrs() {
			t.Fatal("xattrs over SMB: want sidecars")
		}
		return s
	})
}

// The data services (encryption, lock, bitrot) over SMB. With versioning
// on, the suite passes but for ConcurrentWriters: go-smb2 opens files
// without FILE_SHARE_DELETE, so archiving a version (a rename) waits for
// readers of the key and fails when they never stop (docs/backend-smb.md).
func TestSuiteDataServices(t *testing.T) {
	srv := startSamba(t, "")
	stacktest.RunUnversioned(t, func(t *testing.T) backends.Backend { return open(t, srv.config(subdir(t))) })
}

// Files put on the share directly are served; what Strata writes is a plain
// file in the share's folder.
func TestPlainFiles(t *testing.T) {
	srv := startSamba(t, "")
	root := filepath.Join(srv.share, "tree")
	os.MkdirAll(filepath.Join(root, "photos", "2024"), 0o755)
	os.WriteFile(filepath.Join(root, "photos", "2024", "a.jpg"), []byte("jpeg bytes"), 0o644)
	s := open(t, srv.config("tree"))

	res, err := s.ListObjects(t.Context(), "photos", backends.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Key != "2024/a.jpg" {
		t.Fatalf("list: %+v", res.Objects)
	}
	if b, err := get(t, s, "photos", "2024/a.jpg"); err != nil || string(b) != "jpeg bytes" {
		t.Fatalf("get: %q %v", b, err)
	}
	data := bytes.Repeat([]byte("strata "), 300000) // 2 MiB
	backendtest.Put(t, s, "photos", "new/b.bin", data, backends.Meta{ContentType: "application/x-test"})
	b, err := os.ReadFile(filepath.Join(root, "photos", "new", "b.bin"))
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("the file on the share: %d bytes, %v", len(b), err)
	}
}

func TestNames(t *testing.T) {
	srv := startSamba(t, "")
	s := open(t, srv.config("names"))
	bucket := backendtest.NewBucket(t, s)
	backendtest.Put(t, s, bucket, "Report.TXT", []byte("upper"), backends.Meta{})
	backendtest.Put(t, s, bucket, "dir/x", []byte("x"), backends.Meta{})

	// Keys differing only in case must not share a file.
	_, err := s.PutObject(t.Context(), bucket, "report.txt", bytes.NewReader([]byte("lower")), backends.PutOptions{})
	wantKind(t, "put report.txt over Report.TXT", err, backends.Conflict)
	_, err = s.PutObject(t.Context(), bucket, "DIR/y", bytes.NewReader([]byte("y")), backends.PutOptions{})
	wantKind(t, "put DIR/y beside dir/x", err, backends.Conflict)
	err = s.DeleteObject(t.Context(), bucket, "REPORT.TXT")
	wantKind(t, "delete REPORT.TXT", err, backends.Conflict)
	if b, err := get(t, s, bucket, "Report.TXT"); err != nil || string(b) != "upper" {
		t.Fatalf("Report.TXT after the refused writes: %q %v", b, err)
	}
	// The right case still works: overwrite and delete.
	backendtest.Put(t, s, bucket, "Report.TXT", []byte("again"), backends.Meta{})
	if err := s.DeleteObject(t.Context(), bucket, "Report.TXT"); err != nil {
		t.Fatal(err)
	}
	backendtest.Put(t, s, bucket, "report.txt", []byte("now free"), backends.Meta{})

	// Names Windows forbids are refused with InvalidKey.
	for _, k := range []string{`a:b`, `a*b`, `q?`, `x"y`, `l<r>`, `p|q`, `back\slash`, `dot.`, `space `, `d./x`, `CON`, `nul.txt`} {
		_, err := s.PutObject(t.Context(), bucket, k, bytes.NewReader(nil), backends.PutOptions{})
		wantKind(t, "put "+k, err, backends.InvalidKey)
	}
}

// The server restarts between requests and during an upload.
func TestRestart(t *testing.T) {
	srv := startSamba(t, "")
	s := open(t, srv.config("restart"))
	bucket := backendtest.NewBucket(t, s)
	backendtest.Put(t, s, bucket, "before", []byte("1"), backends.Meta{})

	srv.stop()
	srv.start()
	start := time.Now()
	backendtest.Put(t, s, bucket, "after", []byte("2"), backends.Meta{})
	if b, err := get(t, s, bucket, "before"); err != nil || string(b) != "1" {
		t.Fatalf("get after restart: %q %v", b, err)
	}
	t.Logf("first requests after the restart: %v", time.Since(start))

	// Mid-upload: the body reader restarts the server half-way.
	pr, pw := io.Pipe()
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		pw.Write(bytes.Repeat([]byte("a"), 1<<20))
		srv.stop()
		srv.start()
		pw.Write(bytes.Repeat([]byte("b"), 1<<20))
		pw.Close()
	}()
	_, err := s.PutObject(t.Context(), bucket, "mid", pr, backends.PutOptions{})
	if err == nil {
		t.Fatal("the upload across a restart succeeded")
	}
	t.Logf("upload across the restart: %v", err)
	pr.CloseWithError(err)
	<-restarted
	if _, err := os.Stat(filepath.Join(srv.share, "restart", bucket, "mid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file at the key after the failed upload: %v", err)
	}
	backendtest.Put(t, s, bucket, "mid", []byte("ok"), backends.Meta{})
}

// A server that stops answering (SIGSTOP) or is gone makes requests fail
// within the timeout, with Unavailable.
func TestHungServer(t *testing.T) {
	srv := startSamba(t, "")
	cfg := srv.config("hung")
	cfg.Timeout = time.Second
	s := open(t, cfg)
	bucket := backendtest.NewBucket(t, s)
	backendtest.Put(t, s, bucket, "k", []byte("v"), backends.Meta{})

	srv.signal(syscall.SIGSTOP)
	for _, what := range []string{"get", "put"} {
		start := time.Now()
		var err error
		if what == "get" {
			_, err = get(t, s, bucket, "k")
		} else {
			_, err = s.PutObject(t.Context(), bucket, "k2", bytes.NewReader([]byte("v")), backends.PutOptions{})
		}
		d := time.Since(start)
		wantKind(t, what+" on a hung server", err, backends.Unavailable)
		if d > 4*cfg.Timeout {
			t.Fatalf("%s took %v with a timeout of %v", what, d, cfg.Timeout)
		}
		t.Logf("%s on a hung server: %v after %v", what, err, d)
	}
	srv.signal(syscall.SIGCONT)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := get(t, s, bucket, "k")
		if err == nil && string(b) == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after SIGCONT: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	srv.stop()
	start := time.Now()
	_, err := get(t, s, bucket, "k")
	wantKind(t, "get with the server stopped", err, backends.Unavailable)
	if d := time.Since(start); d > 4*cfg.Timeout {
		t.Fatalf("get with the server stopped took %v", d)
	}
}

// A TCP listener that accepts and never answers: Open fails within the
// timeout.
func TestSilentListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Open(ctx, Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Share: "data", User: "u", Password: "p", Timeout: 500 * time.Millisecond})
	if err == nil {
		t.Fatal("Open succeeded against a silent listener")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Open took %v with a timeout of 500ms", d)
	}
	t.Logf("silent listener: %v", err)
}

// The server requires signing and encryption; the client requires signing.
func TestSigningEncryption(t *testing.T) {
	srv := startSamba(t, "server signing = mandatory\nsmb encrypt = required")
	cfg := srv.config("sealed")
	cfg.RequireSigning = true
	cfg.MaxConns = 2
	s := open(t, cfg)
	bucket := backendtest.NewBucket(t, s)
	for i := range 10 {
		data := bytes.Repeat([]byte{byte(i)}, 100000+i)
		backendtest.Put(t, s, bucket, "k", data, backends.Meta{})
		if b, err := get(t, s, bucket, "k"); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("round %d: %d bytes, %v", i, len(b), err)
		}
	}
	// A wrong password is a clear error at Open.
	bad := srv.config("sealed")
	bad.Password = "wrong"
	if _, err := Open(t.Context(), bad); err == nil {
		t.Fatal("Open with a wrong password succeeded")
	} else {
		t.Logf("wrong password: %v", err)
	}
}
