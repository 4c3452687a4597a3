package nfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	gonfs "github.com/willscott/go-nfs"
	"github.com/willscott/go-nfs/helpers"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/fsstore"
	"github.com/strata-storage/strata/backends/fsstore/fsstoretest"
)

func init() {
	l := gonfs.Log.(*gonfs.DefaultLogger)
	l.SetLevel(gonfs.ErrorLevel)
}

// startGoNFS serves dir with the pure-Go NFSv3 server (MOUNT and NFS on one
// port) and returns the address.
func startGoNFS(t *testing.T, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := helpers.NewCachingHandler(helpers.NewNullAuthHandler(changeFS{osfs.New(dir, osfs.WithBoundOS()), dir}), 4096)
	done := make(chan struct{})
	go func() { gonfs.Serve(l, h); close(done) }()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// changeFS adds billy.Change (SETATTR) to osfs, which lacks it.
type changeFS struct {
	billy.Filesystem
	dir string
}

func (c changeFS) path(name string) string                   { return filepath.Join(c.dir, filepath.FromSlash(name)) }
func (c changeFS) Chmod(name string, mode os.FileMode) error { return os.Chmod(c.path(name), mode) }
func (c changeFS) Lchown(name string, uid, gid int) error    { return os.Lchown(c.path(name), uid, gid) }
func (c changeFS) Chown(name string, uid, gid int) error     { return os.Chown(c.path(name), uid, gid) }
func (c changeFS) Chtimes(name string, atime, mtime time.Time) error {
	return os.Chtimes(c.path(name), atime, mtime)
}

func cfgFor(t *testing.T, addr string) Config {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := net.LookupPort("tcp", port)
	return Config{Host: host, Export: "/", Port: p, MountPort: p, Timeout: 10 * time.Second, MaxConns: 4}
}

func TestSuiteGoNFS(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		if strings.HasSuffix(t.Name(), "/ConcurrentWriters") {
			// go-nfs's file handles name paths, not files: a file opened
			// before a rename replaced it reads the new data. Real servers
			// (Ganesha below, knfsd, filers) hand out handles of files.
			t.Skip("the go-nfs server's path-based handles cannot pass this; TestGanesha runs it")
		}
		dir := t.TempDir()
		s, err := Open(t.Context(), cfgFor(t, startGoNFS(t, dir)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if s.Xattrs() {
			t.Fatal("NFSv3 has no xattrs")
		}
		return s
	})
}

// Files on the export before Strata starts are objects; what Strata writes
// is a plain file with mode 0644.
func TestPlainFilesGoNFS(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bkt", "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "bkt", "a", "old.txt"), []byte("was here"), 0o644)
	testPlainFiles(t, dir, cfgFor(t, startGoNFS(t, dir)))
}

func testPlainFiles(t *testing.T, dir string, cfg Config) {
	ctx := t.Context()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.ListObjects(ctx, "bkt", backends.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Key != "a/old.txt" {
		t.Fatalf("list: %+v", res)
	}
	rc, _, err := s.GetObject(ctx, "bkt", "a/old.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "was here" {
		t.Fatalf("got %q", b)
	}
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if _, err := s.PutObject(ctx, "bkt", "new/file.bin", bytesReader(data), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bkt", "new", "file.bin")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatal("file on the export differs")
	}
	fi, _ := os.Stat(p)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want a plain 0644 file", fi.Mode())
	}
}

// A server that accepts connections and never answers: calls fail with an
// Unavailable error within the timeout.
func TestHungServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	cfg := cfgFor(t, l.Addr().String())
	cfg.Timeout = 700 * time.Millisecond
	start := time.Now()
	_, err = Open(context.Background(), cfg)
	el := time.Since(start)
	if err == nil {
		t.Fatal("Open of a hung server succeeded")
	}
	if !backends.Is(err, backends.Unavailable) {
		t.Errorf("error %v is not Unavailable", err)
	}
	if el > 2*time.Second {
		t.Errorf("took %v with a timeout of %v", el, cfg.Timeout)
	}
}

