package nfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/gateway/stack/stacktest"
)

const ganeshaScript = "../../tests/services/ganesha.sh"

// TestGanesha runs the suite and the fault tests against NFS-Ganesha. The
// test binary runs itself again through tests/services/ganesha.sh, inside a
// private network namespace where rpcbind and ganesha listen on loopback;
// STRATA_GANESHA_DIR tells that child run where the export is.
func TestGanesha(t *testing.T) {
	dir := os.Getenv("STRATA_GANESHA_DIR")
	if dir == "" {
		runGaneshaChild(t)
		return
	}
	export := filepath.Join(dir, "export")
	cfg := Config{Host: "127.0.0.1", Export: export, Timeout: 30 * time.Second}

	// One sub-folder of the export per subtest (Config.Path).
	n := 0
	openSub := func(dir string) func(t *testing.T) backends.Backend {
		return func(t *testing.T) backends.Backend {
			n++
			sub := filepath.Join(dir, time.Now().Format("150405")+"-"+string(rune('a'+n%26))+itoa(n))
			if err := os.MkdirAll(filepath.Join(export, sub), 0o755); err != nil {
				t.Fatal(err)
			}
			c := cfg
			c.Path = sub
			s, err := Open(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	t.Run("Suite", func(t *testing.T) { backendtest.Run(t, openSub("suite")) })
	// The data services (encryption, lock, versioning, bitrot) over NFS.
	t.Run("DataServices", func(t *testing.T) { stacktest.Run(t, openSub("stack")) })
	t.Run("PlainFiles", func(t *testing.T) {
		sub := "plain"
		os.MkdirAll(filepath.Join(export, sub, "bkt", "a"), 0o755)
		os.WriteFile(filepath.Join(export, sub, "bkt", "a", "old.txt"), []byte("was here"), 0o644)
		c := cfg
		c.Path = sub
		testPlainFiles(t, filepath.Join(export, sub), c)
	})
	t.Run("FolderReplaced", func(t *testing.T) {
		os.MkdirAll(filepath.Join(export, "replaced", "bkt"), 0o755)
		c := cfg
		c.Path = "replaced"
		testFolderReplaced(t, filepath.Join(export, "replaced"), c)
	})
	t.Run("Chunks", func(t *testing.T) {
		os.MkdirAll(filepath.Join(export, "chunks"), 0o755)
		c := cfg
		c.Path = "chunks"
		testChunks(t, filepath.Join(export, "chunks"), c)
	})
	t.Run("KeptForReaders", func(t *testing.T) {
		os.MkdirAll(filepath.Join(export, "kept"), 0o755)
		c := cfg
		c.Path = "kept"
		testKeptForReaders(t, filepath.Join(export, "kept"), c)
	})
	t.Run("RestartMidUpload", func(t *testing.T) {
		testRestart(t, dir, export, cfg)
	})
}

func itoa(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

func runGaneshaChild(t *testing.T) {
	if _, err := exec.LookPath("ganesha.nfsd"); err != nil {
		t.Fatalf("NFS-Ganesha is not installed; install it with: tests/services/ganesha.sh install " +
			"(Debian packages nfs-ganesha nfs-ganesha-vfs rpcbind iproute2)")
	}
	if os.Geteuid() != 0 {
		t.Fatalf("TestGanesha needs root: it starts rpcbind and ganesha in a private network namespace (unshare -n -m)")
	}
	args := []string{"run", os.Args[0], "-test.run", "^TestGanesha$", "-test.v"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.CommandContext(t.Context(), ganeshaScript, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil || testing.Verbose() {
		t.Log(out.String())
	}
	if err != nil {
		t.Fatalf("the run inside the namespace failed: %v", err)
	}
}

// The server restarts in the middle of an upload: the upload fails
// cleanly (no partial file at the key) or, if the server had made every
// write durable, succeeds whole; the next requests succeed.
func testRestart(t *testing.T, dir, export string, cfg Config) {
	ctx := t.Context()
	cfg.Path = "restart"
	os.MkdirAll(filepath.Join(export, "restart", "bkt"), 0o755)
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := []byte("the old version")
	if _, err := s.PutObject(ctx, "bkt", "k", bytes.NewReader(old), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	var once sync.Once
	r := &hookReader{r: bytes.NewReader(data), at: 4 << 20, hook: func() {
		once.Do(func() {
			out, err := exec.Command(ganeshaScript, "restart", dir).CombinedOutput()
			if err != nil {
				t.Errorf("restart: %v\n%s", err, out)
			}
		})
	}}
	start := time.Now()
	_, perr := s.PutObject(ctx, "bkt", "k", r, backends.PutOptions{})
	t.Logf("put across a restart: %v after %v", perr, time.Since(start))
	onDisk, err := os.ReadFile(filepath.Join(export, "restart", "bkt", "k"))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case perr == nil && !bytes.Equal(onDisk, data):
		t.Fatalf("the put succeeded but the file holds %d other bytes", len(onDisk))
	case perr != nil && !bytes.Equal(onDisk, old):
		t.Fatalf("the put failed but the file changed (%d bytes)", len(onDisk))
	}
	// Next requests succeed.
	if _, err := s.PutObject(ctx, "bkt", "k2", bytes.NewReader(data), backends.PutOptions{}); err != nil {
		t.Fatalf("put after the restart: %v", err)
	}
	rc, _, err := s.GetObject(ctx, "bkt", "k2", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get after the restart: %d bytes, %v", len(got), err)
	}
	// Stopped: requests fail within the timeout with Unavailable.
	cfg2 := cfg
	cfg2.Timeout = 2 * time.Second
	s2, err := Open(ctx, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if out, err := exec.Command(ganeshaScript, "stop", dir).CombinedOutput(); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	start = time.Now()
	_, err = s2.HeadObject(ctx, "bkt", "k2")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("head on a stopped server took %v", el)
	}
	if !backends.Is(err, backends.Unavailable) {
		t.Errorf("head on a stopped server: %v, want Unavailable", err)
	}
	if out, err := exec.Command(ganeshaScript, "restart", dir).CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	if _, err := s2.HeadObject(ctx, "bkt", "k2"); err != nil {
		t.Fatalf("head after the server came back: %v", err)
	}
}

// hookReader calls hook once when the reader passes at bytes.
type hookReader struct {
	r    io.Reader
	n    int
	at   int
	hook func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	if h.n >= h.at && h.hook != nil {
		h.hook()
		h.hook = nil
	}
	if h.n < h.at && h.n+len(p) > h.at {
		p = p[:h.at-h.n]
	}
	n, err := h.r.Read(p)
	h.n += n
	return n, err
}

var _ = errors.New
