package erasure

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
)

func driveState(s *Store, i int) DriveStatus { return s.Drives()[i] }

func waitState(t *testing.T, s *Store, i int, state string) {
	t.Helper()
	waitFor(t, "drive "+s.allDrives()[i].path+" "+state, func() bool { return driveState(s, i).State == state })
}

// A drive whose calls fail with I/O errors goes offline; requests go on
// with the others; when it works again a probe brings it back.
func TestDriveFailing(t *testing.T) {
	s, _ := newStore(t, 4, Options{Parity: 2, NoSync: true, DriveTimeout: 500 * time.Millisecond, ProbeInterval: 20 * time.Millisecond})
	defer s.Close()
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	objs := mixed(t, s, "b")
	d := s.allDrives()[1]
	var failing sync.Mutex
	broken := true
	d.setFault(func(op string) error {
		failing.Lock()
		defer failing.Unlock()
		if broken {
			return syscall.EIO
		}
		return nil
	})
	checkAll(t, s, "b", objs)
	waitState(t, s, 1, DriveOffline)
	if st := driveState(s, 1); !strings.Contains(st.Detail, "input/output error") {
		t.Fatalf("offline drive: %+v", st)
	}
	if err := put(t, s, "b", "while-offline", rnd(2<<20)); err != nil {
		t.Fatalf("put with a drive offline: %v", err)
	}
	objs["while-offline"] = get(t, s, "b", "while-offline")
	checkAll(t, s, "b", objs)
	failing.Lock()
	broken = false
	failing.Unlock()
	waitState(t, s, 1, DriveOnline)
	if q := s.HealQueue(); len(q) == 0 {
		t.Fatal("the object written while the drive was offline is not queued for heal")
	}
	sum, err := s.HealAll(ctx, nil)
	if err != nil || sum.Healed != 1 || sum.Failed != 0 {
		t.Fatalf("HealAll: %+v %v", sum, err)
	}
}

// A hung drive costs the first request its deadline, then is offline:
// later requests do not wait for it. When it answers again it is back.
func TestDriveHung(t *testing.T) {
	const timeout = time.Second
	s, _ := newStore(t, 4, Options{Parity: 2, NoSync: true, DriveTimeout: timeout, ProbeInterval: 20 * time.Millisecond})
	defer s.Close()
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	objs := mixed(t, s, "b")
	release := make(chan struct{})
	var once sync.Once
	unhang := func() { once.Do(func() { close(release) }) }
	defer unhang()
	s.allDrives()[2].setFault(func(string) error { <-release; return nil })

	start := time.Now()
	checkAll(t, s, "b", objs)
	if took := time.Since(start); took > 10*timeout {
		t.Fatalf("reads with a hung drive took %v", took)
	}
	waitState(t, s, 2, DriveOffline)
	start = time.Now()
	checkAll(t, s, "b", objs)
	if err := put(t, s, "b", "while-hung", rnd(3<<20)); err != nil {
		t.Fatalf("put with a hung drive: %v", err)
	}
	if took := time.Since(start); took > timeout {
		t.Fatalf("requests with the hung drive offline took %v", took)
	} else {
		t.Logf("requests with the hung drive offline took %v", took)
	}
	s.allDrives()[2].setFault(nil)
	unhang()
	waitState(t, s, 2, DriveOnline)
	checkAll(t, s, "b", objs)
}

