package erasure

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-storage/strata/backends"
)

const (
	idA = "0000000000000000000000000000000a"
	idB = "0000000000000000000000000000000b"
	idC = "0000000000000000000000000000000c"
)

func getVersion(t *testing.T, s *Store, key, id string) []byte {
	t.Helper()
	rc, in, err := s.GetVersion(t.Context(), "b", key, id, nil)
	if err != nil {
		t.Fatalf("GetVersion(%s, %s): %v", key, id, err)
	}
	defer rc.Close()
	if in.VersionID != id && id != "" {
		t.Fatalf("GetVersion(%s, %s) says version %s", key, id, in.VersionID)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s@%s: %v", key, id, err)
	}
	return b
}

func listIDs(t *testing.T, s *Store, opts backends.VersionListOptions) []string {
	t.Helper()
	res, err := s.ListVersions(t.Context(), "b", opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range res.Versions {
		id := v.Key + "@" + v.VersionID
		if v.DeleteMarker {
			id += "(dm)"
		}
		if v.IsLatest {
			id += "*"
		}
		out = append(out, id)
	}
	return out
}

// TestVersions: the versions of a key live in its meta.json on every drive,
// each with its own data, and survive losing drives; heal rebuilds the
// noncurrent ones too.
func TestVersions(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	small, big, null := rnd(1000), rnd(3<<20+17), rnd(200<<10)
	if _, err := s.PutVersion(ctx, "b", "k", idA, bytes.NewReader(small), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutVersion(ctx, "b", "k", idB, bytes.NewReader(big), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if in, err := s.PutDeleteMarker(ctx, "b", "k", idC); err != nil || !in.DeleteMarker || !in.IsLatest {
		t.Fatalf("PutDeleteMarker: %+v %v", in, err)
	}
	// The newest is a delete marker: the plain view has no object.
	if _, err := s.HeadObject(ctx, "b", "k"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("HeadObject under a delete marker: %v", err)
	}
	if in, err := s.HeadVersion(ctx, "b", "k", ""); !backends.Is(err, backends.NoSuchKey) || !in.DeleteMarker || in.VersionID != idC {
		t.Fatalf("HeadVersion(newest marker): %+v %v", in, err)
	}
	if _, err := s.HeadVersion(ctx, "b", "k", idC); !backends.Is(err, backends.MethodNotAllowed) {
		t.Fatalf("HeadVersion(marker by ID): %v", err)
	}
	if res, _ := s.ListObjects(ctx, "b", backends.ListOptions{}); len(res.Objects) != 0 {
		t.Fatalf("ListObjects shows a key under a delete marker: %+v", res.Objects)
	}
	if err := s.DeleteBucket(ctx, "b"); !backends.Is(err, backends.NotEmpty) {
		t.Fatalf("DeleteBucket with versions: %v", err)
	}
	// A plain PUT writes the null version on top; a second replaces it.
	if err := put(t, s, "b", "k", rnd(10)); err != nil {
		t.Fatal(err)
	}
	if err := put(t, s, "b", "k", null); err != nil {
		t.Fatal(err)
	}
	want := []string{"k@null*", "k@" + idC + "(dm)", "k@" + idB, "k@" + idA}
	if got := listIDs(t, s, backends.VersionListOptions{}); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("versions %v, want %v", got, want)
	}
	// Pages of one entry go through the versions of the key in order.
	var paged []string
	opts := backends.VersionListOptions{MaxKeys: 1}
	for {
		res, err := s.ListVersions(ctx, "b", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Versions {
			paged = append(paged, v.VersionID)
		}
		if !res.IsTruncated {
			break
		}
		opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
	if strings.Join(paged, " ") != strings.Join([]string{"null", idC, idB, idA}, " ") {
		t.Fatalf("paged versions %v", paged)
	}
	// One meta.json per drive holds them all; no other object exists.
	for _, p := range paths {
		vs, err := readVersionsAt(filepath.Join(p, "b", "k"))
		if err != nil || len(vs) != 4 {
			t.Fatalf("%s: %d versions, %v", p, len(vs), err)
		}
		ents, _ := os.ReadDir(filepath.Join(p, "b"))
		if len(ents) != 1 {
			t.Fatalf("%s: bucket holds %d entries, want the key's folder only", p, len(ents))
		}
	}
	check := func() {
		t.Helper()
		if !bytes.Equal(getVersion(t, s, "k", idA), small) || !bytes.Equal(getVersion(t, s, "k", idB), big) ||
			!bytes.Equal(getVersion(t, s, "k", "null"), null) || !bytes.Equal(get(t, s, "b", "k"), null) {
			t.Fatal("a version reads back wrong")
		}
	}
	check()

	// Two drives wiped and replaced: every version still reads; heal
	// refills them, and the versions then survive losing the other two.
	for _, i := range []int{0, 1} {
		os.RemoveAll(paths[i])
		os.Mkdir(paths[i], 0o755)
	}
	s.Close()
	s, err := open(t, paths, Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	check()
	if res, err := s.HealObject(ctx, "b", "k"); err != nil || res.Healed != 2 {
		t.Fatalf("HealObject: %+v %v", res, err)
	}
	if s.needsHeal("b", "k") {
		t.Fatal("the scanner still finds work after heal")
	}
	os.Rename(paths[2], paths[2]+".gone")
	os.Rename(paths[3], paths[3]+".gone")
	check()
	os.Rename(paths[2]+".gone", paths[2])
	os.Rename(paths[3]+".gone", paths[3])

	// Removing versions removes their data; the last one removes the key.
	s.Close()
	s, err = open(t, paths, Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	dataDirs := func() int {
		ents, _ := os.ReadDir(filepath.Join(paths[0], "b", "k"))
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "~") {
				n++
			}
		}
		return n
	}
	if n := dataDirs(); n != 2 { // B's and the null version's
		t.Fatalf("%d data dirs, want 2", n)
	}
	if in, err := s.DeleteVersion(ctx, "b", "k", idB); err != nil || in.VersionID != idB {
		t.Fatalf("DeleteVersion(B): %+v %v", in, err)
	}
	if n := dataDirs(); n != 1 {
		t.Fatalf("%d data dirs after deleting B, want 1", n)
	}
	if _, err := s.DeleteVersion(ctx, "b", "k", idB); !backends.Is(err, backends.NoSuchVersion) {
		t.Fatalf("DeleteVersion(B) again: %v", err)
	}
	if err := s.DeleteObject(ctx, "b", "k"); err != nil { // the null version
		t.Fatal(err)
	}
	if in, err := s.HeadVersion(ctx, "b", "k", ""); !in.DeleteMarker || !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("newest after deleting null: %+v %v", in, err)
	}
	if in, err := s.DeleteVersion(ctx, "b", "k", idC); err != nil || !in.DeleteMarker {
		t.Fatalf("DeleteVersion(marker): %+v %v", in, err)
	}
	if !bytes.Equal(get(t, s, "b", "k"), small) {
		t.Fatal("A is not current after the marker went")
	}
	if _, err := s.DeleteVersion(ctx, "b", "k", idA); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(p, "b", "k")); !os.IsNotExist(err) {
			t.Fatalf("%s: the key's folder is left: %v", p, err)
		}
	}
	if err := s.DeleteBucket(ctx, "b"); err != nil {
		t.Fatalf("DeleteBucket when empty: %v", err)
	}
}

// TestVersionChangeWithDriveOffline: a change of a noncurrent version made
// while a drive is away gives the lists a new identity, so the stale
// drive's list is not counted with the others, and heal brings it up.
func TestVersionChangeWithDriveOffline(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 1, NoSync: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	a, b := rnd(500), rnd(2<<20)
	s.PutVersion(ctx, "b", "k", idA, bytes.NewReader(a), backends.PutOptions{})
	s.PutVersion(ctx, "b", "k", idB, bytes.NewReader(b), backends.PutOptions{})
	os.Rename(paths[3], paths[3]+".gone")
	if _, err := s.DeleteVersion(ctx, "b", "k", idA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateVersionMeta(ctx, "b", "k", idB, backends.Meta{Tags: map[string]string{"t": "1"}}); err != nil {
		t.Fatal(err)
	}
	os.Rename(paths[3]+".gone", paths[3])
	s.Close()
	s, err := open(t, paths, Options{Parity: 1, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if !s.needsHeal("b", "k") {
		t.Fatal("the stale drive is not noticed")
	}
	if got := listIDs(t, s, backends.VersionListOptions{}); strings.Join(got, " ") != "k@"+idB+"*" {
		t.Fatalf("versions %v", got)
	}
	if res, err := s.HealObject(ctx, "b", "k"); err != nil || res.Healed != 1 {
		t.Fatalf("HealObject: %+v %v", res, err)
	}
	vs, err := readVersionsAt(filepath.Join(paths[3], "b", "k"))
	if err != nil || len(vs) != 1 || vs[0].ID != idB || vs[0].Meta.Tags["t"] != "1" {
		t.Fatalf("healed drive: %+v %v", vs, err)
	}
	// The healed drive and two others read B without the fourth.
	os.Rename(paths[0], paths[0]+".gone")
	if !bytes.Equal(getVersion(t, s, "k", idB), b) {
		t.Fatal("B reads back wrong")
	}
}
