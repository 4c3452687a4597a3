package erasure

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wipe empties a drive's folder as an operator would, format.json first:
// the store may recreate its reserved folders meanwhile (a probe), which
// the next try removes.
func wipe(t *testing.T, path string) {
	t.Helper()
	os.Remove(filepath.Join(path, FormatFile))
	for try := 0; ; try++ {
		ents, _ := os.ReadDir(path)
		var err error
		for _, e := range ents {
			if e.Name() != FormatFile {
				err = errors.Join(err, os.RemoveAll(filepath.Join(path, e.Name())))
			}
		}
		if err == nil || try == 10 {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

// A drive wiped while the store runs is formatted and refilled by the
// scanner, without any request.
func TestScannerRefillsWipedDrive(t *testing.T) {
	// The next cycle is minutes away: the drive monitor finds the wiped
	// drive, formats it and asks the scanner for a cycle.
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true, ScanInterval: time.Hour, ScanPause: time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	defer s.Close()
	ctx := t.Context()
	s.CreateBucket(ctx, "b1")
	objs := mixed(t, s, "b1")
	wipe(t, paths[2])
	waitFor(t, "the wiped drive to be refilled", func() bool {
		for k := range objs {
			kp, _ := keyPath(k)
			if _, err := os.Stat(filepath.Join(paths[2], "b1", kp, metaName)); err != nil {
				return false
			}
		}
		return true
	})
	waitFor(t, "the cycle to end", func() bool { return s.ScannerStatus().Cycles == 1 })
	if st := s.ScannerStatus(); st.Last.Objects != len(objs) || st.Last.Healed != len(objs) || time.Until(st.NextStart) < 50*time.Minute {
		t.Fatalf("scanner status: %+v", st)
	}
	os.Rename(paths[0], paths[0]+".gone")
	os.Rename(paths[3], paths[3]+".gone")
	checkAll(t, s, "b1", objs)
}

// The scanner drains the heal queue at once, and its deep check finds a
// damaged parity shard that no read sees.
func TestScannerQueueAndDeep(t *testing.T) {
	paths := drivePaths(t, 4)
	s, err := open(t, paths, Options{Parity: 2, NoSync: true, ScanInterval: time.Hour, ScanPause: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	data := rnd(3 << 20)
	put(t, s, "b", "k", data)
	v := mustMeta(t, filepath.Join(paths[0], "b", "k"))
	shard := func(j int) string {
		return filepath.Join(paths[v.Erasure.Dist[j]], "b", "k", "~"+v.DataDir, "part.1")
	}
	good, _ := os.ReadFile(shard(0))
	flip(t, shard(0), 100)
	if got := get(t, s, "b", "k"); !bytes.Equal(got, data) {
		t.Fatal("corrupt data returned")
	}
	waitFor(t, "the queued object to be healed", func() bool {
		b, _ := os.ReadFile(shard(0))
		return bytes.Equal(b, good) && len(s.HealQueue()) == 0
	})
	if st := s.ScannerStatus(); st.QueueHealed != 1 || st.Cycles != 0 {
		t.Fatalf("scanner status: %+v", st)
	}
	s.Close()
	s.Close()

	// A parity shard damaged: reads do not touch it; a deep check does.
	parity, _ := os.ReadFile(shard(3))
	flip(t, shard(3), 5000)
	s, err = open(t, paths, Options{Parity: 2, NoSync: true, ScanInterval: 50 * time.Millisecond, ScanPause: time.Millisecond, ScanDeepEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "the parity shard to be repaired", func() bool {
		b, _ := os.ReadFile(shard(3))
		return bytes.Equal(b, parity)
	})
	waitFor(t, "a cycle to end", func() bool { return s.ScannerStatus().Cycles > 0 })
	s.Close()
	// The record of the last cycle is kept: a restart waits for the
	// interval.
	s, err = open(t, paths, Options{Parity: 2, NoSync: true, ScanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.ScannerStatus()
	if st.LastEnd.IsZero() || !st.NextStart.Equal(st.LastStart.Add(time.Hour)) || st.Last.Objects != 1 {
		t.Fatalf("scanner status after restart: %+v", st)
	}
}

// A data dir left by a crash between the two renames of a publish is
// found by the scanner's quick check, and healing removes it.
func TestQuickCheckFindsUnusedDataDir(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true})
	defer s.Close()
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	data := rnd(2 << 20)
	if err := put(t, s, "b", "k", data); err != nil {
		t.Fatal(err)
	}
	put(t, s, "b", "small", rnd(10))
	for _, k := range []string{"k", "small"} {
		if s.needsHeal("b", k) {
			t.Fatalf("%s: a whole object needs healing", k)
		}
		left := filepath.Join(paths[2], "b", k, "~0123456789abcdef")
		if err := os.MkdirAll(left, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(left, "part.1"), []byte("left over"), 0o644)
		if !s.needsHeal("b", k) {
			t.Fatalf("%s: the quick check misses an unused data dir", k)
		}
		if _, err := s.HealObject(ctx, "b", k); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: the unused data dir is still there: %v", k, err)
		}
		if s.needsHeal("b", k) {
			t.Fatalf("%s: still needs healing after HealObject", k)
		}
	}
	if got := get(t, s, "b", "k"); !bytes.Equal(got, data) {
		t.Fatal("data changed")
	}
}
