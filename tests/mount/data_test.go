//go:build linux

package mount

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestSourceTree unpacks a tarball of 3000 files of Go's own source tree
// into the mount and compares it with the same tarball unpacked on disk.
func TestSourceTree(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	var files []string
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && len(files) < 3000 {
			rel, _ := filepath.Rel(src, p)
			files = append(files, rel)
		}
		return nil
	})
	if len(files) < 3000 {
		t.Fatalf("found only %d files under %s", len(files), src)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "list"), []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, work, `tar -cf src.tar -C `+src+` -T list && mkdir orig && tar -xf src.tar -C orig`)
	fi, _ := os.Stat(filepath.Join(work, "src.tar"))
	t.Logf("tarball: %d files, %d MiB", len(files), fi.Size()>>20)

	s := startServer(t, "")
	b := s.bucket(t, "gosrc")
	m := mountBucket(t, s, b)
	d := timed(t, "tar -x of 3000 files into the mount", func() { sh(t, m.Dir, `tar -xf `+work+`/src.tar`) })
	t.Logf("%.0f files/s", float64(len(files))/d.Seconds())
	timed(t, "diff -r against the original", func() { sh(t, m.Dir, `diff -r `+work+`/orig .`) })
	if n := len(keys(t, s.S3(t), b, "")); n < len(files) {
		t.Errorf("the bucket has %d keys, want at least %d", n, len(files))
	}
	// A fresh mount reads everything back from the store.
	m.unmount()
	m2 := mountBucket(t, s, b)
	timed(t, "diff -r through a fresh mount", func() { sh(t, m2.Dir, `diff -r `+work+`/orig .`) })
}

// TestThroughS3 writes through the mount and reads through S3, and the
// reverse, byte for byte.
func TestThroughS3(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "both")
	c := s.S3(t)
	m := mountBucket(t, s, b, "--dir-ttl", "1s", "--attr-ttl", "1s")

	sizes := []int{0, 1, 4095, 1 << 20, 8<<20 - 1, 8 << 20, 8<<20 + 1, 21 << 20}
	for i, n := range sizes {
		data := randBytes(uint64(i), n)
		name := fmt.Sprintf("in/f%d", n)
		os.MkdirAll(m.path("in"), 0o755)
		if err := os.WriteFile(m.path(name), data, 0o644); err != nil {
			t.Fatalf("writing %s: %v", name, err)
		}
		if got := getObject(t, c, b, name); !bytes.Equal(got, data) {
			t.Errorf("%s through S3: %d bytes, want %d (equal %v)", name, len(got), n, bytes.Equal(got, data))
		}
	}
	for i, n := range sizes {
		data := randBytes(uint64(100+i), n)
		name := fmt.Sprintf("out/f%d", n)
		putObject(t, c, b, name, data)
		got, err := os.ReadFile(m.path(name))
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s through the mount: %d bytes, want %d", name, len(got), n)
		}
	}
	// An object replaced through S3 shows its new content once the
	// attribute TTL has passed.
	putObject(t, c, b, "out/f1", []byte("replaced"))
	time.Sleep(1100 * time.Millisecond)
	if got, _ := os.ReadFile(m.path("out/f1")); string(got) != "replaced" {
		t.Errorf("out/f1 after a change through S3: %q", got)
	}
	// Keys that only exist as prefixes are directories.
	putObject(t, c, b, "deep/er/est/file", []byte("x"))
	time.Sleep(1100 * time.Millisecond)
	if got := sh(t, m.Dir, `find deep | sort`); got != "deep\ndeep/er\ndeep/er/est\ndeep/er/est/file\n" {
		t.Errorf("find deep: %q", got)
	}
}

