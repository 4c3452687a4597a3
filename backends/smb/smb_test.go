package smb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/fsstore"
	"github.com/strata-storage/strata/backends/fsstore/fsstoretest"
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
		// No object can have such a name: reads find none, deletes
		// have nothing to do.
		_, err = s.HeadObject(t.Context(), bucket, k)
		wantKind(t, "head "+k, err, backends.NoSuchKey)
		_, _, err = s.GetObject(t.Context(), bucket, k, nil)
		wantKind(t, "get "+k, err, backends.NoSuchKey)
		if err := s.DeleteObject(t.Context(), bucket, k); err != nil {
			t.Errorf("delete %s: %v", k, err)
		}
	}
}

// The case check of an existing name searches its folder with a pattern
// the server filters, not with a listing of the whole folder; names with
// pattern characters fall back to the listing. Both refuse a name that
// differs only in case.
func TestCaseCheckInLargeFolder(t *testing.T) {
	srv := startSamba(t, "")
	fsys, err := NewFS(t.Context(), srv.config("casecheck"))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	create := func(name string) {
		t.Helper()
		w, err := fsys.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	if err := fsys.Mkdir("big"); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		create(fmt.Sprintf("big/f%04d", i))
	}
	create("big/Photo.JPG")
	create("big/a[1]")
	create("big/é")
	for _, c := range []struct {
		seg  string
		want bool
	}{{"Photo.JPG", true}, {"photo.jpg", false}, {"PHOTO.JPG", false}, {"Photo.JP", false}, {"é", true}, {"a[1]", false}, {"f0042", true}} {
		if got := fsys.foundExact("big", c.seg); got != c.want {
			t.Errorf("foundExact(big, %q) = %v, want %v", c.seg, got, c.want)
		}
	}
	for _, name := range []string{"big/Photo.JPG", "big/a[1]", "big/é", "big/new", "big/f0042"} {
		if err := fsys.checkCase(name); err != nil {
			t.Errorf("checkCase(%q): %v", name, err)
		}
	}
	if probe(t, srv.config("casecheck")) {
		t.Error("the probe found Samba's default share case-sensitive")
	}
	for _, name := range []string{"big/photo.jpg", "big/A[1]", "big/F0042", "BIG/f0042"} {
		var be *backends.Error
		if err := fsys.checkCase(name); !errors.As(err, &be) || be.Kind != backends.Conflict {
			t.Errorf("checkCase(%q) = %v, want a Conflict", name, err)
		}
	}
}

// On a share that compares names with case, keys differing only in case
// are different files: the probe turns the check off.
func TestCaseSensitiveShare(t *testing.T) {
	srv := startSamba(t, "case sensitive = yes")
	s := open(t, srv.config("sensitive"))
	bucket := backendtest.NewBucket(t, s)
	for _, k := range []string{"Report.TXT", "report.txt", "dir/x", "DIR/x"} {
		backendtest.Put(t, s, bucket, k, []byte(k), backends.Meta{})
	}
	for _, k := range []string{"Report.TXT", "report.txt", "dir/x", "DIR/x"} {
		if b, err := get(t, s, bucket, k); err != nil || string(b) != k {
			t.Errorf("get %s: %q %v", k, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(srv.share, "sensitive", bucket, "DIR", "x")); err != nil {
		t.Errorf("DIR/x is not a file of its own on the share: %v", err)
	}
	if !probe(t, srv.config("sensitive")) {
		t.Error("the probe did not find the share case-sensitive")
	}
}

// probe reports what probeCase finds on the share of cfg.
func probe(t *testing.T, cfg Config) (caseSensitive bool) {
	t.Helper()
	fsys, err := NewFS(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	if err := fsys.Mkdir(fsstore.SysDir); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	if err := fsys.probeCase(); err != nil {
		t.Fatal(err)
	}
	ents, err := fsys.ReadDir(fsstore.SysDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "case-probe-") {
			t.Errorf("the probe left %s behind", e.Name())
		}
	}
	return fsys.caseSensitive.Load()
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

// Writes are gathered into chunks written in the background, and reads
// after the first one at an offset are served from chunks read ahead:
// whatever the sizes of the writes, reads and seeks, the bytes are right.
func TestChunkedWritesAndReads(t *testing.T) {
	srv := startSamba(t, "")
	fsys, err := NewFS(t.Context(), srv.config("chunks"))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	fsstoretest.ChunkedIO(t, fsys, filepath.Join(srv.share, "chunks"), readChunk)
}

// The server hangs in the middle of a download (chunks being read ahead)
// and of an upload (chunks being written behind): both fail with an
// Unavailable error within the timeout, and closing does not hang.
func TestHungServerMidTransfer(t *testing.T) {
	srv := startSamba(t, "")
	cfg := srv.config("hungmid")
	cfg.Timeout = time.Second
	s := open(t, cfg)
	bucket := backendtest.NewBucket(t, s)
	data := bytes.Repeat([]byte("0123456789abcdef"), 6*readChunk/16)
	backendtest.Put(t, s, bucket, "big", data, backends.Meta{})

	rc, _, err := s.GetObject(t.Context(), bucket, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	for range 2 { // past the first read: the next chunk is read ahead
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
	}
	srv.signal(syscall.SIGSTOP)
	start := time.Now()
	_, err = io.Copy(io.Discard, struct{ io.Reader }{rc})
	wantKind(t, "a download across a hang", err, backends.Unavailable)
	rc.Close()
	if d := time.Since(start); d > 4*cfg.Timeout {
		t.Fatalf("the download took %v to fail with a timeout of %v", d, cfg.Timeout)
	}
	srv.signal(syscall.SIGCONT)

	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:3*writeChunk])
		srv.signal(syscall.SIGSTOP)
		pw.Write(data[3*writeChunk:])
		pw.Close()
	}()
	start = time.Now()
	_, err = s.PutObject(t.Context(), bucket, "up", pr, backends.PutOptions{})
	pr.CloseWithError(errors.New("done"))
	wantKind(t, "an upload across a hang", err, backends.Unavailable)
	if d := time.Since(start); d > 6*cfg.Timeout {
		t.Fatalf("the upload took %v to fail with a timeout of %v", d, cfg.Timeout)
	}
	srv.signal(syscall.SIGCONT)
	if _, err := os.Stat(filepath.Join(srv.share, "hungmid", bucket, "up")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file at the key after the failed upload: %v", err)
	}
	// And then the server answers again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.PutObject(t.Context(), bucket, "up", bytes.NewReader(data), backends.PutOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after SIGCONT: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b, err := get(t, s, bucket, "up"); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("get after recovery: %d bytes, %v", len(b), err)
	}
}

