package erasure

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
)

// Two sets: moves within a set and across sets.
func TestSuiteTwoSets(t *testing.T) {
	s, _ := newStore(t, 8, Options{SetSize: 4, Parity: 1, NoSync: true})
	backendtest.Run(t, func(t *testing.T) backends.Backend { return s })
}

// keysOnSets returns a key placed on the same set as "src" and one placed
// on another.
func keysOnSets(t *testing.T, s *Store, bucket string) (same, other string) {
	for i := 0; same == "" || other == ""; i++ {
		k := fmt.Sprintf("dst-%d", i)
		if s.setFor(bucket, k) == s.setFor(bucket, "src") {
			if same == "" {
				same = k
			}
		} else if other == "" {
			other = k
		}
		if i > 1000 {
			t.Fatal("no keys on both sets")
		}
	}
	return same, other
}

func TestMoveSets(t *testing.T) {
	s, paths := newStore(t, 8, Options{SetSize: 4, Parity: 1, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	same, other := keysOnSets(t, s, "b")
	for _, size := range []int{0, 1000, 3<<20 + 5} {
		data := rnd(size)
		meta := backends.Meta{ContentType: "x/y", Sys: map[string]string{"sse-key": "k"}}
		for _, dst := range []string{same, other} {
			m := meta
			if _, err := s.PutObject(ctx, "b", "src", bytes.NewReader(data), backends.PutOptions{Meta: &m}); err != nil {
				t.Fatal(err)
			}
			before, _ := s.HeadObject(ctx, "b", "src")
			var inodes []os.FileInfo
			if size > InlineLimit {
				for _, f := range shardFiles(t, paths, "b", "src") {
					fi, _ := os.Stat(f)
					inodes = append(inodes, fi)
				}
			}
			if err := s.MoveObject(ctx, "b", "src", dst); err != nil {
				t.Fatalf("size %d to %s: %v", size, dst, err)
			}
			if got := get(t, s, "b", dst); string(got) != string(data) {
				t.Fatalf("size %d to %s: data differs", size, dst)
			}
			after, _ := s.HeadObject(ctx, "b", dst)
			if after.ETag != before.ETag || !after.ModTime.Equal(before.ModTime) || after.Sys["sse-key"] != "k" || after.ContentType != "x/y" {
				t.Fatalf("size %d to %s: %+v, was %+v", size, dst, after.Meta, before.Meta)
			}
			if _, err := s.HeadObject(ctx, "b", "src"); !backends.Is(err, backends.NoSuchKey) {
				t.Fatalf("src after the move: %v", err)
			}
			if dst == same && size > InlineLimit {
				// The shards were linked, not copied.
				moved := shardFiles(t, paths, "b", dst)
				for _, fi := range inodes {
					found := false
					for _, f := range moved {
						mi, _ := os.Stat(f)
						found = found || os.SameFile(fi, mi)
					}
					if !found {
						t.Fatalf("a shard file of src was copied, not linked")
					}
				}
			}
			if err := s.DeleteObject(ctx, "b", dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Nothing left behind: staging empty, no object folders.
	for _, p := range paths {
		if left, _ := os.ReadDir(filepath.Join(p, SysDir, "tmp")); len(left) > 0 {
			t.Fatalf("staging not cleaned on %s: %v", p, left)
		}
		if left, _ := os.ReadDir(filepath.Join(p, "b")); len(left) > 0 {
			t.Fatalf("object folders left on %s: %v", p, left)
		}
	}
}

// A move with a drive of the set gone, and then back: the object reads,
// and heal puts its shards on the drive that missed the move.
func TestMoveDegraded(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	data := rnd(2<<20 + 3)
	if err := put(t, s, "b", "src", data); err != nil {
		t.Fatal(err)
	}
	// One drive loses its shard of src, another is gone during the move.
	for _, f := range shardFiles(t, []string{paths[0]}, "b", "src") {
		os.Remove(f)
	}
	os.Rename(paths[1], paths[1]+".gone")
	if err := s.MoveObject(ctx, "b", "src", "dst"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "b", "dst"); string(got) != string(data) {
		t.Fatal("data differs after a degraded move")
	}
	os.Rename(paths[1]+".gone", paths[1])
	if _, err := s.HealObject(ctx, "b", "dst"); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths[:2] {
		if m, _ := filepath.Glob(filepath.Join(p, "b", "dst", "~*", "part.1")); len(m) != 1 {
			t.Fatalf("heal did not rebuild the shard on %s: %v", p, m)
		}
	}
	if got := get(t, s, "b", "dst"); string(got) != string(data) {
		t.Fatal("data differs after heal")
	}
}
