package backends

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadBlock(t *testing.T) {
	buf := make([]byte, 8)
	n, eof, err := ReadBlock(iotest.OneByteReader(bytes.NewReader([]byte("abcdefghij"))), buf)
	if n != 8 || eof || err != nil || string(buf) != "abcdefgh" {
		t.Errorf("full: %d %v %v %q", n, eof, err, buf)
	}
	n, eof, err = ReadBlock(iotest.DataErrReader(bytes.NewReader([]byte("abc"))), buf)
	if n != 3 || !eof || err != nil {
		t.Errorf("short: %d %v %v", n, eof, err)
	}
	// io.EOF with the bytes that fill buf: full, and the end is for the
	// next read, as with io.ReadFull.
	r := iotest.DataErrReader(bytes.NewReader([]byte("abcdefgh")))
	n, eof, err = ReadBlock(r, buf)
	if n != 8 || eof || err != nil {
		t.Errorf("full at the end: %d %v %v", n, eof, err)
	}
	if n, eof, err = ReadBlock(r, buf); n != 0 || !eof || err != nil {
		t.Errorf("after the end: %d %v %v", n, eof, err)
	}
	n, eof, err = ReadBlock(bytes.NewReader(nil), buf)
	if n != 0 || !eof || err != nil {
		t.Errorf("empty: %d %v %v", n, eof, err)
	}
	// A source cut short is an error, never the end of the data.
	cut := io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(io.ErrUnexpectedEOF))
	n, eof, err = ReadBlock(cut, buf)
	if n != 3 || eof || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut: %d %v %v", n, eof, err)
	}
}
