package erasure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
)

func put(t *testing.T, s *Store, bucket, key string, data []byte) error {
	t.Helper()
	sum := md5.Sum(data)
	_, err := s.PutObject(t.Context(), bucket, key, bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{ETag: hex.EncodeToString(sum[:])}})
	return err
}

func get(t *testing.T, s *Store, bucket, key string) []byte {
	t.Helper()
	rc, _, err := s.GetObject(t.Context(), bucket, key, nil)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// mixed stores objects of every kind and returns their contents.
func mixed(t *testing.T, s *Store, bucket string) map[string][]byte {
	t.Helper()
	objs := map[string][]byte{
		"empty":       nil,
		"one":         rnd(1),
		"inline":      rnd(100 << 10),
		"block":       rnd(1 << 20),
		"blocks/many": rnd(3<<20 + 12345),
		"dir/":        nil,
	}
	for k, v := range objs {
		if err := put(t, s, bucket, k, v); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	ctx := t.Context()
	id, err := s.CreateMultipartUpload(ctx, bucket, "multi", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := rnd(5<<20+7), rnd(777)
	for i, p := range [][]byte{p1, p2} {
		if _, err := s.UploadPart(ctx, bucket, "multi", id, i+1, bytes.NewReader(p), &backends.Meta{ETag: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CompleteMultipartUpload(ctx, bucket, "multi", id, []int{1, 2}, backends.PutOptions{Meta: &backends.Meta{ETag: "m-2"}}); err != nil {
		t.Fatal(err)
	}
	objs["multi"] = append(append([]byte(nil), p1...), p2...)
	return objs
}

func checkAll(t *testing.T, s *Store, bucket string, objs map[string][]byte) {
	t.Helper()
	for k, want := range objs {
		if got := get(t, s, bucket, k); !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes differ from the %d written", k, len(got), len(want))
		}
	}
	// A range inside a later block reads right too.
	want := objs["blocks/many"]
	rc, _, err := s.GetObject(t.Context(), bucket, "blocks/many", &backends.Range{Start: 2<<20 + 5, End: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want[2<<20+5:3<<20+1]) {
		t.Fatal("range read differs")
	}
}

func TestDrivesLost(t *testing.T) {
	for _, tc := range []struct{ drives, parity int }{{4, 2}, {6, 3}, {8, 4}} {
		t.Run(fmt.Sprintf("%d-drives-parity-%d", tc.drives, tc.parity), func(t *testing.T) {
			s, paths := newStore(t, tc.drives, Options{Parity: tc.parity, NoSync: true})
			ctx := t.Context()
			if err := s.CreateBucket(ctx, "b1"); err != nil {
				t.Fatal(err)
			}
			objs := mixed(t, s, "b1")
			// Lose drives up to parity, at run time.
			for i := 0; i < tc.parity; i++ {
				os.Rename(paths[i*2%tc.drives], paths[i*2%tc.drives]+".gone")
			}
			checkAll(t, s, "b1", objs)
			res, err := s.ListObjects(ctx, "b1", backends.ListOptions{})
			if err != nil || len(res.Objects) != len(objs) {
				t.Fatalf("list with drives lost: %d objects, %v", len(res.Objects), err)
			}
			// Restart with the drives missing: Open accepts it.
			s.Close()
			s2, err := open(t, paths, Options{Parity: tc.parity, NoSync: true})
			if err != nil {
				t.Fatalf("Open with %d drives missing: %v", tc.parity, err)
			}
			checkAll(t, s2, "b1", objs)

			// One more lost: writes fail with a clear error and leave
			// nothing; reads fail rather than return wrong data.
			extra := paths[1]
			if tc.parity*2%tc.drives == 1 {
				extra = paths[3]
			}
			os.Rename(extra, extra+".gone")
			err = put(t, s, "b1", "new-big", rnd(2<<20))
			if !backends.Is(err, backends.Unavailable) || !strings.Contains(err.Error(), "write quorum not met") {
				t.Fatalf("put below quorum: %v", err)
			}
			err = put(t, s, "b1", "new-small", rnd(10))
			if !backends.Is(err, backends.Unavailable) {
				t.Fatalf("small put below quorum: %v", err)
			}
			for k, want := range objs {
				rc, _, err := s.GetObject(ctx, "b1", k, nil)
				if err != nil {
					continue
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err == nil && !bytes.Equal(got, want) {
					t.Fatalf("%s: wrong data below read quorum", k)
				}
			}
			os.Rename(extra+".gone", extra)
			for _, p := range paths {
				if strings.HasSuffix(p, ".gone") {
					continue
				}
				left, _ := os.ReadDir(filepath.Join(p, SysDir, "tmp"))
				if len(left) > 0 {
					t.Fatalf("staging not cleaned on %s: %v", p, left)
				}
				for _, k := range []string{"new-big", "new-small"} {
					if _, err := os.Stat(filepath.Join(p, "b1", k)); err == nil {
						t.Fatalf("%s left behind on %s", k, p)
					}
				}
			}
		})
	}
}

// shardFiles returns the part files of an object across drives.
func shardFiles(t *testing.T, paths []string, bucket, key string) []string {
	var out []string
	for _, p := range paths {
		m, _ := filepath.Glob(filepath.Join(p, bucket, key, "~*", "part.*"))
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("no shard files for %s", key)
	}
	return out
}

func flip(t *testing.T, path string, off int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x40
	f.WriteAt(b, off)
}

func TestBitrot(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	objs := map[string][]byte{}
	for i := range 100 {
		k := fmt.Sprintf("o/%03d", i)
		objs[k] = rnd(200<<10 + i*30000)
		if err := put(t, s, "b", k, objs[k]); err != nil {
			t.Fatal(err)
		}
	}
	var flipped []string
	buf := make([]byte, 8)
	for k := range objs {
		files := shardFiles(t, paths, "b", k)
		rand.Read(buf)
		f := files[int(buf[0])%len(files)]
		fi, _ := os.Stat(f)
		flip(t, f, int64(buf[1])<<16%fi.Size())
		flipped = append(flipped, f)
	}
	for k, want := range objs {
		if got := get(t, s, "b", k); !bytes.Equal(got, want) {
			t.Fatalf("%s: corrupt data returned", k)
		}
	}
	// Reads touch data shards only: flips in parity shards are found by
	// HealObject's deep check, not by a GET.
	if q := s.HealQueue(); len(q) == 0 || len(q) > len(objs) {
		t.Fatalf("heal queue holds %d objects", len(q))
	}
	before := map[string][]byte{}
	for _, f := range flipped {
		before[f], _ = os.ReadFile(f)
	}
	for k := range objs {
		r, err := s.HealObject(ctx, "b", k)
		if err != nil || r.Healed != 1 {
			t.Fatalf("HealObject(%s): %+v, %v", k, r, err)
		}
	}
	for _, f := range flipped {
		after, _ := os.ReadFile(f)
		if bytes.Equal(after, before[f]) || !verifyShardFile(f, mustMeta(t, filepath.Dir(filepath.Dir(f))).Erasure, mustMeta(t, filepath.Dir(filepath.Dir(f))).Meta.Size) {
			t.Fatalf("%s not repaired", f)
		}
	}
	if q := s.HealQueue(); len(q) != 0 {
		t.Fatalf("heal queue after healing: %d", len(q))
	}
	// Now lose two other drives: everything still reads, so the repaired
	// shards are right.
	for k, want := range objs {
		if r, _ := s.HealObject(ctx, "b", k); r.Healed != 0 {
			t.Fatalf("%s healed twice", k)
		}
		_ = want
	}
}

func mustMeta(t *testing.T, objDir string) *version {
	v, err := readVersion(objDir)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestInlineBitrot(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	data := rnd(50 << 10)
	put(t, s, "b", "small", data)
	// Corrupt one drive's inline shard inside a valid meta.json.
	objDir := filepath.Join(paths[1], "b", "small")
	v := mustMeta(t, objDir)
	v.Inline[hashSize+10] ^= 1
	mb, _ := encodeMeta([]version{*v})
	os.WriteFile(filepath.Join(objDir, metaName), mb, 0o644)
	if got := get(t, s, "b", "small"); !bytes.Equal(got, data) {
		t.Fatal("corrupt inline data returned")
	}
	if r, err := s.HealObject(ctx, "b", "small"); err != nil || r.Healed != 1 {
		t.Fatalf("HealObject: %+v %v", r, err)
	}
	if !verifyFrame(mustMeta(t, objDir).Inline) {
		t.Fatal("inline shard not repaired")
	}
	// A corrupt meta.json (checksum) is treated as missing and rewritten.
	os.WriteFile(filepath.Join(objDir, metaName), bytes.Replace(mb, []byte(`"null"`), []byte(`"nulL"`), 1), 0o644)
	if got := get(t, s, "b", "small"); !bytes.Equal(got, data) {
		t.Fatal("read with a corrupt meta.json")
	}
	if r, err := s.HealObject(ctx, "b", "small"); err != nil || r.Healed != 1 {
		t.Fatalf("HealObject(corrupt meta): %+v %v", r, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	paths := drivePaths(t, 4)
	s, err := open(t, paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Shuffled.
	sh := []string{paths[1], paths[0], paths[2], paths[3]}
	if _, err := open(t, sh, Options{}); err == nil || !strings.Contains(err.Error(), "shuffled") {
		t.Fatalf("shuffled drives: %v", err)
	}
	// Foreign drive.
	other := drivePaths(t, 4)
	if s, err = open(t, other, Options{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	mixedPaths := []string{paths[0], paths[1], other[2], paths[3]}
	if _, err := open(t, mixedPaths, Options{}); err == nil || !strings.Contains(err.Error(), "another deployment") {
		t.Fatalf("foreign drive: %v", err)
	}
	// Too many missing.
	os.Rename(paths[0], paths[0]+".x")
	os.Rename(paths[1], paths[1]+".x")
	os.Rename(paths[2], paths[2]+".x")
	if _, err := open(t, paths, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("3 of 4 missing: %v", err)
	}
	// Non-empty unformatted drive.
	junk := drivePaths(t, 1)
	os.WriteFile(filepath.Join(junk[0], "file"), []byte("x"), 0o644)
	if _, err := open(t, junk, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-empty drive: %v", err)
	}
	// Bad set count.
	if _, err := open(t, drivePaths(t, 17), Options{}); err == nil {
		t.Fatal("17 drives accepted")
	}
	// Sets of 16 over 32 drives.
	s, _ = newStore(t, 32, Options{NoSync: true})
	if n, size := s.Sets(); n != 2 || size != 16 {
		t.Fatalf("32 drives: %d sets of %d", n, size)
	}
}

func TestReplacedDrive(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b1")
	s.PutBucketConfig(ctx, "b1", "cors", []byte("doc"))
	objs := mixed(t, s, "b1")
	// Wipe drive 2 and put an empty one in its place.
	os.RemoveAll(paths[2])
	os.Mkdir(paths[2], 0o755)
	s.Close()
	s, err := open(t, paths, Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatalf("Open with a fresh drive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(paths[2], FormatFile)); err != nil {
		t.Fatal("replacement drive not formatted")
	}
	var last, total int
	sum, err := s.HealAll(ctx, func(done, tot int) { last, total = done, tot })
	if err != nil || sum.Healed != len(objs) || last != total || total != len(objs) {
		t.Fatalf("HealAll: %+v %v (progress %d/%d)", sum, err, last, total)
	}
	if got, _ := os.ReadFile(filepath.Join(paths[2], SysDir, "buckets", "b1", "cfg.cors")); string(got) != "doc" {
		t.Fatal("bucket document not healed")
	}
	// Now lose the two other drives that are not the healed one.
	os.Rename(paths[0], paths[0]+".gone")
	os.Rename(paths[1], paths[1]+".gone")
	checkAll(t, s, "b1", objs)
}

func TestWriteCleansUp(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 1, NoSync: true})
	ctx, cancel := context.WithCancel(t.Context())
	s.CreateBucket(ctx, "b")
	r := io.MultiReader(bytes.NewReader(rnd(3<<20)), readerFunc(func([]byte) (int, error) { cancel(); return 0, fmt.Errorf("gone") }))
	if _, err := s.PutObject(ctx, "b", "k", r, backends.PutOptions{}); err == nil {
		t.Fatal("no error")
	}
	for _, p := range paths {
		if left, _ := os.ReadDir(filepath.Join(p, SysDir, "tmp")); len(left) > 0 {
			t.Fatalf("left in staging: %v", left)
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Heal of a bucket and prefix, on a drive wiped at run time: the empty
// drive is formatted and refilled; an object with too few intact shards is
// reported unrecoverable, not healed.
func TestHealOptions(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	s.CreateBucket(ctx, "c")
	for _, k := range []string{"x/1", "x/2", "y/1"} {
		put(t, s, "b", k, rnd(300<<10))
		put(t, s, "c", k, rnd(10))
	}
	put(t, s, "b", "z/broken", rnd(2<<20))
	ents, _ := os.ReadDir(paths[3])
	for _, e := range ents {
		os.RemoveAll(filepath.Join(paths[3], e.Name()))
	}
	if st := s.Status(); st.Sets[0].Online != 3 || st.Drives[3].State != DriveOffline {
		t.Fatalf("status after wipe: %+v", st)
	}
	sum, err := s.Heal(ctx, HealOptions{Bucket: "b", Prefix: "x/"})
	if err != nil || sum.Buckets != 1 || sum.Total != 2 || sum.Objects != 2 || sum.Healed != 2 || sum.Shards != 2 {
		t.Fatalf("Heal b/x/: %+v %v", sum, err)
	}
	if _, err := os.Stat(filepath.Join(paths[3], "b", "x", "1", metaName)); err != nil {
		t.Fatal("b/x/1 not healed on the wiped drive")
	}
	if _, err := os.Stat(filepath.Join(paths[3], "b", "y", "1")); err == nil {
		t.Fatal("b/y/1 healed outside the prefix")
	}
	// Damage three of the four shards of z/broken.
	files := shardFiles(t, paths[:3], "b", "z/broken")
	for _, f := range files {
		flip(t, f, 100)
	}
	var problems []HealProblem
	sum, err = s.Heal(ctx, HealOptions{Problem: func(p HealProblem) { problems = append(problems, p) }})
	if err != nil || sum.Buckets != 2 || sum.Objects != 7 || sum.Healed != 4 || sum.Unrecoverable != 1 || sum.Failed != 0 {
		t.Fatalf("Heal: %+v %v", sum, err)
	}
	if len(problems) != 1 || problems[0].Key != "z/broken" || !problems[0].Unrecoverable || !errors.Is(problems[0].Err, ErrUnrecoverable) {
		t.Fatalf("problems: %+v", problems)
	}
	if _, err := s.Heal(ctx, HealOptions{Bucket: "nothere"}); !backends.Is(err, backends.NoSuchBucket) {
		t.Fatalf("Heal of a missing bucket: %v", err)
	}
	// A data dir left by a crash between the renames of a publish goes.
	orphan := filepath.Join(paths[0], "b", "x", "1", "~0c2ae3d4-orphan")
	os.MkdirAll(orphan, 0o755)
	os.WriteFile(filepath.Join(orphan, "part.1"), []byte("x"), 0o644)
	if r, err := s.HealObject(ctx, "b", "x/1"); err != nil || r.Healed != 0 {
		t.Fatalf("HealObject: %+v %v", r, err)
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Fatal("orphan data dir not removed")
	}
	if got := get(t, s, "b", "x/1"); len(got) != 300<<10 {
		t.Fatal("object damaged by the cleanup")
	}
}

// Objects written while drives are offline get that much more parity (up
// to half the set): they survive as many further losses as objects
// written on the whole set.
func TestParityRaisedWhileOffline(t *testing.T) {
	paths := drivePaths(t, 8)
	s, err := open(t, paths, Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	whole := rnd(3 << 20)
	put(t, s, "b", "whole", whole)
	if v := mustMeta(t, filepath.Join(paths[0], "b", "whole")); v.Erasure.Parity != 2 {
		t.Fatalf("parity on the whole set: %d", v.Erasure.Parity)
	}
	// Restart with two drives missing: they are offline from the start.
	for _, i := range []int{1, 4} {
		if err := os.Rename(paths[i], paths[i]+".gone"); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s2, err := open(t, paths, Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{"big": rnd(3 << 20), "small": rnd(1000)}
	for k, data := range objs {
		if err := put(t, s2, "b", k, data); err != nil {
			t.Fatal(err)
		}
		if v := mustMeta(t, filepath.Join(paths[0], "b", k)); v.Erasure.Parity != 4 || v.Erasure.Data != 4 {
			t.Fatalf("%s written with 2 drives offline: %d data + %d parity, want 4 + 4", k, v.Erasure.Data, v.Erasure.Parity)
		}
	}
	// Parity is capped at half the set: a third drive goes offline at
	// run time.
	lose := func(s *Store, i int) {
		t.Helper()
		if err := os.Rename(paths[i], paths[i]+".gone"); err != nil {
			t.Fatal(err)
		}
		for _, d := range s.sets[0].drives {
			if d.path == paths[i] {
				d.setOffline("removed by the test")
				return
			}
		}
		t.Fatalf("no drive %s", paths[i])
	}
	lose(s2, 6)
	if err := put(t, s2, "b", "capped", rnd(2<<20)); err != nil {
		t.Fatal(err)
	}
	if v := mustMeta(t, filepath.Join(paths[0], "b", "capped")); v.Erasure.Parity != 4 {
		t.Fatalf("parity with 3 of 8 drives offline: %d, want 4 (half the set)", v.Erasure.Parity)
	}
	// A fourth drive lost: the objects written with the raised parity
	// still read; the one written with parity 2 cannot.
	lose(s2, 7)
	s4 := s2
	for k, want := range objs {
		if got := get(t, s4, "b", k); !bytes.Equal(got, want) {
			t.Fatalf("%s: wrong data with four drives lost", k)
		}
	}
	if rc, _, err := s4.GetObject(ctx, "b", "whole", nil); err == nil {
		got, err := io.ReadAll(rc)
		rc.Close()
		if err == nil && !bytes.Equal(got, whole) {
			t.Fatal("wrong data for the object with parity 2")
		}
	}
}

// A second store on the same drives is refused while the first holds them,
// before it touches anything (its start-up would empty the first one's
// staging area); the lock goes with Close, and a drive wiped and formatted
// again at run time is locked anew.
func TestDriveLock(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true, ProbeInterval: 20 * time.Millisecond})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	staged := filepath.Join(paths[0], SysDir, "tmp", "in-flight")
	if err := os.WriteFile(staged, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, paths, Options{Parity: 2, NoSync: true}); err == nil || !strings.Contains(err.Error(), "in use by another Strata process") || !strings.Contains(err.Error(), paths[0]) {
		t.Fatalf("second store on the same drives: %v", err)
	}
	if _, err := os.Stat(staged); err != nil {
		t.Fatal("the refused store emptied the first one's staging area")
	}
	// Only one drive shared is enough.
	other := drivePaths(t, 3)
	if _, err := open(t, append(other, paths[3]), Options{Parity: 2, NoSync: true}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a store with one drive of another: %v", err)
	}
	locked := func(p string) bool {
		f, err := os.OpenFile(filepath.Join(p, SysDir, LockFile), os.O_RDWR, 0)
		if err != nil {
			return false
		}
		defer f.Close()
		return lockFile(f) == errLocked
	}
	wipe(t, paths[2])
	waitState(t, s, 2, DriveOnline)
	waitFor(t, "the wiped drive to be locked again", func() bool { return locked(paths[2]) })
	if err := put(t, s, "b", "k", rnd(1000)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, p := range paths {
		if locked(p) {
			t.Fatalf("%s still locked after Close", p)
		}
	}
	s2, err := open(t, paths, Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if got := get(t, s2, "b", "k"); len(got) != 1000 {
		t.Fatal("object lost")
	}
}
