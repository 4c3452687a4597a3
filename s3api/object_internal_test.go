package s3api

import (
	"bytes"
	"io"
	"testing"

	"github.com/strata-storage/strata/s3api/s3err"
)

// A body of unknown length fails with EntityTooLarge past the limit, and
// reads whole up to it.
func TestCappedReader(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100_000)
	c := &cappedReader{r: bytes.NewReader(data), left: int64(len(data)) - 1}
	if _, err := io.ReadAll(c); err != s3err.ErrEntityTooLarge {
		t.Fatalf("a chunked body past the limit: %v", err)
	}
	c = &cappedReader{r: bytes.NewReader(data), left: int64(len(data))}
	if b, err := io.ReadAll(c); err != nil || len(b) != len(data) {
		t.Fatalf("a chunked body at the limit: %d bytes, %v", len(b), err)
	}
}
