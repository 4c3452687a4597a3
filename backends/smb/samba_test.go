package smb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// server is a Samba smbd on 127.0.0.1 with a private configuration made by
// tests/services/samba.sh. It runs in its own process group (with its
// children and samba-dcerpcd), which stop, pause and resume signal.
type server struct {
	t     testing.TB
	dir   string
	port  int
	share string // the folder behind the share "data"
	cmd   *exec.Cmd
}

const testPassword = "strata-pass"

func script(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../../tests/services/samba.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func smbdPath() string {
	if p, err := exec.LookPath("smbd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/smbd"); err == nil {
		return "/usr/sbin/smbd"
	}
	return ""
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSamba starts a new smbd; global holds extra [global] lines. It fails
// (never skips) when Samba is missing.
func startSamba(t testing.TB, global string) *server {
	t.Helper()
	if smbdPath() == "" {
		t.Fatal("smbd (Samba) is not installed; install it with: tests/services/samba.sh install" +
			" (that is: apt-get install -y samba)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("smbd must run as root for these tests (it switches to the user of each session)")
	}
	dir := t.TempDir()
	s := &server{t: t, dir: dir, port: freePort(t), share: filepath.Join(dir, "share")}
	cmd := exec.Command(script(t), "setup", dir, strconv.Itoa(s.port))
	cmd.Env = append(os.Environ(), "SAMBA_GLOBAL="+global, "SMB_PASSWORD="+testPassword)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("samba.sh setup: %v\n%s", err, out)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	cmd := exec.Command(smbdPath(), "-F", "--no-process-group", "-s", filepath.Join(s.dir, "smb.conf"), "--debug-stdout")
	log, err := os.OpenFile(filepath.Join(s.dir, "smbd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", s.addr())
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(s.dir, "smbd.log"))
	s.t.Fatalf("smbd does not listen on %s:\n%s", s.addr(), b)
}

func (s *server) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *server) signal(sig syscall.Signal) {
	if s.cmd != nil {
		syscall.Kill(-s.cmd.Process.Pid, sig)
	}
}

func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGCONT)
	s.signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.signal(syscall.SIGKILL)
		<-done
	}
	// Children (one per connection) may outlive the parent for a moment.
	for i := 0; i < 50 && syscall.Kill(-s.cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd = nil
}

func (s *server) config(path string) Config {
	return Config{
		Host:     "127.0.0.1",
		Port:     s.port,
		Share:    "data",
		User:     "strata",
		Password: testPassword,
		Path:     path,
		Timeout:  5 * time.Second,
	}
}

// subdir turns a test name into a folder name.
func subdir(t *testing.T) string {
	r := strings.NewReplacer("/", "-", " ", "_")
	return "t-" + r.Replace(t.Name())
}
