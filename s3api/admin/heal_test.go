package admin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-storage/strata/erasure"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/admin"
)

func newHealEnv(t *testing.T, s *erasure.Store) *env {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	creds := map[string]string{rootAK: rootSK, userAK: userSK}
	h := admin.New(admin.Config{
		Lookup:  func(ak string) (string, bool) { s, ok := creds[ak]; return s, ok },
		IsAdmin: func(ak string) bool { return ak == rootAK },
		Logger:  log,
	})
	backend := s
	if s != nil {
		h.HandleHeal(s)
	} else {
		h.HandleHeal(nil) // not a nil *erasure.Store: a server without one
		backend, _ = newStore(t)
	}
	e := &env{t: t}
	e.srv = httptest.NewServer(s3api.New(s3api.Config{Backend: backend, Credentials: creds, Logger: log, Admin: h}))
	t.Cleanup(e.srv.Close)
	return e
}

func newStore(t *testing.T) (*erasure.Store, []string) {
	root := t.TempDir()
	var paths []string
	for i := range 4 {
		p := filepath.Join(root, fmt.Sprintf("d%d", i))
		os.Mkdir(p, 0o755)
		paths = append(paths, p)
	}
	s, err := erasure.Open(paths, erasure.Options{Parity: 2, NoSync: true, ProbeInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, paths
}

func healLines(t *testing.T, body []byte) []admin.HealLine {
	t.Helper()
	var out []admin.HealLine
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var l admin.HealLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func TestHeal(t *testing.T) {
	const p = "/.strata/admin/v1/"
	e := newHealEnv(t, nil)
	resp, body := e.do(rootAK, rootSK, "POST", p+"heal")
	e.want(resp, body, 501, "NotImplemented")

	s, paths := newStore(t)
	ctx := t.Context()
	for _, b := range []string{"photos", "docs"} {
		s.CreateBucket(ctx, b)
		for i := range 5 {
			put(t, s, b, fmt.Sprintf("k%d", i), bytes.Repeat([]byte{byte(i)}, 200<<10))
		}
	}
	e = newHealEnv(t, s)
	// Wipe a drive, keeping its folder.
	ents, _ := os.ReadDir(paths[1])
	for _, ent := range ents {
		os.RemoveAll(filepath.Join(paths[1], ent.Name()))
	}
	resp, body = e.do(rootAK, rootSK, "GET", p+"info")
	var in admin.Info
	if json.Unmarshal(body, &in); resp.StatusCode != 200 || in.Erasure == nil || len(in.Erasure.Drives) != 4 ||
		in.Erasure.Drives[1].State != erasure.DriveOffline || in.Erasure.Sets[0].Online != 3 || in.Erasure.Drives[0].Total == 0 {
		t.Fatalf("info: %d %s", resp.StatusCode, body)
	}

	resp, body = e.do(rootAK, rootSK, "POST", p+"heal?bucket=photos&prefix=k1")
	lines := healLines(t, body)
	last := lines[len(lines)-1]
	if resp.StatusCode != 200 || last.Type != admin.LineSummary || last.Objects != 1 || last.Healed != 1 || last.Shards != 1 {
		t.Fatalf("heal photos/k1: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(rootAK, rootSK, "POST", p+"heal")
	lines = healLines(t, body)
	last = lines[len(lines)-1]
	if resp.StatusCode != 200 || last.Type != admin.LineSummary || last.Buckets != 2 || last.Objects != 10 || last.Total != 10 ||
		last.Healed != 9 || last.Failed+last.Unrecoverable != 0 {
		t.Fatalf("heal: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(rootAK, rootSK, "GET", p+"info")
	if json.Unmarshal(body, &in); in.Erasure.Drives[1].State != erasure.DriveOnline || in.Erasure.Sets[0].Online != 4 {
		t.Fatalf("info after heal: %s", body)
	}

	resp, body = e.do(rootAK, rootSK, "POST", p+"heal?bucket=nothere")
	e.want(resp, body, 404, "NoSuchBucket")
	resp, body = e.do(rootAK, rootSK, "POST", p+"heal?prefix=x")
	e.want(resp, body, 400, "InvalidArgument")
	resp, body = e.do(userAK, userSK, "POST", p+"heal")
	e.want(resp, body, 403, "AccessDenied")
}
