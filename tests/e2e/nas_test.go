package e2e

import (
	"bytes"
	"errors"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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
	script := serviceScript("samba.sh")
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

	shareFlows(t, s, c, share, "share", 21)

	// Windows-forbidden names are refused, not mangled.
	a := filepath.Join(t.TempDir(), "a.txt")
	must(t, os.WriteFile(a, []byte("a"), 0o644), "write")
	if _, err := s.awsCLI(t, "", "s3", "cp", a, "s3://docs/bad:name.txt"); err == nil {
		t.Fatal("a key with ':' was stored on an SMB share")
	}
}

// TestNFSShare runs the strata binary over NFS-Ganesha. Like the tests of
// backends/nfs, the test binary runs itself again through
// tests/services/ganesha.sh, inside a private network namespace where
// rpcbind and ganesha listen on loopback; the server and the aws CLI run
// there too.
func TestNFSShare(t *testing.T) {
	if ganeshaDir == "" {
		runInGanesha(t, "^TestNFSShare$")
		return
	}
	export := filepath.Join(ganeshaDir, "export")
	must(t, os.MkdirAll(filepath.Join(export, "docs", "2024"), 0o755), "mkdir")
	must(t, os.WriteFile(filepath.Join(export, "docs", "2024", "report.txt"), []byte("placed on the export"), 0o644), "write")

	conf := filepath.Join(t.TempDir(), "strata.yaml")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
backends:
  filer: {type: nfs, host: 127.0.0.1, export: %s, timeout: 5s}
default: filer
`, export)), 0o644), "write config")
	s := startServer(t, withConfig(conf))
	c := s.S3(t)

	shareFlows(t, s, c, export, "export", 22)
	_, err := s.awsCLI(t, "", "s3", "cp", "s3://docs/upload/big.bin", "s3://docs/copy/big.bin")
	must(t, err, "s3 cp (server-side copy)")
	wantObject(t, c, "docs", "copy/big.bin", getBytes(t, c, "docs", "upload/big.bin"))

	// The filer stops: requests fail within the timeout with a 503-class
	// error, not a hang; once it is back, they succeed again.
	ganesha := serviceScript("ganesha.sh")
	if out, err := exec.Command(ganesha, "stop", ganeshaDir).CombinedOutput(); err != nil {
		t.Fatalf("ganesha.sh stop: %v\n%s", err, out)
	}
	start := time.Now()
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("docs"), Key: aws.String("tree/a.txt")})
	took := time.Since(start)
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() < 500 {
		t.Fatalf("GET with the filer stopped: %v (want a 5xx answer)", err)
	}
	if took > 40*time.Second {
		t.Fatalf("GET with the filer stopped took %v", took)
	}
	t.Logf("GET with the filer stopped: %d after %v", re.HTTPStatusCode(), took.Round(time.Millisecond))
	if out, err := exec.Command(ganesha, "restart", ganeshaDir).CombinedOutput(); err != nil {
		t.Fatalf("ganesha.sh restart: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("docs"), Key: aws.String("after.txt"),
			Body: bytes.NewReader([]byte("after the restart"))})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PUT after the filer came back: %v", err)
		}
		time.Sleep(time.Second)
	}
	wantObject(t, c, "docs", "after.txt", []byte("after the restart"))
	got, err := os.ReadFile(filepath.Join(export, "docs", "after.txt"))
	if err != nil || string(got) != "after the restart" {
		t.Fatalf("after.txt on the export: %q, %v", got, err)
	}
}

// serviceScript is the path of a script in tests/services.
func serviceScript(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "services", name)
}

// runInGanesha runs the tests matching pattern again inside
// tests/services/ganesha.sh run, reusing the strata binary built already.
func runInGanesha(t *testing.T, pattern string) {
	if _, err := exec.LookPath("ganesha.nfsd"); err != nil {
		t.Fatal("NFS-Ganesha is not installed: run tests/services/ganesha.sh install (make test does)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the NFS tests need root: ganesha.sh starts rpcbind and ganesha in a private network namespace")
	}
	args := []string{"run", os.Args[0], "-test.run", pattern, "-test.v"}
	cmd := exec.CommandContext(t.Context(), serviceScript("ganesha.sh"), args...)
	cmd.Env = append(append(os.Environ(), "STRATA_E2E_BIN="+strataBin), benchEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || testing.Verbose() {
		t.Log(out.String())
	}
	if err != nil {
		t.Fatalf("the run inside the namespace failed: %v", err)
	}
}

// shareFlows checks Strata over a share whose folder root holds
// docs/2024/report.txt, "placed on the "+what: the file is listed and
// read; the aws CLI's cp (a multipart upload) and sync both ways make
// plain files with the same bytes.
func shareFlows(t *testing.T, s *server, c *s3.Client, root, what string, seed uint64) {
	t.Helper()
	out, err := s.awsCLI(t, "", "s3", "ls", "--recursive", "s3://docs")
	must(t, err, "s3 ls")
	if !strings.Contains(out, "2024/report.txt") {
		t.Fatalf("the file placed on the %s is not listed:\n%s", what, out)
	}
	wantObject(t, c, "docs", "2024/report.txt", []byte("placed on the "+what))

	// The aws CLI writes (a multipart upload for the big file): plain files
	// on the share with the same bytes.
	work := t.TempDir()
	big := randBytes(seed, 12<<20)
	must(t, os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644), "write")
	_, err = s.awsCLI(t, "", "s3", "cp", filepath.Join(work, "big.bin"), "s3://docs/upload/big.bin")
	must(t, err, "s3 cp")
	got, err := os.ReadFile(filepath.Join(root, "docs", "upload", "big.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the object is not a plain file with the same bytes on the %s: %v", what, err)
	}

	up := filepath.Join(work, "tree")
	for i, name := range []string{"a.txt", "sub/b.txt", "sub/deep/c.txt"} {
		p := filepath.Join(up, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
		must(t, os.WriteFile(p, randBytes(uint64(i), 1000+i), 0o644), "write")
	}
	_, err = s.awsCLI(t, "", "s3", "sync", up, "s3://docs/tree/")
	must(t, err, "sync up")
	sameTree(t, treeFiles(t, filepath.Join(root, "docs", "tree"), nil), treeFiles(t, up, nil))
	down := filepath.Join(work, "down")
	_, err = s.awsCLI(t, "", "s3", "sync", "s3://docs/tree/", down)
	must(t, err, "sync down")
	sameTree(t, treeFiles(t, down, nil), treeFiles(t, up, nil))
}
