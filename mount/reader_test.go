//go:build linux

package mount

import (
	"bytes"
	"context"
	"io"
	"sync"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// memStore holds objects in memory and records the ranges read.
type memStore struct {
	Store
	mu     sync.Mutex
	data   map[string][]byte
	gets   [][2]int64
	failAt int64 // a GET body fails past this offset (0: never)
}

func (m *memStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[key]
	if !ok {
		return nil, &Error{Op: "get", Key: key, Errno: syscall.ENOENT, Err: io.EOF}
	}
	end := int64(len(d))
	if n >= 0 {
		end = min(end, off+n)
	}
	m.gets = append(m.gets, [2]int64{off, end - off})
	var r io.Reader = bytes.NewReader(d[off:end])
	if m.failAt > 0 && end > m.failAt {
		r = io.MultiReader(bytes.NewReader(d[off:max(off, m.failAt)]), errReader{})
	}
	return io.NopCloser(r), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) {
	return 0, &Error{Op: "get", Errno: syscall.EIO, Err: io.ErrUnexpectedEOF}
}

func resultBytes(t *testing.T, r fuse.ReadResult) []byte {
	t.Helper()
	b, st := r.Bytes(make([]byte, 0, r.Size()))
	if st != fuse.OK {
		t.Fatalf("read result: %v", st)
	}
	out := append([]byte(nil), b...)
	r.Done()
	return out
}

func newReaderFS(data map[string][]byte) (*FS, *memStore) {
	ms := &memStore{data: data}
	return &FS{store: ms}, ms
}

func TestReaderSequential(t *testing.T) {
	data := randData(3, 40<<20+12345)
	f, ms := newReaderFS(map[string][]byte{"k": data})
	r := &fileReader{f: f}
	defer r.close()
	var got []byte
	for off := int64(0); off < int64(len(data)); off += 128 << 10 {
		res, err := r.read("k", int64(len(data)), 128<<10, off)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		got = append(got, resultBytes(t, res)...)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("sequential read differs: %d bytes, want %d", len(got), len(data))
	}
	// The ranges double: 1, 2, 4, 8, 16, 32 MiB... a handful of GETs.
	if len(ms.gets) > 7 {
		t.Errorf("%d GETs for a 40 MiB sequential read: %v", len(ms.gets), ms.gets)
	}
	for i := 1; i < len(ms.gets)-1; i++ {
		if ms.gets[i][1] != 2*ms.gets[i-1][1] {
			t.Errorf("range %d is %d bytes after %d: want doubling", i, ms.gets[i][1], ms.gets[i-1][1])
		}
	}
	// Past the end: nothing.
	res, err := r.read("k", int64(len(data)), 10, int64(len(data)))
	if err != nil || res.Size() != 0 {
		t.Errorf("read at the end: %v %d", err, res.Size())
	}
}

func TestReaderOutOfOrderAndRandom(t *testing.T) {
	data := randData(4, 16<<20)
	f, ms := newReaderFS(map[string][]byte{"k": data})
	r := &fileReader{f: f}
	defer r.close()
	read := func(off, n int64) {
		t.Helper()
		res, err := r.read("k", int64(len(data)), int(n), off)
		if err != nil {
			t.Fatalf("read %d+%d: %v", off, n, err)
		}
		if got := resultBytes(t, res); !bytes.Equal(got, data[off:off+n]) {
			t.Fatalf("read %d+%d differs", off, n)
		}
	}
	// Read-ahead requests that arrive swapped: served from the stream and
	// the chunks kept, with no new GET.
	read(0, 1<<20)
	read(2<<20, 1<<20)
	read(1<<20, 1<<20)
	read(3<<20+100, 5000)
	// 1 MiB, then 2 MiB from 1 MiB, then 4 MiB from 3 MiB: in order.
	if len(ms.gets) != 3 || ms.gets[1] != [2]int64{1 << 20, 2 << 20} || ms.gets[2] != [2]int64{3 << 20, 4 << 20} {
		t.Errorf("GETs for reads a little out of order: %v", ms.gets)
	}
	// A jump far away starts a small range; going back within it is free.
	n := len(ms.gets)
	read(14<<20, 4096)
	read(14<<20+8192, 4096)
	read(14<<20, 4096)
	if got := ms.gets[n:]; len(got) != 1 || got[0][1] != minRange {
		t.Errorf("GETs for random reads: %v, want one of %d bytes", got, minRange)
	}
	// A read across two chunks is copied together.
	read(1<<20-10, 20)
}

func TestReaderErrors(t *testing.T) {
	data := randData(5, 8<<20)
	f, ms := newReaderFS(map[string][]byte{"k": data})
	ms.failAt = 3 << 20
	r := &fileReader{f: f}
	defer r.close()
	var err error
	off := int64(0)
	for ; err == nil && off < int64(len(data)); off += 1 << 20 {
		var res fuse.ReadResult
		if res, err = r.read("k", int64(len(data)), 1<<20, off); err == nil {
			res.Done()
		}
	}
	if toErrno(err) != syscall.EIO || off > 4<<20 {
		t.Errorf("read past a failing body: %v at %d", err, off)
	}
	// A read that the failure cuts in its middle fails whole: a short
	// read would tell the kernel the file ends there.
	r3 := &fileReader{f: f}
	defer r3.close()
	if res, err := r3.read("k", int64(len(data)), 2<<20, 2<<20); toErrno(err) != syscall.EIO {
		size := 0
		if res != nil {
			size = res.Size()
		}
		t.Errorf("read across the failure: %d bytes, %v", size, err)
	}
	// An object shorter than its listed size.
	f2, _ := newReaderFS(map[string][]byte{"short": data[:1000]})
	r2 := &fileReader{f: f2}
	defer r2.close()
	if res, err := r2.read("short", 5000, 4096, 0); err != nil || res.Size() != 1000 {
		t.Errorf("short object: %v", err)
	}
	if _, err := r2.read("short", 5000, 4096, 1000); err != io.ErrUnexpectedEOF {
		t.Errorf("short object, past its end: %v", err)
	}
	if _, err := r2.read("missing", 10, 10, 0); toErrno(err) != syscall.ENOENT {
		t.Errorf("missing object: %v", err)
	}
}
