package main

import (
	"strings"
	"testing"
	"time"
)

func TestExpandDrives(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		err  string
	}{
		{[]string{"/mnt/disk{1...4}"}, "/mnt/disk1 /mnt/disk2 /mnt/disk3 /mnt/disk4", ""},
		{[]string{"/h{1...2}/d{1...2}"}, "/h1/d1 /h1/d2 /h2/d1 /h2/d2", ""},
		{[]string{"/a", "/b"}, "/a /b", ""},
		{[]string{"/a", "/a"}, "", "given twice"},
		{[]string{"/d{4...1}"}, "", "bad range"},
	} {
		got, err := expandDrives(c.args)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: err %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%v: %v %v, want %s", c.args, got, err, c.want)
		}
	}
}

func TestErasureOptions(t *testing.T) {
	t.Setenv("STRATA_STORAGE_CLASS_STANDARD", "EC:3")
	t.Setenv("STRATA_STORAGE_CLASS_RRS", "EC:1")
	opts, err := erasureOptions(serverFlags{})
	if err != nil || opts.Parity != 3 || opts.RRSParity != 1 {
		t.Fatalf("%+v %v", opts, err)
	}
	if opts, _ := erasureOptions(serverFlags{parity: 2}); opts.Parity != 2 {
		t.Fatalf("--parity: %+v", opts)
	}
	if opts.ScanInterval != defaultHealInterval {
		t.Fatalf("heal interval: %v", opts.ScanInterval)
	}
	t.Setenv("STRATA_HEAL_INTERVAL", "90m")
	if opts, _ := erasureOptions(serverFlags{}); opts.ScanInterval != 90*time.Minute {
		t.Fatalf("STRATA_HEAL_INTERVAL: %+v", opts)
	}
	if opts, _ := erasureOptions(serverFlags{healInterval: "off"}); opts.ScanInterval != 0 {
		t.Fatalf("--heal-interval off: %+v", opts)
	}
	if _, err := erasureOptions(serverFlags{healInterval: "soon"}); err == nil {
		t.Fatal("--heal-interval soon accepted")
	}
	if opts, _ := erasureOptions(serverFlags{driveTimeout: "5s"}); opts.DriveTimeout != 5*time.Second {
		t.Fatalf("--drive-timeout: %+v", opts)
	}
	if _, err := erasureOptions(serverFlags{driveTimeout: "off"}); err == nil {
		t.Fatal("--drive-timeout off accepted")
	}
	t.Setenv("STRATA_STORAGE_CLASS_RRS", "3")
	if _, err := erasureOptions(serverFlags{}); err == nil {
		t.Fatal("a value without EC: was accepted")
	}
}