// TestConcurrentReaders reads one file with many readers at once.
func TestConcurrentReaders(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "readers")
	data := randBytes(7, 48<<20)
	putObject(t, s.S3(t), b, "shared.bin", data)
	m := mountBucket(t, s, b)
	const readers = 16
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	timed(t, fmt.Sprintf("%d readers of a 48 MiB file", readers), func() {
		for i := range readers {
			wg.Go(func() {
				f, err := os.Open(m.path("shared.bin"))
				if err != nil {
					errs <- err
					return
				}
				defer f.Close()
				var got []byte
				if i%2 == 0 {
					got, err = io.ReadAll(f)
				} else {
					// Odd readers read backwards in 1 MiB steps.
					got = make([]byte, len(data))
					for off := len(data) - 1<<20; off >= 0 && err == nil; off -= 1 << 20 {
						_, err = f.ReadAt(got[off:off+1<<20], int64(off))
					}
				}
				if err != nil {
					errs <- err
				} else if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("reader %d got different bytes", i)
				}
			})
		}
		wg.Wait()
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRenameDirectory renames a directory tree: every key moves.
func TestRenameDirectory(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "rename")
	c := s.S3(t)
	m := mountBucket(t, s, b)
	want := map[string][]byte{}
	for i := range 120 {
		rel := fmt.Sprintf("d%d/f%03d", i%4, i)
		want[rel] = randBytes(uint64(i), 1000+i)
		putObject(t, c, b, "proj/"+rel, want[rel])
	}
	big := randBytes(99, 12<<20)
	putObject(t, c, b, "proj/big.bin", big)
	sh(t, m.Dir, `mkdir proj/emptydir && echo local > proj/d0/written-here`)
	timed(t, "mv of a directory of 123 objects (12 MiB)", func() { sh(t, m.Dir, `mv proj renamed`) })
	if got := keys(t, c, b, "proj"); len(got) != 0 {
		t.Errorf("keys left under proj/: %v", got)
	}
	got := keys(t, c, b, "renamed/")
	if len(got) != 123 {
		t.Errorf("renamed/ has %d keys, want 123 (120 files, big.bin, emptydir/, written-here)", len(got))
	}
	for rel, data := range want {
		if g, err := os.ReadFile(m.path("renamed", rel)); err != nil || !bytes.Equal(g, data) {
			t.Errorf("renamed/%s: %v", rel, err)
		}
	}
	if g := getObject(t, c, b, "renamed/big.bin"); !bytes.Equal(g, big) {
		t.Errorf("renamed/big.bin differs")
	}
	if got := sh(t, m.Dir, `cat renamed/d0/written-here; test -d renamed/emptydir && echo dir`); got != "local\ndir\n" {
		t.Errorf("after mv: %q", got)
	}
	// Over an empty directory it works; over a full one it does not.
	sh(t, m.Dir, `mkdir target && mv renamed/d1 target/ && mkdir e && mv renamed/d2 e2 && mv e2 e`)
	if out, err := shErr(m.Dir, `mkdir full && touch full/x && mv -T renamed/d3 full`); err == nil {
		t.Errorf("mv over a full directory worked: %s", out)
	}
}

// TestLargeFile copies a 1 GiB file in and out and compares it.
func TestLargeFile(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "large")
	work := t.TempDir()
	src := filepath.Join(work, "big.bin")
	const size = 1 << 30
	sum := writeRandomFile(t, src, 1, size)
	m := mountBucket(t, s, b)
	d := timed(t, "cp of 1 GiB into the mount", func() { sh(t, work, `cp big.bin `+m.Dir+`/big.bin`) })
	t.Logf("write: %.0f MiB/s", size/d.Seconds()/(1<<20))
	// Read it back through a fresh mount, so that nothing comes from the
	// kernel's page cache.
	m.unmount()
	m2 := mountBucket(t, s, b)
	d = timed(t, "cp of 1 GiB out of the mount", func() { sh(t, work, `cp `+m2.Dir+`/big.bin out.bin`) })
	t.Logf("read: %.0f MiB/s", size/d.Seconds()/(1<<20))
	sh(t, work, `cmp big.bin out.bin`)
	if got := sha256File(t, filepath.Join(s.Dir, b, "big.bin")); got != sum {
		t.Errorf("the stored file differs")
	}
}

