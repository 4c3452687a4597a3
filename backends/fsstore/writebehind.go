package fsstore

// WriteBehind gathers the writes of a file on a network file system into
// chunks of Size bytes and writes each full chunk in the background while
// the next one fills: one write in flight, so a stream costs a round trip
// per chunk, not per Write, and holds two chunks at most. The first error
// of any write is kept: the next Write returns it, and Flush at the
// latest. The SMB and NFS clients use it.
//
// A WriteBehind is used by one goroutine at a time, as an open file is.
type WriteBehind struct {
	Size int // bytes a chunk
	// Get returns an empty buffer of at least Size bytes of capacity;
	// Put takes it back once its chunk is written.
	Get func() *[]byte
	Put func(*[]byte)
	// WriteAt writes a whole chunk at off, in the background.
	WriteAt func(p []byte, off int64) error

	buf     *[]byte // the chunk filling, nil before the first Write
	off     int64   // where buf goes: the bytes handed to WriteAt so far
	pending chan error
	err     error
}

func (w *WriteBehind) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		if w.buf == nil {
			w.buf = w.Get()
		}
		b := *w.buf
		k := copy(b[len(b):w.Size], p)
		*w.buf = b[:len(b)+k]
		p = p[k:]
		n += k
		if len(*w.buf) == w.Size {
			w.send(true)
		}
	}
	return n, nil
}

// send writes the filling chunk once the write in flight has ended; with
// async it returns at once.
func (w *WriteBehind) send(async bool) {
	w.Wait()
	if w.err != nil || w.buf == nil || len(*w.buf) == 0 {
		return
	}
	chunk, off := w.buf, w.off
	w.buf = nil
	w.off += int64(len(*chunk))
	write := func() error {
		defer w.Put(chunk)
		return w.WriteAt(*chunk, off)
	}
	if !async {
		w.err = write()
		return
	}
	w.pending = make(chan error, 1)
	go func() { w.pending <- write() }()
}

// Wait waits for the write in flight.
func (w *WriteBehind) Wait() {
	if w.pending != nil {
		if err := <-w.pending; w.err == nil {
			w.err = err
		}
		w.pending = nil
	}
}

// Flush writes everything gathered and returns the first error of any
// write.
func (w *WriteBehind) Flush() error {
	w.send(false)
	return w.err
}

// Close flushes, and gives back the chunk a failed write left.
func (w *WriteBehind) Close() error {
	err := w.Flush()
	if w.buf != nil {
		w.Put(w.buf)
		w.buf = nil
	}
	return err
}

// Buffered is the number of bytes gathered and not yet handed to WriteAt;
// End is the offset after the last byte written to the WriteBehind.
func (w *WriteBehind) Buffered() int {
	if w.buf == nil {
		return 0
	}
	return len(*w.buf)
}

func (w *WriteBehind) End() int64 { return w.off + int64(w.Buffered()) }

// Err is the first error so far; Fail sets it, if there is none yet (an
// error of the file beyond its writes, such as a failed commit).
func (w *WriteBehind) Err() error { return w.err }

func (w *WriteBehind) Fail(err error) {
	if w.err == nil {
		w.err = err
	}
}
