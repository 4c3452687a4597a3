package azure

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Azurite's well-known development account.
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azurite is the emulator shared by the tests of the package.
var azurite struct {
	once     sync.Once
	endpoint string
	err      error
	proc     *azuriteProc
}

// repoRoot is the root of the repository, from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// azuriteBin returns azurite-blob, installing it with
// tests/services/azurite.sh when it is missing (quiet when it is there).
func azuriteBin() (string, error) {
	root := repoRoot()
	script := filepath.Join(root, "tests", "services", "azurite.sh")
	if out, err := exec.Command(script, "install").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s install: %v\n%s", script, err, out)
	}
	bin := filepath.Join(root, "tests", "node_modules", ".bin", "azurite-blob")
	_, err := os.Stat(bin)
	return bin, err
}

// azuriteEndpoint starts the shared Azurite the first time and returns its
// blob endpoint. Without Azurite the test fails, saying how to install it.
func azuriteEndpoint(t *testing.T) string {
	t.Helper()
	azurite.once.Do(func() {
		var dir string
		dir, azurite.err = os.MkdirTemp("", "strata-azurite-")
		if azurite.err != nil {
			return
		}
		azurite.proc, azurite.err = startAzurite(freePort(), dir)
		if azurite.err == nil {
			azurite.endpoint = azurite.proc.endpoint
		}
	})
	if azurite.err != nil {
		t.Fatalf("Azurite is needed for the tests of backends/azure: %v\n"+
			"install it with: tests/services/azurite.sh install (npm, azurite@3.37.0 into tests/node_modules)", azurite.err)
	}
	return azurite.endpoint
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// azuriteProc is a running azurite-blob.
type azuriteProc struct {
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *syncBuffer
	dir      string
	endpoint string
}

// startAzurite starts azurite-blob on 127.0.0.1:port with its data in dir
// and waits until it listens.
func startAzurite(port int, dir string) (*azuriteProc, error) {
	bin, err := azuriteBin()
	if err != nil {
		return nil, err
	}
	p := &azuriteProc{exited: make(chan struct{}), log: &syncBuffer{}, dir: dir}
	p.cmd = exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
		"--location", dir, "--skipApiVersionCheck", "--silent")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			p.endpoint = "http://" + addr + "/" + devAccount
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("azurite-blob exited: %s\n%s", p.cmd.ProcessState, p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.stop()
	return nil, fmt.Errorf("azurite-blob did not listen on %s within 30 s\n%s", addr, p.log)
}

// stop stops the process and waits for it to exit. Azurite saves its
// state when it closes on SIGTERM, but its process lingers after that:
// it is killed once it says it closed.
func (p *azuriteProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if strings.Contains(p.log.String(), "successfully closed") {
			break
		}
		select {
		case <-p.exited:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// syncBuffer is a bytes.Buffer that a process writes while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if azurite.proc != nil {
		azurite.proc.stop()
		os.RemoveAll(azurite.proc.dir)
	}
	os.Exit(code)
}
