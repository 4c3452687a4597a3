//go:build linux

package mount

import (
	"testing"
	"time"
)

func TestAttrsRoundTrip(t *testing.T) {
	a := attrs{mode: 0o4751, uid: 1000, gid: 50, mtime: time.Unix(1700000000, 123456789)}
	user := withAttrs(map[string]string{"other": "kept"}, a, sIFREG)
	if user["mode"] != "35305" || user["uid"] != "1000" || user["gid"] != "50" || user["mtime"] != "1700000000.123456789" || user["other"] != "kept" {
		t.Errorf("withAttrs: %v", user)
	}
	got := parseAttrs(attrs{mode: 0o644}, user)
	if got.mode != a.mode || got.uid != a.uid || got.gid != a.gid || !got.mtime.Equal(a.mtime) {
		t.Errorf("parseAttrs: %+v, want %+v", got, a)
	}
	// Values that do not parse leave the defaults.
	def := attrs{mode: 0o644, uid: 7, gid: 8, mtime: time.Unix(5, 0)}
	if got := parseAttrs(def, map[string]string{"mode": "x", "uid": "-1", "mtime": "soon"}); got != def {
		t.Errorf("bad values: %+v", got)
	}
	if hasAttrs(map[string]string{"other": "1"}) || !hasAttrs(user) {
		t.Errorf("hasAttrs")
	}
}

func TestUnixTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":            time.Unix(1700000000, 0),
		"1700000000.5":          time.Unix(1700000000, 500000000),
		"1700000000.000000001":  time.Unix(1700000000, 1),
		"1700000000.1234567899": time.Unix(1700000000, 123456789),
		"-1":                    time.Unix(-1, 0),
	} {
		got, ok := parseUnixTime(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseUnixTime(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "x", "1.x", "1.-5"} {
		if _, ok := parseUnixTime(bad); ok {
			t.Errorf("parseUnixTime(%q) accepted", bad)
		}
	}
	for _, tm := range []time.Time{time.Unix(0, 0), time.Unix(1700000000, 100), time.Unix(1, 999999999)} {
		if got, _ := parseUnixTime(formatUnixTime(tm)); !got.Equal(tm) {
			t.Errorf("round trip of %v: %v (%s)", tm, got, formatUnixTime(tm))
		}
	}
}

func TestPartSize(t *testing.T) {
	base := int64(8 << 20)
	if partSize(base, 1) != base || partSize(base, 1000) != base || partSize(base, 1001) != 2*base || partSize(base, 10000) != 10*base {
		t.Errorf("partSize: %d %d %d %d", partSize(base, 1), partSize(base, 1000), partSize(base, 1001), partSize(base, 10000))
	}
	var total int64
	for n := 1; n <= 10000; n++ {
		total += partSize(base, n)
	}
	if total < 400e9 {
		t.Errorf("10,000 parts hold only %d bytes", total)
	}
}