// A server that hangs after the backend opened: requests fail within the
// timeout; when it answers again (reconnect), requests succeed.
func TestHangAndReconnect(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bkt"), 0o755)
	px := newProxy(t, startGoNFS(t, dir))
	cfg := cfgFor(t, px.addr())
	cfg.Timeout = time.Second
	ctx := t.Context()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutObject(ctx, "bkt", "k1", bytesReader([]byte("one")), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	px.setHung(true)
	start := time.Now()
	_, err = s.HeadObject(ctx, "bkt", "k1")
	if !backends.Is(err, backends.Unavailable) {
		t.Fatalf("head on a hung server: %v, want Unavailable", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
	// The server "restarts": every connection drops, new ones are served.
	px.setHung(false)
	px.dropAll()
	if _, err := s.HeadObject(ctx, "bkt", "k1"); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if _, err := s.PutObject(ctx, "bkt", "k2", bytesReader([]byte("two")), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	px.dropAll()
	if _, err := s.ListObjects(ctx, "bkt", backends.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}

// proxy forwards TCP to a server; it can stop forwarding (hang) and drop
// every connection (a server restart).
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	hung   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.dropAll() })
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) setHung(h bool) {
	p.mu.Lock()
	p.hung = h
	p.mu.Unlock()
}

func (p *proxy) isHung() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hung
}

func (p *proxy) dropAll() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		for n > 0 && p.isHung() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				dst.Close()
			}
			return
		}
	}
}

