//go:build linux

package mount

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemon: without --foreground, strata mount returns once the mount is
// ready and keeps serving in the background until fusermount3 -u.
func TestDaemon(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "daemon")
	dir := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(dir, 0o755)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, strataBin, "mount", "--endpoint", s.URL, "--cache-dir", t.TempDir(), b, dir)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("strata mount (background): %v\n%s", err, out)
	}
	t.Logf("strata mount returned after %v", time.Since(start).Round(time.Millisecond))
	if !isMounted(dir) {
		t.Fatalf("strata mount returned but %s is not mounted", dir)
	}
	pid := findMountProcess(t, dir)
	defer func() {
		if isMounted(dir) {
			exec.Command("fusermount3", "-u", "-z", dir).Run()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("from the daemon"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := string(getObject(t, s.S3(t), b, "f")); got != "from the daemon" {
		t.Errorf("S3 f: %q", got)
	}
	if out, err := exec.Command("fusermount3", "-u", dir).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u: %v %s", err, out)
	}
	waitGone(t, pid, 30*time.Second)

	// A failure is reported by the command itself.
	out, err = exec.Command(strataBin, "mount", "--endpoint", "http://127.0.0.1:1", "--timeout", "2s", b, dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot list") {
		t.Errorf("background mount of an unreachable endpoint: %v %s", err, out)
	}
	if isMounted(dir) {
		t.Errorf("%s mounted after a failed mount", dir)
	}
}

// findMountProcess finds the background strata mount serving dir.
func findMountProcess(t *testing.T, dir string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[0] == strataBin && args[1] == "mount" && bytes.Contains(b, []byte(dir)) {
			return pid
		}
	}
	t.Fatalf("no strata mount process for %s", dir)
	return 0
}

// waitGone waits until pid has exited (a zombie counts: PID 1 may reap late).
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if f := strings.Fields(string(b)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("process %d still running %v after the unmount", pid, d)
}

// TestInterrupt: Ctrl-C on a foreground mount stores what open files hold;
// with files open it refuses to go, and a second Ctrl-C detaches it.
func TestInterrupt(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "interrupt")
	c := s.S3(t)
	m := mountBucket(t, s, b)
	f, err := os.Create(m.path("open.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("written, not closed"))
	m.cmd.Process.Signal(syscall.SIGINT)
	// The data of the open file is stored, and the mount stays (busy).
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(m.logs.String(), "cannot unmount") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := string(getObject(t, c, b, "open.txt")); got != "written, not closed" {
		t.Errorf("S3 open.txt after Ctrl-C: %q", got)
	}
	if !isMounted(m.Dir) || m.exited() {
		t.Fatalf("the mount went away with a file open")
	}
	f.Write([]byte("; and more"))
	f.Close()
	if got := string(getObject(t, c, b, "open.txt")); got != "written, not closed; and more" {
		t.Errorf("S3 open.txt after close: %q", got)
	}
	// Nothing open now: Ctrl-C unmounts and the process exits 0.
	m.cmd.Process.Signal(syscall.SIGINT)
	if !m.wait(30 * time.Second) {
		t.Fatalf("strata mount still running 30s after a Ctrl-C with nothing open")
	}
	if code := m.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after Ctrl-C", code)
	}
	if isMounted(m.Dir) {
		t.Errorf("still mounted after Ctrl-C")
	}
}

// TestConfigInProcess mounts a bucket of a configuration file in process:
// no server, objects are the files of the dir backend.
func TestConfigInProcess(t *testing.T) {
	root := filepath.Join(t.TempDir(), "nas")
	os.MkdirAll(filepath.Join(root, "local", "old"), 0o755)
	os.WriteFile(filepath.Join(root, "local", "old", "before.txt"), []byte("there before"), 0o644)
	cfg := filepath.Join(t.TempDir(), "strata.yaml")
	os.WriteFile(cfg, []byte("backends:\n  nas: {type: dir, path: "+root+"}\ndefault: nas\n"), 0o644)
	m := mountArgs(t, nil, "local", "mount", "--foreground", "--config", cfg, "--cache-dir", t.TempDir())
	if got := sh(t, m.Dir, `cat old/before.txt`); got != "there before" {
		t.Errorf("cat old/before.txt: %q", got)
	}
	sh(t, m.Dir, `mkdir -p new/dir && head -c 20000000 /dev/urandom > new/dir/big && echo hi > new/small && mv old renamed`)
	sh(t, m.Dir, `cmp new/dir/big `+filepath.Join(root, "local", "new", "dir", "big"))
	if b, err := os.ReadFile(filepath.Join(root, "local", "renamed", "before.txt")); err != nil || string(b) != "there before" {
		t.Errorf("renamed on disk: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "local", "old")); !os.IsNotExist(err) {
		t.Errorf("old/ still on disk: %v", err)
	}
	if out, err := shErr(m.Dir, `rmdir new`); err == nil || !strings.Contains(out, "not empty") {
		t.Errorf("rmdir new: %v %s", err, out)
	}
	sh(t, m.Dir, `rm -r new renamed && test -z "$(ls -A)"`)
}

// TestUsage: bad arguments fail with a message, before mounting anything.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mount"}, "accepts 2 arg"},
		{[]string{"mount", "--foreground", "x", dir}, "not a valid bucket name"},
		{[]string{"mount", "--foreground", "bucket", filepath.Join(dir, "missing")}, "not a directory"},
		{[]string{"mount", "--foreground", "--cache-size", "lots", "bucket", dir}, "--cache-size"},
		{[]string{"mount", "--foreground", "--part-size", "1MiB", "bucket", dir}, "--part-size"},
		{[]string{"mount", "--foreground", "--config", "/nonexistent.yaml", "bucket", dir}, "nonexistent.yaml"},
	} {
		out, err := exec.Command(strataBin, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("strata %s: %v %q, want an error with %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	out, err := exec.Command(strataBin, "mount", "--help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--read-only", "--allow-other", "--uid", "--gid", "--foreground", "--cache-dir",
		"--cache-size", "--attr-ttl", "--dir-ttl", "--posix-attrs", "--config", "--endpoint", "--timeout"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("strata mount --help does not mention %s", flag)
		}
	}
}