// TestServerDiesDuringRead: a read in flight when the server stops
// answering (SIGSTOP) or dies (SIGKILL) fails with EIO within the timeout
// instead of hanging, and the mount still unmounts cleanly.
func TestServerDiesDuringRead(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGSTOP, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startServer(t, "")
			b := s.bucket(t, "dies")
			putObject(t, s.S3(t), b, "big.bin", randBytes(3, 96<<20))
			m := mountBucket(t, s, b, "--timeout", "3s")
			f, err := os.Open(m.path("big.bin"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 1<<20)
			if _, err := io.ReadFull(f, buf); err != nil {
				t.Fatalf("first read: %v", err)
			}
			s.cmd.Process.Signal(sig)
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				var err error
				for err == nil {
					_, err = f.Read(buf)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, syscall.EIO) {
					t.Errorf("read after %v: %v, want EIO", sig, err)
				}
				t.Logf("read failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			case <-time.After(30 * time.Second):
				t.Fatalf("read still blocked 30s after %v", sig)
			}
			// Other calls fail too, rather than hang.
			start = time.Now()
			_, err = os.Stat(m.path("no-such-file"))
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("stat with the server gone: %v, want EIO", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("stat took %v", d)
			}
			f.Close()
			s.cmd.Process.Signal(syscall.SIGCONT)
		})
	}
}

// TestPrefixMount mounts a prefix of a bucket: only it shows, and new
// files land below it.
func TestPrefixMount(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "photos")
	c := s.S3(t)
	putObject(t, c, b, "2023/old.jpg", []byte("old"))
	putObject(t, c, b, "2024/a.jpg", []byte("a"))
	putObject(t, c, b, "2024/trip/b.jpg", []byte("b"))
	m := mountBucket(t, s, b+"/2024")
	if got := sh(t, m.Dir, `find . | sort`); got != ".\n./a.jpg\n./trip\n./trip/b.jpg\n" {
		t.Errorf("find in the prefix mount: %q", got)
	}
	sh(t, m.Dir, `echo new > new.jpg && mkdir d && mv a.jpg d/`)
	want := []string{"2023/old.jpg", "2024/d/", "2024/d/a.jpg", "2024/new.jpg", "2024/trip/b.jpg"}
	if got := keys(t, c, b, ""); !slices.Equal(got, want) {
		t.Errorf("keys: %v, want %v", got, want)
	}
}

// TestReadOnly: --read-only refuses every change with EROFS.
func TestReadOnly(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "readonly")
	putObject(t, s.S3(t), b, "f", []byte("data"))
	m := mountBucket(t, s, b, "--read-only")
	if got := sh(t, m.Dir, `cat f`); got != "data" {
		t.Errorf("cat f: %q", got)
	}
	for _, cmd := range []string{"echo x > f", "echo x > g", "mkdir d", "rm f", "mv f g", "touch f"} {
		out, err := shErr(m.Dir, cmd)
		if err == nil || !strings.Contains(out, "Read-only file system") {
			t.Errorf("%s: %v %q, want EROFS", cmd, err, out)
		}
	}
}

// TestPosixAttrs: with --posix-attrs, chmod, chown and mtime are kept in
// metadata and come back in a new mount.
func TestPosixAttrs(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "posix")
	c := s.S3(t)
	m := mountBucket(t, s, b, "--posix-attrs")
	sh(t, m.Dir, `echo x > f && chmod 0751 f && chown 1234:5678 f && touch -m -d '2001-02-03 04:05:06 UTC' f &&
		mkdir d && chmod 0700 d && (umask 077 && echo y > private)`)
	head, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("f")})
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := map[string]string{"mode": "33257", "uid": "1234", "gid": "5678", "mtime": "981173106"}
	for k, v := range wantMeta {
		if head.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, head.Metadata[k], v, head.Metadata)
		}
	}
	m.unmount()
	m2 := mountBucket(t, s, b, "--posix-attrs")
	got := sh(t, m2.Dir, `stat -c '%n %a %u %g %Y' f d private`)
	want := "f 751 1234 5678 981173106\nd 700 0 0 "
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "private 600 ") {
		t.Errorf("stat in a new mount:\n%s\nwant to start with:\n%s", got, want)
	}
}