type sliceReader struct {
	b []byte
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b} }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// Another client removes a folder and makes a new one of the same name
// while its handle is in the cache of directory handles: the next write
// into it finds the handle stale, looks the folder up again and lands in
// the new folder; and with the folder gone, the write makes it again.
func testFolderReplaced(t *testing.T, dir string, cfg Config) {
	ctx := t.Context()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := NewFS(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.PutObject(ctx, "bkt", "d/one", bytes.NewReader([]byte("one")), backends.PutOptions{})
	must(err)
	must(other.Remove("bkt/d/one"))
	must(other.Remove("bkt/d"))
	must(other.Mkdir("bkt/d"))
	if _, err := s.PutObject(ctx, "bkt", "d/two", bytes.NewReader([]byte("two")), backends.PutOptions{}); err != nil {
		t.Fatalf("put into the replaced folder: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "bkt", "d", "two")); err != nil || string(got) != "two" {
		t.Fatalf("d/two on the export: %q %v", got, err)
	}
	must(other.Remove("bkt/d/two"))
	must(other.Remove("bkt/d"))
	if _, err := s.PutObject(ctx, "bkt", "d/three", bytes.NewReader([]byte("three")), backends.PutOptions{}); err != nil {
		t.Fatalf("put into the removed folder: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "bkt", "d", "three")); err != nil || string(got) != "three" {
		t.Fatalf("d/three on the export: %q %v", got, err)
	}
}

func TestFolderReplacedGoNFS(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bkt"), 0o755)
	testFolderReplaced(t, dir, cfgFor(t, startGoNFS(t, dir)))
}

func TestChunksGoNFS(t *testing.T) {
	dir := t.TempDir()
	testChunks(t, dir, cfgFor(t, startGoNFS(t, dir)))
}

// testChunks checks the chunked writes and reads ahead of the FS.
func testChunks(t *testing.T, dir string, cfg Config) {
	fsys, err := NewFS(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	fsstoretest.ChunkedIO(t, fsys, dir, int(fsys.c.rtsize))
}

// The server hangs in the middle of a download (a READ ahead in flight)
// and of an upload (a WRITE behind in flight): both fail with an
// Unavailable error within the timeout, closing does not hang, and the
// store works once the server answers again.
func TestHangMidTransfer(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bkt"), 0o755)
	px := newProxy(t, startGoNFS(t, dir))
	cfg := cfgFor(t, px.addr())
	cfg.Timeout = time.Second
	ctx := t.Context()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
	if _, err := s.PutObject(ctx, "bkt", "big", bytesReader(data), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.GetObject(ctx, "bkt", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for range 2 { // past the first read: the next chunk is read ahead
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
	}
	px.setHung(true)
	start := time.Now()
	_, err = io.Copy(io.Discard, struct{ io.Reader }{rc})
	rc.Close()
	if !backends.Is(err, backends.Unavailable) {
		t.Fatalf("a download across a hang: %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 4*cfg.Timeout {
		t.Fatalf("the download took %v to fail with a timeout of %v", d, cfg.Timeout)
	}
	px.setHung(false)
	px.dropAll()

	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:3<<20])
		px.setHung(true)
		pw.Write(data[3<<20:])
		pw.Close()
	}()
	start = time.Now()
	_, err = s.PutObject(ctx, "bkt", "up", pr, backends.PutOptions{})
	pr.CloseWithError(errors.New("done"))
	if !backends.Is(err, backends.Unavailable) {
		t.Fatalf("an upload across a hang: %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 6*cfg.Timeout {
		t.Fatalf("the upload took %v to fail with a timeout of %v", d, cfg.Timeout)
	}
	px.setHung(false)
	px.dropAll()
	if _, err := os.Stat(filepath.Join(dir, "bkt", "up")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file at the key after the failed upload: %v", err)
	}
	if _, err := s.PutObject(ctx, "bkt", "up", bytesReader(data), backends.PutOptions{}); err != nil {
		t.Fatalf("after the hang: %v", err)
	}
	rc, _, err = s.GetObject(ctx, "bkt", "up", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get after the hang: %d bytes, %v", len(got), err)
	}
}

// A file replaced by an overwrite keeps a second name in a folder of
// .strata.sys/tmp/ (fsstore.TempFolder) for readers that opened it, and
// loses it after ReadGrace. (TestGanesha runs it: go-nfs has no LINK.)
func testKeptForReaders(t *testing.T, dir string, cfg Config) {
	cfg.ReadGrace = 300 * time.Millisecond
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"first", "second"} {
		if _, err := s.PutObject(ctx, "bkt", "k", bytesReader([]byte(v)), backends.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kept := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, fsstore.SysDir, "tmp", "?", ".nfs-kept-*"))
		return m
	}
	m := kept()
	var old []string
	for _, p := range m {
		if b, _ := os.ReadFile(p); string(b) == "first" {
			old = append(old, p)
		}
	}
	if len(old) != 1 {
		t.Fatalf("kept links %v: want one holding the replaced data", m)
	}
	if rel, _ := filepath.Rel(dir, old[0]); filepath.ToSlash(filepath.Dir(rel)) != fsstore.TempFolder(strings.TrimPrefix(filepath.Base(rel), ".nfs-kept-")) {
		t.Fatalf("kept link %s is not in the folder of its name", rel)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(kept()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m := kept(); len(m) > 0 {
		t.Fatalf("kept links not removed after the grace: %v", m)
	}
}

// The round trips of the common requests, against the in-process server:
// folder handles come from the cache, and a name missing from a cached
// folder costs one LOOKUP to check the folder, not a walk from the root
// (nor the cache of every other request). A change that adds calls to
// these paths makes every request over a real network slower: look at
// the counts before raising them.
func TestRoundTrips(t *testing.T) {
	dir := t.TempDir()
	fsys, err := NewFS(t.Context(), cfgFor(t, startGoNFS(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsstore.New(fsys, fsstore.Options{NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		if _, err := s.PutObject(ctx, "bkt", key, bytesReader([]byte("data")), backends.PutOptions{Meta: &backends.Meta{ContentType: "text/plain"}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(key string) error {
		rc, _, err := s.GetObject(ctx, "bkt", key, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		return err
	}
	calls := func(fn func()) int64 {
		n := fsys.c.nfs.calls.Load()
		fn()
		return fsys.c.nfs.calls.Load() - n
	}
	put("dir/k")
	put("dir/k2")
	if err := get("dir/k"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		max  int64
		fn   func()
	}{
		// CREATE, WRITE, COMMIT and GETATTR of the data and of the
		// new sidecar; LOOKUP and READ of the old sidecar; LOOKUP of
		// the key; the old data kept for readers (LOOKUP, LINK: go-nfs
		// has no LINK; the old sidecar is not kept); two RENAMEs.
		{"overwrite", 13, func() { put("dir/k") }},
		// The key and its sidecar: LOOKUP and READ of each.
		{"get", 5, func() {
			if err := get("dir/k"); err != nil {
				t.Fatal(err)
			}
		}},
		// A missing key: its LOOKUP, one LOOKUP to check the folder.
		{"get missing", 3, func() {
			if err := get("dir/nothing"); err == nil {
				t.Fatal("got a missing key")
			}
		}},
		// The miss left the cache in place.
		{"get after a miss", 5, func() {
			if err := get("dir/k2"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		if n := calls(c.fn); n > c.max {
			t.Errorf("%s: %d RPCs, want at most %d", c.what, n, c.max)
		} else {
			t.Logf("%s: %d RPCs", c.what, n)
		}
	}
}

// ReadFile (the sidecars' read): whole files of any size, a prefix of max
// bytes, and "not found" for a missing name or a folder, as Open says.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	fsys, err := NewFS(t.Context(), cfgFor(t, startGoNFS(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+3) // several READs
	for name, data := range map[string][]byte{"empty": nil, "small": []byte("hello"), "big": big} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := fsys.ReadFile(name, 16<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes, %v; want %d", name, len(got), err, len(data))
		}
	}
	if got, err := fsys.ReadFile("big", 100<<10); err != nil || !bytes.Equal(got, big[:100<<10]) {
		t.Fatalf("big, max 100 KiB: %d bytes, %v", len(got), err)
	}
	os.Mkdir(filepath.Join(dir, "folder"), 0o755)
	for _, name := range []string{"missing", "folder"} {
		if _, err := fsys.ReadFile(name, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: %v, want not found", name, err)
		}
	}
}
