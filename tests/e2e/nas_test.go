package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

const smbPassword = "e2e-smb-pass"

// startSmbd runs a private Samba smbd on loopback (tests/services/samba.sh
// writes its configuration) and returns its address and the share's
// directory.
func startSmbd(t *testing.T) (addr, share string) {
	t.Helper()
	smbd, err := exec.LookPath("smbd")
	if err != nil {
		smbd = "/usr/sbin/smbd"
	}
	if _, err := os.Stat(smbd); err != nil {
		t.Fatal("smbd (Samba) is not installed: run tests/services/samba.sh install (make test does)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("smbd must run as root for this test")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "services", "samba.sh")
	dir := t.TempDir()
	addr = freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	setup := exec.Command(script, "setup", dir, port)
	setup.Env = append(os.Environ(), "SMB_PASSWORD="+smbPassword)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("samba.sh setup: %v\n%s", err, out)
	}
	cmd := exec.Command(smbd, "-F", "--no-process-group", "-s", filepath.Join(dir, "smb.conf"), "--debug-stdout")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	for deadline := time.Now().Add(15 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, filepath.Join(dir, "share")
		}
		if time.Now().After(deadline) {
			t.Fatalf("smbd not listening on %s: %s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSMBShare serves a Samba share through the strata binary: what was on
// the share is listed and read, what the aws CLI writes lands as plain files
// with the same bytes, and sync works both ways.
func TestSMBShare(t *testing.T) {
	addr, share := startSmbd(t)
	host, port, _ := net.SplitHostPort(addr)
	must(t, os.MkdirAll(filepath.Join(share, "docs", "2024"), 0o755), "mkdir")
	must(t, os.WriteFile(filepath.Join(share, "docs", "2024", "report.txt"), []byte("placed on the share"), 0o644), "write")

	conf := filepath.Join(t.TempDir(), "strata.yaml")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
backends:
  fs1: {type: smb, host: %s, port: %s, share: data, user: strata, password: "${E2E_SMB_PASSWORD}", timeout: 10s}
default: fs1
`, host, port)), 0o644), "write config")
	t.Setenv("E2E_SMB_PASSWORD", smbPassword)
	s := startServer(t, withConfig(conf))
	c := s.S3(t)

	out, err := s.awsCLI(t, "", "s3", "ls", "--recursive", "s3://docs")
	must(t, err, "s3 ls")
	if !strings.Contains(out, "2024/report.txt") {
		t.Fatalf("the file placed on the share is not listed:\n%s", out)
	}
	wantObject(t, c, "docs", "2024/report.txt", []byte("placed on the share"))

	// The aws CLI writes (a multipart upload for the big file): plain files
	// on the share with the same bytes.
	work := t.TempDir()
	big := randBytes(21, 12<<20)
	must(t, os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644), "write")
	_, err = s.awsCLI(t, "", "s3", "cp", filepath.Join(work, "big.bin"), "s3://docs/upload/big.bin")
	must(t, err, "s3 cp")
	got, err := os.ReadFile(filepath.Join(share, "docs", "upload", "big.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the object is not a plain file with the same bytes on the share: %v", err)
	}

	up := filepath.Join(work, "tree")
	for i, name := range []string{"a.txt", "sub/b.txt", "sub/deep/c.txt"} {
		p := filepath.Join(up, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
		must(t, os.WriteFile(p, randBytes(uint64(i), 1000+i), 0o644), "write")
	}
	_, err = s.awsCLI(t, "", "s3", "sync", up, "s3://docs/tree/")
	must(t, err, "sync up")
	sameTree(t, treeFiles(t, filepath.Join(share, "docs", "tree"), nil), treeFiles(t, up, nil))
	down := filepath.Join(work, "down")
	_, err = s.awsCLI(t, "", "s3", "sync", "s3://docs/tree/", down)
	must(t, err, "sync down")
	sameTree(t, treeFiles(t, down, nil), treeFiles(t, up, nil))

	// Windows-forbidden names are refused, not mangled.
	_, err = s.awsCLI(t, "", "s3", "cp", filepath.Join(up, "a.txt"), "s3://docs/bad:name.txt")
	if err == nil {
		t.Fatal("a key with ':' was stored on an SMB share")
	}
}
