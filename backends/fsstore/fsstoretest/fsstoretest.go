// Package fsstoretest holds checks of fsstore.FS implementations that more than
// one backend runs against its own server.
package fsstoretest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/backends/fsstore"
)

// ChunkedIO writes the file "f" of fsys in writes of many sizes and reads
// it back with reads of many sizes and with seeks, for an FS that gathers
// writes into chunks of chunk bytes and reads chunks ahead: the bytes are
// right, Stat after Sync has the size, and the file at local (the same
// file seen through the local file system) holds exactly what was
// written.
func ChunkedIO(t *testing.T, fsys fsstore.FS, local string, chunk int) {
	t.Helper()
	data := make([]byte, 3*chunk+chunk/2+17)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	w, err := fsys.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	for off, i := 0, 0; off < len(data); i++ {
		n := min(len(data)-off, []int{1, 7 << 10, chunk + 3, 300 << 10, chunk}[i%5])
		if m, err := w.Write(data[off : off+n]); err != nil || m != n {
			t.Fatalf("write %d at %d: %d %v", n, off, m, err)
		}
		off += n
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if fi, err := w.Stat(); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("stat after sync: %v %v", fi, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(local, "f")); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("the file on the server differs from what was written (%d bytes, %v)", len(b), err)
	}

	for _, size := range []int{1, 8 << 10, 256 << 10, chunk - 1, chunk, 2 * chunk} {
		f, err := fsys.Open("f")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(readsOf{f, size})
		f.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("reads of %d bytes: %d bytes, %v", size, len(got), err)
		}
	}

	f, err := fsys.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, r := range []struct{ off, n int }{
		{0, 100}, {chunk - 10, 2 * chunk}, {len(data) - 5, 5}, {17, 1}, {chunk, 300 << 10}, {len(data) - 1, 1},
	} {
		if _, err := f.Seek(int64(r.off), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(readsOf{f, 64 << 10}, int64(r.n)))
		if err != nil || !bytes.Equal(got, data[r.off:r.off+r.n]) {
			t.Fatalf("range %d+%d: %d bytes, %v", r.off, r.n, len(got), err)
		}
	}
	if n, err := f.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d %v, want EOF", n, err)
	}
	if end, err := f.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
		t.Fatalf("seek to the end: %d %v", end, err)
	}
	if _, err := f.Seek(-3, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, data[len(data)-3:]) {
		t.Fatalf("the last 3 bytes: %q %v", got, err)
	}
}

// readsOf reads from r with reads of at most n bytes.
type readsOf struct {
	r io.Reader
	n int
}

func (b readsOf) Read(p []byte) (int, error) { return b.r.Read(p[:min(len(p), b.n)]) }
