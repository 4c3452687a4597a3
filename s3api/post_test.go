package s3api

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/strata-storage/strata/s3api/s3err"
)

// A file outside a POST policy's content-length-range fails as on S3:
// EntityTooSmall or EntityTooLarge with the file's size (ProposedSize) and
// the bound it broke.
func TestPostRangeLimit(t *testing.T) {
	cases := []struct {
		name     string
		file     string
		min, max int64
		code     string
		msg      string
		fields   map[string]string
	}{
		{"within", "hello", 1, 5, "", "", nil},
		{"too small", "hi", 100, 1024, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
			map[string]string{"ProposedSize": "2", "MinSizeAllowed": "100"}},
		{"too large", "0123456789", 0, 5, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.",
			map[string]string{"ProposedSize": "10", "MaxSizeAllowed": "5"}},
		{"too large to tell", strings.Repeat("a", maxPostDrain+10), 0, 5, "EntityTooLarge", "",
			map[string]string{"ProposedSize": "", "MaxSizeAllowed": "5"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Small reads: the limit is crossed in the middle of the file.
			l := &rangeLimit{r: io.LimitReader(strings.NewReader(c.file), int64(len(c.file))), min: c.min, max: c.max}
			b, err := io.ReadAll(&smallReads{l})
			if c.code == "" {
				if err != nil || string(b) != c.file {
					t.Fatalf("got %q, %v", b, err)
				}
				return
			}
			var ae *s3err.APIError
			if !errors.As(err, &ae) || ae.Code != c.code || (c.msg != "" && ae.Message != c.msg) {
				t.Fatalf("got %v, want %s: %s", err, c.code, c.msg)
			}
			got := map[string]string{}
			var de *s3err.DetailedError
			if errors.As(err, &de) {
				for _, f := range de.Fields {
					got[f.Name] = f.Value
				}
			}
			for k, want := range c.fields {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			if _, err2 := l.Read(make([]byte, 1)); err2 != err {
				t.Errorf("the error does not stay: %v", err2)
			}
		})
	}
}

// smallReads reads at most 3 bytes at a time.
type smallReads struct{ r io.Reader }

func (o *smallReads) Read(p []byte) (int, error) {
	if len(p) > 3 {
		p = p[:3]
	}
	return o.r.Read(p)
}
