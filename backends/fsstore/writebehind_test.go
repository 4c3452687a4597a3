package fsstore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

// memWrites is a WriteAt over memory that counts the buffers out.
type memWrites struct {
	mu     sync.Mutex
	data   []byte
	calls  []int64
	failAt int // the call that fails, 1-based; 0 for none
	out    int // buffers from Get not yet Put
}

func (m *memWrites) wb(size int) *WriteBehind {
	return &WriteBehind{Size: size,
		Get: func() *[]byte { m.mu.Lock(); m.out++; m.mu.Unlock(); b := make([]byte, 0, size); return &b },
		Put: func(*[]byte) { m.mu.Lock(); m.out--; m.mu.Unlock() },
		WriteAt: func(p []byte, off int64) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.calls = append(m.calls, off)
			if len(m.calls) == m.failAt {
				return errors.New("injected")
			}
			if need := int(off) + len(p); need > len(m.data) {
				m.data = append(m.data, make([]byte, need-len(m.data))...)
			}
			copy(m.data[off:], p)
			return nil
		}}
}

func TestWriteBehind(t *testing.T) {
	const size = 1000
	src := make([]byte, 2*size+500)
	for i := range src {
		src[i] = byte(rand.IntN(256))
	}
	m := &memWrites{}
	w := m.wb(size)
	for p := src; len(p) > 0; {
		n := min(len(p), 1+rand.IntN(700))
		if k, err := w.Write(p[:n]); k != n || err != nil {
			t.Fatalf("Write: %d, %v", k, err)
		}
		p = p[n:]
	}
	if w.End() != int64(len(src)) || w.Buffered() != 500 {
		t.Fatalf("End %d Buffered %d, want %d 500", w.End(), w.Buffered(), len(src))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.data, src) || len(m.calls) != 3 || m.calls[1] != size || m.out != 0 {
		t.Fatalf("wrote %d bytes (equal %v) in calls at %v; %d buffers not given back", len(m.data), bytes.Equal(m.data, src), m.calls, m.out)
	}

	// A failed write: the next Write or Flush says so, and nothing after
	// it is written; Close gives every buffer back.
	m = &memWrites{failAt: 1}
	w = m.wb(size)
	w.Write(src[:size]) // the first chunk leaves, and fails
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, err = w.Write(src[:size])
	}
	if err == nil || w.Flush() == nil || w.Close() == nil || w.Err() == nil {
		t.Fatalf("after a failed write: Write %v, Flush %v", err, w.Flush())
	}
	if len(m.calls) != 1 || m.out != 0 {
		t.Fatalf("calls %v after the failure; %d buffers not given back", m.calls, m.out)
	}

	// Fail keeps the first error only.
	w = (&memWrites{}).wb(size)
	first := errors.New("first")
	w.Fail(first)
	w.Fail(errors.New("second"))
	if _, err := w.Write([]byte("x")); err != first {
		t.Fatalf("Write after Fail: %v", err)
	}
}