// TestWritePatterns: writes in place, holes, O_APPEND, reading a file
// being written, fsync that stores before returning.
func TestWritePatterns(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "patterns")
	c := s.S3(t)
	m := mountBucket(t, s, b)

	// fsync returns once the object holds what was written, file open.
	f, err := os.Create(m.path("synced"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("first part;"))
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if got := string(getObject(t, c, b, "synced")); got != "first part;" {
		t.Errorf("after fsync S3 has %q", got)
	}
	f.Write([]byte("second part"))
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if got := string(getObject(t, c, b, "synced")); got != "first part;second part" {
		t.Errorf("after the second fsync S3 has %q", got)
	}
	f.Close()

	// Random writes with a hole, and reads while writing.
	want := make([]byte, 30<<20)
	f, err = os.OpenFile(m.path("random"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range []int{5 << 20, 0, 29 << 20, 12345, 17<<20 + 7} {
		p := randBytes(uint64(i), 1<<20)
		if off+len(p) > len(want) {
			p = p[:len(want)-off]
		}
		copy(want[off:], p)
		if _, err := f.WriteAt(p, int64(off)); err != nil {
			t.Fatalf("WriteAt %d: %v", off, err)
		}
	}
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("reading back the open file: %v, equal %v", err, bytes.Equal(got, want))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, c, b, "random"); !bytes.Equal(got, want) {
		t.Errorf("S3 random: %d bytes, equal %v", len(got), bytes.Equal(got, want))
	}

	// O_APPEND to an existing object.
	putObject(t, c, b, "app", []byte("abc"))
	f, err = os.OpenFile(m.path("app"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("def"))
	f.Close()
	if got := string(getObject(t, c, b, "app")); got != "abcdef" {
		t.Errorf("after append: %q", got)
	}

	// A file written in order then read while open switches to the
	// cache file transparently.
	f, err = os.OpenFile(m.path("rw"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(5, 20<<20)
	f.Write(data[:10<<20])
	back := make([]byte, 10<<20)
	if _, err := f.ReadAt(back, 0); err != nil || !bytes.Equal(back, data[:10<<20]) {
		t.Errorf("read while writing: %v", err)
	}
	f.Write(data[10<<20:])
	f.Close()
	if got := getObject(t, c, b, "rw"); !bytes.Equal(got, data) {
		t.Errorf("S3 rw: %d bytes, equal %v", len(got), bytes.Equal(got, data))
	}

	// Errors: ENOENT, ENOTDIR, EISDIR, ENOTEMPTY.
	if _, err := os.Open(m.path("missing")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("open missing: %v", err)
	}
	if err := os.Mkdir(m.path("synced", "x"), 0o755); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("mkdir under a file: %v", err)
	}
	os.Mkdir(m.path("dir"), 0o755)
	if err := os.WriteFile(m.path("dir"), nil, 0o644); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("write to a directory: %v", err)
	}
	os.WriteFile(m.path("dir", "f"), nil, 0o644)
	if err := os.Remove(m.path("dir")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir full: %v", err)
	}
}

// TestCacheLimit: a write past --cache-size fails with ENOSPC.
func TestCacheLimit(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "cachelimit")
	m := mountBucket(t, s, b, "--cache-size", "8MiB")
	f, err := os.OpenFile(m.path("f"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Written at an offset: through the cache file.
	if _, err := f.WriteAt(make([]byte, 4<<20), 1<<20); err != nil {
		t.Fatalf("write within the limit: %v", err)
	}
	if _, err := f.WriteAt(make([]byte, 4<<20), 6<<20); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write past the limit: %v, want ENOSPC", err)
	}
	// Streamed writes do not use the cache.
	if err := os.WriteFile(m.path("streamed"), make([]byte, 20<<20), 0o644); err != nil {
		t.Errorf("a streamed 20 MiB file with an 8 MiB cache: %v", err)
	}
}

// TestManyFilesInOneDirectory lists, through a real server, a directory
// of several listing pages.
func TestManyFilesInOneDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	big := filepath.Join(dir, "many", "big")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	// The server serves files that are already on disk.
	const n = 3500
	for i := range n {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("file-%05d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, dir)
	m := mountBucket(t, s, "many")
	var out string
	timed(t, fmt.Sprintf("ls -l of %d files", n), func() { out = sh(t, m.Dir, `ls -l big | tail -n +2 | wc -l`) })
	if strings.TrimSpace(out) != fmt.Sprint(n) {
		t.Errorf("ls -l | wc -l: %s, want %d", out, n)
	}
	if got := sh(t, m.Dir, `ls big > /tmp/ls.$$ && head -2 /tmp/ls.$$ && tail -1 /tmp/ls.$$; rm /tmp/ls.$$`); got != "file-00000\nfile-00001\nfile-03499\n" {
		t.Errorf("ls: %q", got)
	}
}

// vmHWM is the peak resident memory of a process.
func vmHWM(t testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