// The round trips of the common requests, counted by smbd itself (its
// log at "smb2:10" names each request it serves). A stat is a CREATE and
// a CLOSE; folders come from the cache, sidecars are read without a query
// of their attributes. A change that adds requests to these paths makes
// every request over a real network slower: look at the counts before
// raising them.
func TestRoundTrips(t *testing.T) {
	srv := startSamba(t, "log level = 1 smb2:10")
	s := open(t, srv.config("rt"))
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(srv.dir, "smbd.log")
	op := regexp.MustCompile(`opcode\[SMB2_OP_([A-Z_]+)\]`)
	served := func(fn func()) []string {
		t.Helper()
		if err := os.Truncate(logf, 0); err != nil {
			t.Fatal(err)
		}
		fn()
		time.Sleep(50 * time.Millisecond) // smbd logs as it answers
		b, err := os.ReadFile(logf)
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, m := range op.FindAllSubmatch(b, -1) {
			ops = append(ops, string(m[1]))
		}
		return ops
	}
	put := func(key string) {
		t.Helper()
		if _, err := s.PutObject(ctx, "bkt", key, bytes.NewReader([]byte("data")), backends.PutOptions{Meta: &backends.Meta{ContentType: "text/plain"}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(key string) {
		t.Helper()
		if _, err := get(t, s, "bkt", key); err != nil {
			t.Fatal(err)
		}
	}
	put("dir/k")
	if ops := served(func() { put("dir/k") }); len(ops) == 0 {
		t.Fatal("smbd logged no requests: the log format of this Samba differs (want opcode[SMB2_OP_...] at smb2:10)")
	}
	for _, c := range []struct {
		what string
		max  int
		fn   func()
	}{
		// The data: CREATE, WRITE, FLUSH, GETINFO, CLOSE. A stat of
		// the key (2); the old sidecar read (CREATE, READ, CLOSE);
		// the new one written (CREATE, WRITE, FLUSH, CLOSE) and
		// renamed (CREATE, SETINFO, CLOSE). The check that the key
		// exists with this case (a stat, and go-smb2's Glob: a stat
		// of the folder, CREATE, QUERY_DIRECTORY twice, CLOSE), then
		// the rename of the data (3). The folders of the bucket and
		// of the key come from the cache.
		{"overwrite", 28, func() { put("dir/k") }},
		// The key: CREATE, GETINFO, READ, CLOSE; its sidecar: CREATE,
		// READ, CLOSE.
		{"get", 7, func() { get("dir/k") }},
	} {
		ops := served(c.fn)
		if len(ops) > c.max {
			t.Errorf("%s: %d requests, want at most %d: %v", c.what, len(ops), c.max, ops)
		} else {
			t.Logf("%s: %d requests: %v", c.what, len(ops), ops)
		}
	}
}

// A folder removed on the share by someone else while it is in the cache
// of folders: the next write below it makes it again, at once.
func TestFolderRemovedBehindTheCache(t *testing.T) {
	srv := startSamba(t, "")
	s := open(t, srv.config("gone"))
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	put := func(key, v string) {
		t.Helper()
		if _, err := s.PutObject(ctx, "bkt", key, bytes.NewReader([]byte(v)), backends.PutOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		got, err := os.ReadFile(filepath.Join(srv.share, "gone", "bkt", filepath.FromSlash(key)))
		if err != nil || string(got) != v {
			t.Fatalf("%s on the share: %q %v", key, got, err)
		}
	}
	put("d/e/one", "one")
	put("d/e/one", "one again") // the folders are now in the cache
	if err := os.RemoveAll(filepath.Join(srv.share, "gone", "bkt", "d")); err != nil {
		t.Fatal(err)
	}
	put("d/e/two", "two")
	if _, err := get(t, s, "bkt", "d/e/one"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("removed key: %v", err)
	}
}

// ReadFile (the sidecars' read): whole files of any size, a prefix of max
// bytes, and "not found" for a missing name or a folder, as Open says.
func TestReadFile(t *testing.T) {
	srv := startSamba(t, "")
	fsys, err := NewFS(t.Context(), srv.config("rf"))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	dir := filepath.Join(srv.share, "rf")
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16+3) // over 100 KiB: several READs
	for name, data := range map[string][]byte{"empty": nil, "small": []byte("hello"), "big": big} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := fsys.ReadFile(name, 1<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes, %v; want %d", name, len(got), err, len(data))
		}
	}
	if got, err := fsys.ReadFile("big", 20<<10); err != nil || !bytes.Equal(got, big[:20<<10]) {
		t.Fatalf("big, max 20 KiB: %d bytes, %v", len(got), err)
	}
	os.Mkdir(filepath.Join(dir, "folder"), 0o755)
	for _, name := range []string{"missing", "folder"} {
		if _, err := fsys.ReadFile(name, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: %v, want not found", name, err)
		}
	}
}
