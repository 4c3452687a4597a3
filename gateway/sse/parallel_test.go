package sse

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/strata-storage/strata/gateway/sio"
)

// The parallel encrypter writes the bytes sio.EncryptReader writes,
// however src delivers them, and passes src's errors on.
func TestParallelEncrypt(t *testing.T) {
	key := make([]byte, sio.KeySize)
	rand.Read(key)
	for _, c := range []sio.Cipher{sio.AES256GCM, sio.ChaCha20Poly1305} {
		cfg := sio.Config{Key: key, Cipher: c, SeqNum: 7}
		for _, size := range []int{0, 1, sio.PayloadSize, batchPlain - 1, batchPlain, batchPlain + 1, 2 * batchPlain, 5<<20 + 3} {
			plain := make([]byte, size)
			rand.Read(plain)
			r, err := sio.EncryptReader(bytes.NewReader(plain), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(r)
			p := newParallelEncrypt(iotest.HalfReader(bytes.NewReader(plain)), cfg)
			got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(p, 1<<30)))
			if size > 3<<20 { // the one-byte reader is slow: read the big ones whole
				p.Close()
				p = newParallelEncrypt(iotest.HalfReader(bytes.NewReader(plain)), cfg)
				got, err = io.ReadAll(p)
			}
			p.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s %d bytes: %d bytes differ from EncryptReader's %d (%v)", c, size, len(got), len(want), err)
			}
		}
	}

	// An error of src, after a few batches, ends the stream with it.
	boom := errors.New("the client went away")
	src := io.MultiReader(bytes.NewReader(make([]byte, 3*batchPlain+5)), iotest.ErrReader(boom))
	p := newParallelEncrypt(src, sio.Config{Key: key, Cipher: sio.AES256GCM})
	n, err := io.Copy(io.Discard, p)
	p.Close()
	if !errors.Is(err, boom) || n > sio.EncryptedSize(3*batchPlain) {
		t.Fatalf("source error: %d bytes, %v", n, err)
	}

	// Closed in the middle: its goroutines stop, even with src blocked.
	blocked := make(chan struct{})
	defer close(blocked)
	src = io.MultiReader(bytes.NewReader(make([]byte, 20*batchPlain)), blockingReader(blocked))
	p = newParallelEncrypt(src, sio.Config{Key: key, Cipher: sio.AES256GCM})
	io.ReadFull(p, make([]byte, 100))
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		// Close waits for a read of src in progress; this one was not.
		t.Fatal("Close did not return")
	}
}

type blockingReader chan struct{}

func (b blockingReader) Read([]byte) (int, error) { <-b; return 0, io.EOF }