// A drive's folder replaced by a file (a drive gone bad underneath its
// mount point) is offline, and back once the folder is.
func TestDriveReplacedByFile(t *testing.T) {
	s, paths := newStore(t, 4, Options{Parity: 2, NoSync: true, ProbeInterval: 20 * time.Millisecond})
	defer s.Close()
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	data := rnd(2 << 20)
	put(t, s, "b", "k", data)
	p := paths[0]
	if err := os.Rename(p, p+".away"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("not a drive"), 0o644)
	if got := get(t, s, "b", "k"); !bytes.Equal(got, data) {
		t.Fatal("wrong data")
	}
	waitState(t, s, 0, DriveOffline)
	if err := put(t, s, "b", "k2", rnd(10)); err != nil {
		t.Fatal(err)
	}
	// Probes keep failing: the file is not the drive.
	time.Sleep(100 * time.Millisecond)
	if st := driveState(s, 0); st.State != DriveOffline || st.Detail == "" {
		t.Fatalf("drive replaced by a file: %+v", st)
	}
	// Staging left from before it went offline goes when it is back.
	stale := p + ".away/" + SysDir + "/tmp/stale"
	os.WriteFile(stale, []byte("x"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	os.Remove(p)
	os.Rename(p+".away", p)
	waitState(t, s, 0, DriveOnline)
	if left, _ := os.ReadDir(p + "/" + SysDir + "/tmp"); len(left) != 0 {
		t.Fatalf("staging left on the drive back online: %v", left)
	}
	if got := get(t, s, "b", "k"); !bytes.Equal(got, data) {
		t.Fatal("wrong data")
	}
	// A drive of another place in the layout is refused by the probe.
	s2, paths2 := newStore(t, 4, Options{Parity: 2, NoSync: true, ProbeInterval: 20 * time.Millisecond})
	defer s2.Close()
	os.Rename(paths2[1], paths2[1]+".away")
	os.Rename(paths2[0], paths2[1])
	s2.reviveAll()
	waitState(t, s2, 1, DriveOffline)
	if st := driveState(s2, 1); !strings.Contains(st.Detail, "not drive 1 of set 0") {
		t.Fatalf("swapped drive: %+v", st)
	}
}

// A drive that is slow (its shard reads stall, well within the drive
// timeout) races parity: reads of every object finish with the right
// bytes while its reads are still blocked, and the drive stays online.
func TestSlowShardRacesParity(t *testing.T) {
	s, _ := newStore(t, 4, Options{Parity: 2, NoSync: true, DriveTimeout: time.Hour})
	defer s.Close()
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	objs := mixed(t, s, "b")
	readAll := func() error {
		for k, want := range objs {
			rc, _, err := s.GetObject(ctx, "b", k, nil)
			if err != nil {
				return err
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("%s: wrong bytes", k)
			}
		}
		return nil
	}
	for i, d := range s.allDrives() {
		release := make(chan struct{})
		d.setFault(func(op string) error {
			if op == "read" {
				<-release
			}
			return nil
		})
		done := make(chan error, 1)
		go func() { done <- readAll() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("drive %d slow: %v", i, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("reads wait for slow drive %d", i)
		}
		d.setFault(nil)
		close(release)
		if why := d.offline(); why != "" {
			t.Fatalf("slow drive %d taken offline: %s", i, why)
		}
	}
}

// A heal that finds the object whole verifies it without the key's lock:
// a PUT of the key goes on while the verify waits on a slow drive.
func TestHealVerifyDoesNotBlockWriters(t *testing.T) {
	s, _ := newStore(t, 4, Options{Parity: 2})
	ctx := t.Context()
	s.CreateBucket(ctx, "b")
	if _, err := s.PutObject(ctx, "b", "k", bytes.NewReader(rnd(3<<20)), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	d := s.allDrives()[0]
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	d.setFault(func(op string) error {
		if op == "open" { // heal opens the shard files to verify them
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return nil
	})
	healed := make(chan error, 1)
	go func() {
		_, err := s.HealObject(ctx, "b", "k")
		healed <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("heal did not open a shard file")
	}
	data := rnd(2 << 20)
	put := make(chan error, 1)
	go func() {
		_, err := s.PutObject(ctx, "b", "k", bytes.NewReader(data), backends.PutOptions{})
		put <- err
	}()
	select {
	case err := <-put:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the PUT waited for heal's verify")
	}
	close(release)
	d.setFault(nil)
	if err := <-healed; err != nil {
		t.Fatalf("heal: %v", err)
	}
	rc, _, err := s.GetObject(ctx, "b", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the new object", len(got))
	}
}

// A drive whose metadata reads stall (well within the drive timeout)
// delays no read: HEAD and GET of every object, and of a missing key, go
// on without it once a write quorum of drives agrees, with the right
// bytes; the drive stays online and nothing is queued for healing.
func TestSlowMetadataDoesNotDelayReads(t *testing.T) {
	for _, layout := range []struct{ drives, parity int }{{4, 2}, {6, 2}} {
		t.Run(fmt.Sprintf("%d+%d", layout.drives-layout.parity, layout.parity), func(t *testing.T) {
			s, _ := newStore(t, layout.drives, Options{Parity: layout.parity, NoSync: true, DriveTimeout: time.Hour})
			defer s.Close()
			ctx := t.Context()
			s.CreateBucket(ctx, "b")
			objs := mixed(t, s, "b")
			for i, d := range s.allDrives() {
				release := make(chan struct{})
				d.setFault(func(op string) error {
					if op == "read file" {
						<-release
					}
					return nil
				})
				done := make(chan error, 1)
				go func() {
					for k, want := range objs {
						if _, err := s.HeadObject(ctx, "b", k); err != nil {
							done <- fmt.Errorf("head %s: %w", k, err)
							return
						}
						if got := get(t, s, "b", k); !bytes.Equal(got, want) {
							done <- fmt.Errorf("%s: wrong bytes", k)
							return
						}
					}
					_, err := s.HeadObject(ctx, "b", "missing")
					if !backends.Is(err, backends.NoSuchKey) {
						done <- fmt.Errorf("head of a missing key: %v", err)
						return
					}
					done <- nil
				}()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("drive %d slow: %v", i, err)
					}
				case <-time.After(time.Minute):
					t.Fatalf("reads wait for the metadata of slow drive %d", i)
				}
				d.setFault(nil)
				close(release)
				if why := d.offline(); why != "" {
					t.Fatalf("slow drive %d taken offline: %s", i, why)
				}
				if n := s.healQueued.Load(); n != 0 {
					t.Fatalf("slow drive %d: %d objects queued for healing", i, n)
				}
			}
		})
	}
}
