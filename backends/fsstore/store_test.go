package fsstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/fsstore"
)

// The whole suite over an FS that is not package os.
func TestSuiteMemFS(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		s, err := fsstore.New(newMemFS(), fsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Xattrs() {
			t.Fatal("memFS has no xattrs")
		}
		return s
	})
}

// A clock with whole seconds: rewrites of the same size get the same stamp
// unless the Store moves the new file's mtime.
func TestSuiteCoarseClock(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		m := newMemFS()
		m.coarse = true
		s, err := fsstore.New(m, fsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A page after a marker reads the folders on the marker's path and what it
// returns, not the tree from the start.
func TestListSeeks(t *testing.T) {
	m := newMemFS()
	s, err := fsstore.New(m, fsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	for d := range 30 {
		for f := range 20 {
			key := fmt.Sprintf("top/d%02d/sub/f%02d", d, f)
			if _, err := s.PutObject(ctx, "bkt", key, nil, backends.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		opts    backends.ListOptions
		first   string
		maxDirs int64
	}{
		// bucket, top, d20, d20/sub
		{backends.ListOptions{Marker: "top/d20/sub/f05", MaxKeys: 10}, "top/d20/sub/f06", 4},
		// the page ends in d21: + d21, d21/sub
		{backends.ListOptions{Marker: "top/d20/sub/f15", MaxKeys: 10}, "top/d20/sub/f16", 6},
		// start at the prefix's folder: top/d07, top/d07/sub
		{backends.ListOptions{Prefix: "top/d07/", MaxKeys: 5}, "top/d07/sub/f00", 2},
		// one level: top, then one read per prefix returned (to see that
		// it holds a key) plus the one after the page.
		{backends.ListOptions{Prefix: "top/", Delimiter: "/", Marker: "top/d10/", MaxKeys: 3}, "top/d11/", 1 + 4*2},
	} {
		m.readDirs.Store(0)
		res, err := s.ListObjects(ctx, "bkt", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		first := ""
		if len(res.Objects) > 0 {
			first = res.Objects[0].Key
		} else if len(res.Prefixes) > 0 {
			first = res.Prefixes[0]
		}
		if first != tc.first || !res.IsTruncated {
			t.Fatalf("%+v: first %q, truncated %v", tc.opts, first, res.IsTruncated)
		}
		t.Logf("%+v: %d folders read", tc.opts, m.readDirs.Load())
		if n := m.readDirs.Load(); n > tc.maxDirs {
			t.Errorf("%+v: %d folders read, want at most %d", tc.opts, n, tc.maxDirs)
		}
	}
}

// failRename fails the renames onto bucket paths: a crash after the
// sidecar was written and before the data was renamed.
type failRename struct {
	fsstore.FS
	fail bool
}

func (f *failRename) Rename(oldname, newname string) error {
	if f.fail && strings.HasPrefix(newname, "bkt/") {
		return errors.New("injected: power cut")
	}
	return f.FS.Rename(oldname, newname)
}

// After a failed publish, the old object keeps its own metadata, even when
// the new data has the same size and the clock cannot tell them apart.
func TestFailedPublishKeepsMeta(t *testing.T) {
	for _, coarse := range []bool{false, true} {
		m := newMemFS()
		m.coarse = coarse
		f := &failRename{FS: m}
		s, err := fsstore.New(f, fsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		s.CreateBucket(ctx, "bkt")
		v1 := backendtest.Put(t, s, "bkt", "k", []byte("old!"), backends.Meta{ContentType: "text/old"})
		f.fail = true
		m2 := backends.Meta{ContentType: "text/new", ETag: "0123456789abcdef0123456789abcdef"}
		if _, err := s.PutObject(ctx, "bkt", "k", strings.NewReader("new!"), backends.PutOptions{Meta: &m2}); err == nil {
			t.Fatal("publish did not fail")
		}
		f.fail = false
		h, err := s.HeadObject(ctx, "bkt", "k")
		if err != nil || h.ETag != v1.ETag || h.ContentType != "text/old" {
			t.Fatalf("coarse=%v: old object after a failed publish: %+v, %v; want ETag %s", coarse, h, err, v1.ETag)
		}
		if got, _ := backendtest.Get(t, s, "bkt", "k", nil); string(got) != "old!" {
			t.Fatalf("data %q", got)
		}
		// And the next write works.
		v3 := backendtest.Put(t, s, "bkt", "k", []byte("new3"), backends.Meta{ContentType: "text/3"})
		if h, _ := s.HeadObject(ctx, "bkt", "k"); h.ETag != v3.ETag || h.ContentType != "text/3" {
			t.Fatalf("after recovery: %+v", h)
		}
	}
}

// missOnRename misses a name, as Samba can, for a moment while a file is
// renamed over it: Open and Stat of it fail with "not found".
type missOnRename struct {
	fsstore.FS
	mu     sync.Mutex
	hidden map[string]int
}

func (f *missOnRename) Rename(oldname, newname string) error {
	if _, err := f.FS.Lstat(newname); err != nil {
		return f.FS.Rename(oldname, newname)
	}
	f.mu.Lock()
	f.hidden[newname]++
	f.mu.Unlock()
	time.Sleep(200 * time.Microsecond)
	err := f.FS.Rename(oldname, newname)
	time.Sleep(200 * time.Microsecond)
	f.mu.Lock()
	if f.hidden[newname]--; f.hidden[newname] == 0 {
		delete(f.hidden, newname)
	}
	f.mu.Unlock()
	return err
}

func (f *missOnRename) miss(op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hidden[name] > 0 {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return nil
}

func (f *missOnRename) Open(name string) (fsstore.File, error) {
	if err := f.miss("open", name); err != nil {
		return nil, err
	}
	return f.FS.Open(name)
}

func (f *missOnRename) Stat(name string) (fs.FileInfo, error) {
	if err := f.miss("stat", name); err != nil {
		return nil, err
	}
	return f.FS.Stat(name)
}

// Readers of a key that is being rewritten never see it missing, nor data
// with another version's metadata, on a file system that misses names
// during renames (the suite's ConcurrentWriters is the case that meets it).
func TestSuiteMissOnRename(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		s, err := fsstore.New(&missOnRename{FS: newMemFS(), hidden: map[string]int{}}, fsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A listing that runs while a key is overwritten again and again shows the
// key with the ETag of one of its versions, never one derived from the
// file (which happens when the listed file's record was dropped from the
// sidecar by a later overwrite before the listing read it).
func TestListDuringOverwrites(t *testing.T) {
	s, err := fsstore.New(newMemFS(), fsstore.Options{NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	etag := func(i int) string { return fmt.Sprintf("%032x", i+1) }
	put := func(i int) {
		data := []byte(fmt.Sprint("version ", i))
		meta := backends.Meta{ETag: etag(i)}
		if _, err := s.PutObject(ctx, "bkt", "k", bytes.NewReader(data), backends.PutOptions{Meta: &meta}); err != nil {
			t.Error(err)
		}
	}
	put(0)
	var written atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 3000 && !t.Failed(); i++ {
			put(i)
			written.Store(int64(i))
		}
	}()
	for lists := 0; ; lists++ {
		select {
		case <-done:
			t.Logf("%d listings during %d overwrites", lists, written.Load())
			return
		default:
		}
		res, err := s.ListObjects(ctx, "bkt", backends.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			var i int
			if _, err := fmt.Sscanf(o.ETag, "%x", &i); err != nil || o.ETag != etag(i-1) || int64(i-1) > written.Load()+1 {
				t.Fatalf("listing %d: %s has the ETag %q, not one that was written", lists, o.Key, o.ETag)
			}
		}
	}
}

// concurrentOpens is an FS whose opens take a while and that records how
// many were in flight at once.
type concurrentOpens struct {
	fsstore.FS
	now, peak atomic.Int64
}

func (c *concurrentOpens) Open(name string) (fsstore.File, error) {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	time.Sleep(time.Millisecond)
	return c.FS.Open(name)
}

// A listing reads the metadata of a folder's files several at a time (on a
// network file system each read is a few round trips), and lists them in
// order with their own metadata.
func TestListReadsMetadataInParallel(t *testing.T) {
	c := &concurrentOpens{FS: newMemFS()}
	s, err := fsstore.New(c, fsstore.Options{NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		meta := backends.Meta{ETag: fmt.Sprintf("%032x", i+1), ContentType: "t/" + fmt.Sprint(i)}
		if _, err := s.PutObject(ctx, "bkt", fmt.Sprintf("d/k%02d", i), bytes.NewReader([]byte("x")), backends.PutOptions{Meta: &meta}); err != nil {
			t.Fatal(err)
		}
	}
	c.peak.Store(0)
	for _, max := range []int{1000, 7} {
		res, err := s.ListObjects(ctx, "bkt", backends.ListOptions{MaxKeys: max, Marker: "d/k03"})
		if err != nil {
			t.Fatal(err)
		}
		if want := min(max, 36); len(res.Objects) != want {
			t.Fatalf("max %d: %d objects, want %d", max, len(res.Objects), want)
		}
		for j, o := range res.Objects {
			i := j + 4
			if o.Key != fmt.Sprintf("d/k%02d", i) || o.ETag != fmt.Sprintf("%032x", i+1) {
				t.Fatalf("max %d: object %d is %s with ETag %s", max, j, o.Key, o.ETag)
			}
		}
	}
	if p := c.peak.Load(); p < 2 {
		t.Fatalf("the listing read at most %d sidecar at a time", p)
	}

	// Common prefixes: whether each folder holds a key is found out
	// several folders at a time too; empty folders stay hidden.
	for i := range 20 {
		if _, err := s.PutObject(ctx, "bkt", fmt.Sprintf("p%02d/x", i), bytes.NewReader(nil), backends.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{5, 12} { // emptied: the folders may stay, unlisted
		if err := s.DeleteObject(ctx, "bkt", fmt.Sprintf("p%02d/x", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.peak.Store(0)
	res, err := s.ListObjects(ctx, "bkt", backends.ListOptions{Delimiter: "/", Marker: "p01/"})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Prefixes
	var want []string
	for i := 2; i < 20; i++ {
		if i != 5 && i != 12 {
			want = append(want, fmt.Sprintf("p%02d/", i))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(res.Objects) != 0 {
		t.Fatalf("prefixes %v, objects %v; want %v", got, res.Objects, want)
	}
	if p := c.peak.Load(); p < 2 {
		t.Fatalf("the listing looked into at most %d folder at a time", p)
	}
}
