package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clientTree writes the tree the client tests copy: small files, a file
// large enough for multipart uploads at a 5 MiB part size, a name with a
// space and one that is not ASCII.
func clientTree(t *testing.T) string {
	dir := t.TempDir()
	for name, size := range map[string]int64{"f1.bin": 1000, "f2.bin": 2000, "f3.bin": 3000, "sub/big.bin": 12<<20 + 7,
		"sub/deep/space name.txt": 3, "ünï.txt": 2} {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
		writeRandomFile(t, p, uint64(size), size)
	}
	return dir
}

// TestRclone drives rclone, the tool many NAS and backup users reach for,
// over the directory and the erasure backend: a tree copied with multipart
// uploads and checked by MD5, synced with a change and a deletion, server-
// side moves and copies, ranged reads, listing and a purge.
func TestRclone(t *testing.T) {
	for _, backend := range []string{"dir", "erasure"} {
		t.Run(backend, func(t *testing.T) {
			var opts []serverOption
			if backend == "erasure" {
				pattern, _ := erasureDrives(t, 4)
				opts = append(opts, withDir(pattern))
			}
			s := startServer(t, opts...)
			conf := filepath.Join(t.TempDir(), "rclone.conf")
			must(t, os.WriteFile(conf, []byte(fmt.Sprintf("[st]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\n",
				accessKey, secretKey, s.URL, region)), 0o600), "rclone.conf")
			rc := func(args ...string) string {
				return runTool(t, "rclone", append([]string{"--config", conf, "--retries", "1", "--low-level-retries", "1"}, args...)...)
			}
			src := clientTree(t)
			rc("mkdir", "st:rcb")
			rc("copy", src, "st:rcb", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
			if out := rc("check", src, "st:rcb"); !strings.Contains(out, "0 differences found") || !strings.Contains(out, "6 matching files") {
				t.Fatalf("rclone check after copy:\n%s", out)
			}

			// A change and a deletion, synced.
			writeRandomFile(t, filepath.Join(src, "f1.bin"), 99, 1500)
			must(t, os.Remove(filepath.Join(src, "f2.bin")), "remove")
			rc("sync", src, "st:rcb", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
			if out := rc("check", src, "st:rcb"); !strings.Contains(out, "0 differences found") || !strings.Contains(out, "5 matching files") {
				t.Fatalf("rclone check after sync:\n%s", out)
			}

			// Server-side move and copy, and a ranged read.
			rc("moveto", "st:rcb/f3.bin", "st:rcb/moved/f3.bin")
			rc("copyto", "st:rcb/sub/big.bin", "st:rcb/big-copy.bin")
			want, err := os.ReadFile(filepath.Join(src, "sub/big.bin"))
			must(t, err, "read big.bin")
			if got := rc("cat", "st:rcb/big-copy.bin", "--offset", "5242878", "--count", "10"); got != string(want[5242878:5242888]) {
				t.Fatalf("rclone cat of a range across a part boundary: %q, want %q", got, want[5242878:5242888])
			}
			got := strings.Fields(rc("lsf", "-R", "--files-only", "st:rcb"))
			wantList := []string{"big-copy.bin", "f1.bin", "moved/f3.bin", "sub/big.bin", "sub/deep/space", "name.txt", "ünï.txt"}
			if strings.Join(got, "|") != strings.Join(wantList, "|") {
				t.Fatalf("rclone lsf -R: %q, want %q", got, wantList)
			}
			md5s := rc("md5sum", "st:rcb/sub")
			if !strings.Contains(md5s, "big.bin") || !strings.Contains(md5s, md5Hex(want)) {
				t.Fatalf("rclone md5sum of a multipart object:\n%s\nwant %s", md5s, md5Hex(want))
			}
			rc("purge", "st:rcb")
			if out := rc("lsd", "st:"); strings.Contains(out, " rcb\n") || strings.HasSuffix(strings.TrimSpace(out), " rcb") {
				t.Fatalf("bucket left after purge:\n%s", out)
			}
		})
	}
}

// TestS3cmd drives s3cmd: buckets, a multipart put and get, a sync, copies
// and moves, info (the ACL it shows), a refused public ACL, and a
// recursive delete.
func TestS3cmd(t *testing.T) {
	s := startServer(t)
	host := strings.TrimPrefix(s.URL, "http://")
	conf := filepath.Join(t.TempDir(), "s3cfg")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = False\nsignature_v2 = False\nbucket_location = %s\n",
		accessKey, secretKey, host, host, region)), 0o600), "s3cfg")
	sc := func(args ...string) string { return runTool(t, "s3cmd", append([]string{"-c", conf}, args...)...) }
	src := clientTree(t)
	sc("mb", "s3://s3c")
	sc("put", filepath.Join(src, "sub/big.bin"), "s3://s3c/big.bin", "--multipart-chunk-size-mb=5")
	out := filepath.Join(t.TempDir(), "big.out")
	sc("get", "s3://s3c/big.bin", out)
	want, err := os.ReadFile(filepath.Join(src, "sub/big.bin"))
	must(t, err, "read big.bin")
	got, err := os.ReadFile(out)
	must(t, err, "read big.out")
	if !bytes.Equal(got, want) {
		t.Fatalf("s3cmd get of a multipart object: %d bytes differ from the %d put", len(got), len(want))
	}
	sc("sync", src+"/", "s3://s3c/tree/")
	if ls := sc("ls", "-r", "s3://s3c/tree/"); strings.Count(ls, "s3://s3c/tree/") != 6 || !strings.Contains(ls, "space name.txt") {
		t.Fatalf("s3cmd ls -r after sync:\n%s", ls)
	}
	sc("cp", "s3://s3c/tree/f1.bin", "s3://s3c/copy.bin")
	sc("mv", "s3://s3c/copy.bin", "s3://s3c/moved.bin")
	if info := sc("info", "s3://s3c/moved.bin"); !strings.Contains(info, "File size: 1000") || !strings.Contains(info, "FULL_CONTROL") {
		t.Fatalf("s3cmd info:\n%s", info)
	}
	if out, err := tryTool(t, "s3cmd", "-c", conf, "setacl", "--acl-public", "s3://s3c/moved.bin"); err == nil || !strings.Contains(out, "AccessControlListNotSupported") {
		t.Fatalf("s3cmd setacl --acl-public: %v\n%s", err, out)
	}
	sc("del", "--recursive", "--force", "s3://s3c")
	sc("rb", "s3://s3c")
	if ls := sc("ls"); strings.Contains(ls, "s3://s3c") {
		t.Fatalf("bucket left after rb:\n%s", ls)
	}
}
