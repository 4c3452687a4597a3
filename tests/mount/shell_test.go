//go:build linux

package mount

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestShellFlows drives one mount with the tools people use on files: ls
// -l, cat, cp -r, mv, rm -r, mkdir, find, tar x, rsync, dd, an editor's
// write-then-rename, appends, truncate; and checks the objects through S3.
func TestShellFlows(t *testing.T) {
	s := startServer(t, "")
	b := s.bucket(t, "shell")
	c := s.S3(t)
	m := mountBucket(t, s, b)
	work := t.TempDir()

	t.Run("mkdir-cat-ls", func(t *testing.T) {
		sh(t, m.Dir, `mkdir -p a/b/c && echo hello > a/b/c/f.txt`)
		if got := sh(t, m.Dir, `cat a/b/c/f.txt`); got != "hello\n" {
			t.Errorf("cat: %q", got)
		}
		out := sh(t, m.Dir, `ls -l a/b/c`)
		if !strings.Contains(out, "-rw-r--r--") || !strings.Contains(out, " 6 ") || !strings.Contains(out, "f.txt") {
			t.Errorf("ls -l a/b/c:\n%s", out)
		}
		if got := string(getObject(t, c, b, "a/b/c/f.txt")); got != "hello\n" {
			t.Errorf("S3 a/b/c/f.txt: %q", got)
		}
		// mkdir leaves a folder marker per level.
		want := []string{"a/", "a/b/", "a/b/c/", "a/b/c/f.txt"}
		if got := keys(t, c, b, "a/"); !slices.Equal(got, want) {
			t.Errorf("keys after mkdir -p: %v, want %v", got, want)
		}
		if out, err := shErr(m.Dir, `rmdir a/b/c`); err == nil || !strings.Contains(out, "Directory not empty") {
			t.Errorf("rmdir of a full directory: %v %s", err, out)
		}
		if out, err := shErr(m.Dir, `cat a/nothing`); err == nil || !strings.Contains(out, "No such file") {
			t.Errorf("cat of a missing file: %v %s", err, out)
		}
		if out, err := shErr(m.Dir, `ln -s f.txt a/b/c/link`); err == nil {
			t.Errorf("ln -s worked; want an error: %s", out)
		}
		sh(t, m.Dir, `rm a/b/c/f.txt && rmdir a/b/c a/b a`)
		if got := keys(t, c, b, "a"); len(got) != 0 {
			t.Errorf("keys left after rm and rmdir: %v", got)
		}
	})

	t.Run("cp-r-find-diff-mv-rm-r", func(t *testing.T) {
		src := filepath.Join(work, "tree")
		sh(t, work, `mkdir -p tree/x/y tree/empty && echo one > tree/1.txt && echo two > tree/x/2.txt &&
			head -c 3000000 /dev/urandom > tree/x/y/big.bin && : > tree/x/zero`)
		sh(t, m.Dir, `cp -r `+src+` tree`)
		sh(t, m.Dir, `diff -r `+src+` tree`)
		got := sh(t, m.Dir, `cd tree && find . | sort`)
		want := ".\n./1.txt\n./empty\n./x\n./x/2.txt\n./x/y\n./x/y/big.bin\n./x/zero\n"
		if got != want {
			t.Errorf("find:\n%s\nwant:\n%s", got, want)
		}
		if got := getObject(t, c, b, "tree/x/zero"); len(got) != 0 {
			t.Errorf("empty file stored with %d bytes", len(got))
		}
		sh(t, m.Dir, `mv tree/1.txt tree/x/one.txt && mv tree/x/y tree/z`)
		wantKeys := []string{"tree/", "tree/empty/", "tree/x/", "tree/x/2.txt", "tree/x/one.txt", "tree/x/zero", "tree/z/", "tree/z/big.bin"}
		if got := keys(t, c, b, "tree/"); !slices.Equal(got, wantKeys) {
			t.Errorf("keys after mv: %v\nwant %v", got, wantKeys)
		}
		sh(t, m.Dir, `cmp tree/z/big.bin `+src+`/x/y/big.bin`)
		sh(t, m.Dir, `rm -r tree`)
		if got := keys(t, c, b, "tree"); len(got) != 0 {
			t.Errorf("keys after rm -r: %v", got)
		}
		if out := sh(t, m.Dir, `ls -A`); strings.TrimSpace(out) != "" {
			t.Errorf("ls -A after rm -r: %q", out)
		}
	})

	t.Run("tar-x", func(t *testing.T) {
		sh(t, work, `mkdir -p t/d1/d2 && echo a > t/d1/a && echo b > t/d1/d2/b && head -c 9000000 /dev/urandom > t/big && tar -cf t.tar -C t .`)
		sh(t, m.Dir, `mkdir untar && tar -xf `+work+`/t.tar -C untar && diff -r `+work+`/t untar`)
	})

	t.Run("rsync", func(t *testing.T) {
		if _, err := exec.LookPath("rsync"); err != nil {
			t.Fatalf("rsync is missing: apt-get install rsync, or run tests/install-deps.sh")
		}
		sh(t, work, `mkdir -p rs/sub && for i in $(seq 1 20); do echo file $i > rs/f$i; done && head -c 7000000 /dev/urandom > rs/sub/big`)
		sh(t, m.Dir, `rsync -a `+work+`/rs/ rsync/ && diff -r `+work+`/rs rsync`)
		// Again after a change: rsync rewrites through a temp file and a rename.
		sh(t, work, `echo changed >> rs/f3 && head -c 100 /dev/urandom >> rs/sub/big`)
		sh(t, m.Dir, `rsync -a `+work+`/rs/ rsync/ && diff -r `+work+`/rs rsync`)
		for _, k := range keys(t, c, b, "rsync/") {
			if strings.Contains(k, "/.") {
				t.Errorf("rsync temp file left: %s", k)
			}
		}
	})

	t.Run("dd", func(t *testing.T) {
		sh(t, work, `head -c 20000000 /dev/urandom > dd.src && cp dd.src dd.want &&
			head -c 65536 /dev/urandom > patch && dd if=patch of=dd.want bs=4096 seek=1000 conv=notrunc status=none`)
		sh(t, m.Dir, `dd if=`+work+`/dd.src of=dd.bin bs=1M status=none && cmp dd.bin `+work+`/dd.src`)
		// A write into the middle of an existing file goes through the cache file.
		sh(t, m.Dir, `dd if=`+work+`/patch of=dd.bin bs=4096 seek=1000 conv=notrunc status=none && cmp dd.bin `+work+`/dd.want`)
		want, _ := os.ReadFile(filepath.Join(work, "dd.want"))
		if got := getObject(t, c, b, "dd.bin"); !bytes.Equal(got, want) {
			t.Errorf("S3 dd.bin differs after the write in place")
		}
	})

	t.Run("editor-save", func(t *testing.T) {
		// What vim and most editors do: write a new file, then rename it
		// over the old one.
		sh(t, m.Dir, `printf 'version 1\n' > notes.txt && printf 'version 2\n' > .notes.txt.swp && mv -f .notes.txt.swp notes.txt`)
		if got := sh(t, m.Dir, `cat notes.txt; ls -A | grep -c swp || true`); got != "version 2\n0\n" {
			t.Errorf("after save: %q", got)
		}
		if got := string(getObject(t, c, b, "notes.txt")); got != "version 2\n" {
			t.Errorf("S3 notes.txt: %q", got)
		}
		// sed -i: a temp file in the same directory, renamed over.
		sh(t, m.Dir, `sed -i 's/2/3/' notes.txt`)
		if got := string(getObject(t, c, b, "notes.txt")); got != "version 3\n" {
			t.Errorf("S3 notes.txt after sed -i: %q", got)
		}
	})

	t.Run("append-truncate", func(t *testing.T) {
		sh(t, m.Dir, `for i in 1 2 3; do echo line $i >> log.txt; done`)
		if got := string(getObject(t, c, b, "log.txt")); got != "line 1\nline 2\nline 3\n" {
			t.Errorf("S3 log.txt after appends: %q", got)
		}
		sh(t, m.Dir, `truncate -s 4 log.txt`)
		if got := string(getObject(t, c, b, "log.txt")); got != "line" {
			t.Errorf("S3 log.txt after truncate -s 4: %q", got)
		}
		sh(t, m.Dir, `truncate -s 10 log.txt && test $(stat -c %s log.txt) = 10`)
		if got := getObject(t, c, b, "log.txt"); !bytes.Equal(got, []byte("line\x00\x00\x00\x00\x00\x00")) {
			t.Errorf("S3 log.txt after truncate -s 10: %q", got)
		}
		sh(t, m.Dir, `: > log.txt && test $(stat -c %s log.txt) = 0 && touch new-empty`)
		if got := getObject(t, c, b, "log.txt"); len(got) != 0 {
			t.Errorf("S3 log.txt after : >: %q", got)
		}
		if got := getObject(t, c, b, "new-empty"); len(got) != 0 {
			t.Errorf("S3 new-empty: %q", got)
		}
	})
}
