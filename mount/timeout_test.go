//go:build linux

package mount

import (
	"bytes"
	"context"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"
)

// stuckStore answers nothing until its context ends, like a frozen server;
// its bodies give a byte every tick, or stop after stopAfter bytes.
type stuckStore struct {
	Store
	tick      time.Duration
	stopAfter int
}

func (s *stuckStore) Head(ctx context.Context, key string) (Object, error) {
	<-ctx.Done()
	return Object{}, ctx.Err()
}

func (s *stuckStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	return &tickBody{ctx: ctx, tick: s.tick, left: s.stopAfter}, nil
}

func (s *stuckStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, meta Meta) (Object, error) {
	// Reads the body slowly, then hangs.
	buf := make([]byte, 1)
	for {
		select {
		case <-ctx.Done():
			return Object{}, ctx.Err()
		case <-time.After(s.tick):
		}
		if _, err := body.Read(buf); err == io.EOF {
			<-ctx.Done()
			return Object{}, ctx.Err()
		}
	}
}

type tickBody struct {
	ctx  context.Context
	tick time.Duration
	left int
}

func (b *tickBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-time.After(b.tick):
	}
	b.left--
	p[0] = 'x'
	return 1, nil
}

func (b *tickBody) Close() error { return nil }

func TestTimeout(t *testing.T) {
	s := WithTimeout(&stuckStore{tick: 20 * time.Millisecond, stopAfter: 10}, 200*time.Millisecond)

	start := time.Now()
	_, err := s.Head(context.Background(), "k")
	if toErrno(err) != syscall.EIO || !errors.Is(err, ErrTimeout) {
		t.Errorf("head of a frozen store: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("head took %v", d)
	}

	// A body that keeps giving bytes (a byte every 20ms, ten times the
	// limit in all) is read to its end; when it stops, the read fails.
	rc, err := s.Get(context.Background(), "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	b, err := io.ReadAll(rc)
	rc.Close()
	if len(b) != 10 || toErrno(err) != syscall.EIO || !errors.Is(err, ErrTimeout) {
		t.Errorf("read: %d bytes, %v", len(b), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("read took %v", d)
	}

	// A put whose body is read slowly stays alive as long as it moves.
	start = time.Now()
	_, err = s.Put(context.Background(), "k", bytes.NewReader(make([]byte, 20)), 20, Meta{})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("put: %v", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("put failed after %v: want after the body (400ms) plus the limit", d)
	}

	// WithTimeout(0) is the store itself.
	inner := &stuckStore{}
	if WithTimeout(inner, 0) != Store(inner) {
		t.Errorf("WithTimeout(0) wraps")
	}
}
