package fsstore

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
)

func TestCheckKey(t *testing.T) {
	long := strings.Repeat("x", 255)
	for _, tc := range []struct {
		key     string
		windows bool
		kind    backends.Kind // Internal: valid
	}{
		{"a", false, backends.Internal},
		{"a/b/c.txt", false, backends.Internal},
		{"folder/", false, backends.Internal},
		{"a/b/", false, backends.Internal},
		{"..a/b..", false, backends.Internal},
		{"...", false, backends.Internal},
		{".hidden/x", false, backends.Internal},
		{long, false, backends.Internal},
		{long + "/" + long + "/", false, backends.Internal},
		{`back\slash`, false, backends.Internal},
		{"a:b", false, backends.Internal},
		{"", false, backends.InvalidKey},
		{"/", false, backends.InvalidKey},
		{"/a", false, backends.InvalidKey},
		{"a//b", false, backends.InvalidKey},
		{"a//", false, backends.InvalidKey},
		{"..", false, backends.InvalidKey},
		{"../a", false, backends.InvalidKey},
		{"a/..", false, backends.InvalidKey},
		{"a/../b", false, backends.InvalidKey},
		{".", false, backends.InvalidKey},
		{"./", false, backends.InvalidKey},
		{"a/./b", false, backends.InvalidKey},
		{"a\x00b", false, backends.InvalidKey},
		{"\xff", false, backends.InvalidKey},
		{long + "x", false, backends.KeyTooLong},
		{"a/" + long + "x/b", false, backends.KeyTooLong},
		{strings.Repeat("a/", 513), false, backends.KeyTooLong},
		{`back\slash`, true, backends.InvalidKey},
		{"a:b", true, backends.InvalidKey},
		{"a*b", true, backends.InvalidKey},
		{"a?", true, backends.InvalidKey},
		{"dot./x", true, backends.InvalidKey},
		{"space ", true, backends.InvalidKey},
		{"x/CON", true, backends.InvalidKey},
		{"nul.txt", true, backends.InvalidKey},
		{"com1", true, backends.InvalidKey},
		{"LPT9.log", true, backends.InvalidKey},
		{"console", true, backends.Internal},
		{"com10", true, backends.Internal},
		{"a/b c/d.e/", true, backends.Internal},
		{"tab\there", true, backends.InvalidKey},
	} {
		err := checkKey(tc.key, tc.windows)
		switch {
		case tc.kind == backends.Internal && err != nil:
			t.Errorf("checkKey(%q, windows=%v): %v, want valid", tc.key, tc.windows, err)
		case tc.kind != backends.Internal && !backends.Is(err, tc.kind):
			t.Errorf("checkKey(%q, windows=%v): %v, want kind %d", tc.key, tc.windows, err, tc.kind)
		}
	}
}

func TestDerivedETag(t *testing.T) {
	mt := time.Unix(1700000000, 123456789)
	e := DerivedETag(42, mt)
	if !regexp.MustCompile(`^[0-9a-f]{32}-1$`).MatchString(e) {
		t.Fatalf("DerivedETag = %q", e)
	}
	if e != md5hexString("42:1700000000123456789")+"-1" {
		t.Fatalf("DerivedETag = %q, not the documented rule", e)
	}
	if DerivedETag(42, mt) != e || DerivedETag(43, mt) == e || DerivedETag(42, mt.Add(1)) == e {
		t.Fatal("DerivedETag not a function of size and mtime")
	}
}

func md5hexString(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
