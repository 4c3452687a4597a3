package objectlock

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/erasure/erasuretest"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/versioning"
)

func openDir(t *testing.T) backends.Backend {
	s, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openErasure(t *testing.T) backends.Backend {
	s := erasuretest.Open(t)
	return s
}

var inners = []struct {
	name string
	open func(t *testing.T) backends.Backend
}{
	{"dir", openDir},
	{"erasure", openErasure},
}

func TestBackendSuite(t *testing.T) {
	for _, in := range inners {
		t.Run(in.name, func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backends.Backend {
				switch path.Base(t.Name()) {
				case "Sys", "PartSys", "ListSys", "Move":
					t.Skip("stores Sys entries that the layers own; covered by the backend's own suite")
				}
				return New(versioning.New(in.open(t)), Options{})
			})
		})
	}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t      *testing.T
	l      *Layer
	clock  *clock
	bucket string
}

func newFixture(t *testing.T, open func(t *testing.T) backends.Backend, opts Options) *fixture {
	c := &clock{t: time.Now().UTC()}
	opts.Now = c.now
	f := &fixture{t: t, l: New(versioning.New(open(t)), opts), clock: c, bucket: "lbucket"}
	if err := f.l.CreateBucket(t.Context(), f.bucket); err != nil {
		t.Fatal(err)
	}
	return f
}

// lockBucket turns versioning and Object Lock on, with a default retention
// given as config XML ("" for none).
func (f *fixture) lockBucket(rule string) {
	f.t.Helper()
	ctx := f.t.Context()
	if err := f.l.PutBucketConfig(ctx, f.bucket, gateway.DocVersioning, versioning.ConfigDoc(versioning.Enabled)); err != nil {
		f.t.Fatal(err)
	}
	doc := `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>` + rule + `</ObjectLockConfiguration>`
	if err := f.l.PutBucketConfig(ctx, f.bucket, gateway.DocObjectLock, []byte(doc)); err != nil {
		f.t.Fatal(err)
	}
}

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

func (f *fixture) ctx(id string, bypass bool) (context.Context, *gateway.Result) {
	r := &gateway.Result{}
	return gateway.WithOptions(f.t.Context(), &gateway.Options{VersionID: id, BypassGovernance: bypass, Result: r}), r
}

func (f *fixture) put(key, data string, sys map[string]string) (backends.ObjectInfo, error) {
	m := &backends.Meta{ETag: md5hex(data), Sys: sys}
	ctx, _ := f.ctx("", false)
	return f.l.PutObject(ctx, f.bucket, key, strings.NewReader(data), backends.PutOptions{Meta: m})
}

func (f *fixture) mustPut(key, data string, sys map[string]string) backends.ObjectInfo {
	f.t.Helper()
	info, err := f.put(key, data, sys)
	if err != nil {
		f.t.Fatalf("PutObject(%s): %v", key, err)
	}
	return info
}

func (f *fixture) head(key, id string) backends.ObjectInfo {
	f.t.Helper()
	ctx, _ := f.ctx(id, false)
	info, err := f.l.HeadObject(ctx, f.bucket, key)
	if err != nil {
		f.t.Fatalf("HeadObject(%s, %s): %v", key, id, err)
	}
	return info
}

func (f *fixture) del(key, id string, bypass bool) error {
	ctx, _ := f.ctx(id, bypass)
	return f.l.DeleteObject(ctx, f.bucket, key)
}

// setRetention changes a version's retention the way s3api does.
func (f *fixture) setRetention(key, id string, r Retention, bypass bool) error {
	info := f.head(key, id)
	meta := info.Meta
	meta.Sys = WithRetention(meta.Sys, r)
	ctx, _ := f.ctx(id, bypass)
	_, err := f.l.UpdateMeta(ctx, f.bucket, key, meta)
	return err
}

func (f *fixture) setHold(key, id, state string) error {
	info := f.head(key, id)
	meta := info.Meta
	meta.Sys = WithLegalHold(meta.Sys, state)
	ctx, _ := f.ctx(id, false)
	_, err := f.l.UpdateMeta(ctx, f.bucket, key, meta)
	return err
}

func wantKind(t *testing.T, what string, err error, k backends.Kind) {
	t.Helper()
	if !backends.Is(err, k) {
		t.Fatalf("%s: %v (kind %d), want kind %d", what, err, backends.KindOf(err), k)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func forEach(t *testing.T, opts Options, fn func(t *testing.T, f *fixture)) {
	for _, in := range inners {
		t.Run(in.name, func(t *testing.T) { fn(t, newFixture(t, in.open, opts)) })
	}
}

// ---- tests ----

func TestBucketRules(t *testing.T) {
	forEach(t, Options{}, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		doc := []byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`)
		wantKind(t, "lock without versioning", f.l.PutBucketConfig(ctx, f.bucket, gateway.DocObjectLock, doc), backends.InvalidBucketState)
		// Lock headers on a bucket without Object Lock.
		_, err := f.put("k", "x", WithRetention(nil, Retention{Compliance, f.clock.now().Add(time.Hour)}))
		wantKind(t, "retention without lock", err, backends.InvalidRequest)
		_, err = f.put("k", "x", WithLegalHold(nil, HoldOn))
		wantKind(t, "legal hold without lock", err, backends.InvalidRequest)
		_, err = f.l.CreateMultipartUpload(ctx, f.bucket, "k", backends.Meta{Sys: WithLegalHold(nil, HoldOn)})
		wantKind(t, "multipart legal hold without lock", err, backends.InvalidRequest)
		f.lockBucket("")
		wantKind(t, "suspend a lock bucket", f.l.PutBucketConfig(ctx, f.bucket, gateway.DocVersioning, versioning.ConfigDoc(versioning.Suspended)), backends.InvalidBucketState)
		wantKind(t, "remove the lock", f.l.PutBucketConfig(ctx, f.bucket, gateway.DocObjectLock, nil), backends.InvalidBucketState)
		wantKind(t, "bad lock doc", f.l.PutBucketConfig(ctx, f.bucket, gateway.DocObjectLock, []byte("<x/>")), backends.MalformedXML)
		// A past retain-until date.
		_, err = f.put("k", "x", WithRetention(nil, Retention{Compliance, f.clock.now().Add(-time.Hour)}))
		wantKind(t, "past date", err, backends.InvalidArgument)
	})
}

func TestCompliance(t *testing.T) {
	forEach(t, Options{}, func(t *testing.T, f *fixture) {
		f.lockBucket("")
		until := f.clock.now().Add(24 * time.Hour).Truncate(time.Millisecond)
		v := f.mustPut("k", "locked", WithRetention(nil, Retention{Compliance, until}))
		if r := RetentionOf(f.head("k", "").Sys); r.Mode != Compliance || !r.Until.Equal(until) {
			t.Fatalf("retention %+v", r)
		}
		h := http.Header{}
		SetHeaders(h, f.head("k", v.VersionID).Sys)
		if h.Get("x-amz-object-lock-mode") != Compliance || h.Get("x-amz-object-lock-retain-until-date") != until.Format(TimeFormat) {
			t.Fatalf("headers %v", h)
		}
		for _, bypass := range []bool{false, true} {
			wantKind(t, fmt.Sprintf("delete locked version (bypass %v)", bypass), f.del("k", v.VersionID, bypass), backends.AccessDenied)
			wantKind(t, "shorten", f.setRetention("k", v.VersionID, Retention{Compliance, until.Add(-time.Hour)}, bypass), backends.AccessDenied)
			wantKind(t, "remove", f.setRetention("k", v.VersionID, Retention{}, bypass), backends.AccessDenied)
			wantKind(t, "to governance", f.setRetention("k", v.VersionID, Retention{Governance, until.Add(time.Hour)}, bypass), backends.AccessDenied)
		}
		later := until.Add(48 * time.Hour)
		noErr(t, "extend", f.setRetention("k", v.VersionID, Retention{Compliance, later}, false))
		if r := RetentionOf(f.head("k", v.VersionID).Sys); !r.Until.Equal(later) {
			t.Fatalf("after extension: %+v", r)
		}
		// Tagging keeps the retention, and cannot drop it by omission.
		info := f.head("k", "")
		meta := info.Meta
		meta.Tags = map[string]string{"t": "1"}
		meta.Sys = nil
		if _, err := f.l.UpdateMeta(t.Context(), f.bucket, "k", meta); err != nil {
			t.Fatal(err)
		}
		if r := RetentionOf(f.head("k", "").Sys); !r.Until.Equal(later) || f.head("k", "").Tags["t"] != "1" {
			t.Fatalf("after tagging: %+v", f.head("k", ""))
		}
		// A delete without version only adds a marker.
		ctx, res := f.ctx("", false)
		noErr(t, "delete (marker)", f.l.DeleteObject(ctx, f.bucket, "k"))
		if !res.DeleteMarker {
			t.Fatalf("delete result %+v", res)
		}
		noErr(t, "delete the marker", f.del("k", res.VersionID, false))
		// Overwriting makes a new version; the locked one stays.
		f.mustPut("k", "newer", nil)
		if f.head("k", v.VersionID).ETag != md5hex("locked") {
			t.Fatal("the locked version changed")
		}
		// Once the date has passed, the version can go.
		f.clock.add(100 * time.Hour)
		noErr(t, "delete expired", f.del("k", v.VersionID, false))
	})
}

func TestGovernance(t *testing.T) {
	forEach(t, Options{}, func(t *testing.T, f *fixture) {
		f.lockBucket("")
		until := f.clock.now().Add(24 * time.Hour)
		v := f.mustPut("g", "gov", WithRetention(nil, Retention{Governance, until}))
		wantKind(t, "delete without bypass", f.del("g", v.VersionID, false), backends.AccessDenied)
		wantKind(t, "shorten without bypass", f.setRetention("g", v.VersionID, Retention{Governance, until.Add(-time.Hour)}, false), backends.AccessDenied)
		wantKind(t, "remove without bypass", f.setRetention("g", v.VersionID, Retention{}, false), backends.AccessDenied)
		noErr(t, "extend without bypass", f.setRetention("g", v.VersionID, Retention{Governance, until.Add(time.Hour)}, false))
		noErr(t, "shorten with bypass", f.setRetention("g", v.VersionID, Retention{Governance, until.Add(-time.Hour)}, true))
		noErr(t, "remove with bypass", f.setRetention("g", v.VersionID, Retention{}, true))
		if r := RetentionOf(f.head("g", v.VersionID).Sys); !r.IsZero() {
			t.Fatalf("after removal: %+v", r)
		}
		v2 := f.mustPut("g", "gov2", WithRetention(nil, Retention{Governance, until}))
		noErr(t, "delete with bypass", f.del("g", v2.VersionID, true))
		noErr(t, "delete unlocked", f.del("g", v.VersionID, false))
		// Governance can become compliance with a bypass, not the other
		// way.
		v3 := f.mustPut("g", "gov3", WithRetention(nil, Retention{Governance, until}))
		wantKind(t, "governance to compliance without bypass", f.setRetention("g", v3.VersionID, Retention{Compliance, until.Add(time.Hour)}, false), backends.AccessDenied)
		noErr(t, "governance to compliance", f.setRetention("g", v3.VersionID, Retention{Compliance, until}, true))
		wantKind(t, "now compliance", f.del("g", v3.VersionID, true), backends.AccessDenied)
	})
}

func TestLegalHold(t *testing.T) {
	forEach(t, Options{}, func(t *testing.T, f *fixture) {
		f.lockBucket("")
		v := f.mustPut("h", "held", WithLegalHold(nil, HoldOn))
		if LegalHoldOf(f.head("h", "").Sys) != HoldOn {
			t.Fatal("no hold")
		}
		wantKind(t, "delete held", f.del("h", v.VersionID, true), backends.AccessDenied)
		noErr(t, "release", f.setHold("h", v.VersionID, HoldOff))
		if LegalHoldOf(f.head("h", v.VersionID).Sys) != HoldOff {
			t.Fatal("hold not OFF")
		}
		noErr(t, "hold again", f.setHold("h", v.VersionID, HoldOn))
		// A hold does not stop new versions or markers.
		f.mustPut("h", "newer", nil)
		noErr(t, "marker", f.del("h", "", false))
		wantKind(t, "delete held version", f.del("h", v.VersionID, false), backends.AccessDenied)
		noErr(t, "release", f.setHold("h", v.VersionID, HoldOff))
		noErr(t, "delete released", f.del("h", v.VersionID, false))
	})
}

func TestDefaultRetention(t *testing.T) {
	for _, tc := range []struct {
		rule string
		want time.Duration
		mode string
	}{
		{`<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>3</Days></DefaultRetention></Rule>`, 72 * time.Hour, Governance},
		{`<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule>`, 0, Compliance},
	} {
		forEach(t, Options{}, func(t *testing.T, f *fixture) {
			f.lockBucket(tc.rule)
			now := f.clock.now()
			f.mustPut("d", "x", nil)
			r := RetentionOf(f.head("d", "").Sys)
			want := now.Add(tc.want)
			if tc.want == 0 {
				want = now.AddDate(1, 0, 0)
			}
			if r.Mode != tc.mode || !r.Until.Equal(want) {
				t.Fatalf("default retention %+v, want %s until %v", r, tc.mode, want)
			}
			// Explicit headers win over the default.
			explicit := Retention{Governance, now.Add(time.Hour)}
			f.mustPut("e", "x", WithRetention(nil, explicit))
			if r := RetentionOf(f.head("e", "").Sys); !r.Until.Equal(explicit.Until) {
				t.Fatalf("explicit retention %+v", r)
			}
			// A legal hold alone still gets the default retention.
			f.mustPut("lh", "x", WithLegalHold(nil, HoldOn))
			if h := f.head("lh", ""); RetentionOf(h.Sys).Mode != tc.mode || LegalHoldOf(h.Sys) != HoldOn {
				t.Fatalf("hold + default: %+v", h.Sys)
			}
			// Multipart: the lock asked at create, the default at complete.
			ctx := t.Context()
			for _, sys := range []map[string]string{nil, WithLegalHold(nil, HoldOn)} {
				id, err := f.l.CreateMultipartUpload(ctx, f.bucket, "mp", backends.Meta{Sys: sys})
				noErr(t, "create", err)
				data := bytes.Repeat([]byte("m"), 100)
				part, err := f.l.UploadPart(ctx, f.bucket, "mp", id, 1, bytes.NewReader(data), &backends.Meta{ETag: md5hex(string(data))})
				noErr(t, "part", err)
				up, _, err := f.l.ListParts(ctx, f.bucket, "mp", id)
				noErr(t, "list parts", err)
				meta := up.Meta
				meta.Parts, meta.Size, meta.ETag = []backends.PartInfo{part}, 100, gateway.MultipartETag([]backends.PartInfo{part})
				_, err = f.l.CompleteMultipartUpload(ctx, f.bucket, "mp", id, []int{1}, backends.PutOptions{Meta: &meta})
				noErr(t, "complete", err)
				h := f.head("mp", "")
				if RetentionOf(h.Sys).Mode != tc.mode || LegalHoldOf(h.Sys) != LegalHoldOf(sys) {
					t.Fatalf("multipart lock: %+v", h.Sys)
				}
			}
		})
	}
}

func TestWORM(t *testing.T) {
	for _, server := range []bool{true, false} {
		t.Run(fmt.Sprintf("server-%v", server), func(t *testing.T) {
			forEach(t, Options{WORM: server}, func(t *testing.T, f *fixture) {
				ctx := t.Context()
				if !server {
					wantKind(t, "unset WORM before", f.l.PutBucketConfig(ctx, f.bucket, gateway.DocWORM, []byte("off")), backends.AccessDenied)
					noErr(t, "EnableWORM", EnableWORM(ctx, f.l, f.bucket))
				}
				if on, err := f.l.WORM(ctx, f.bucket); !on || err != nil {
					t.Fatalf("WORM: %v %v", on, err)
				}
				f.mustPut("k", "first", map[string]string{"sse-x": "kept"})
				_, err := f.put("k", "second", nil)
				wantKind(t, "overwrite", err, backends.AccessDenied)
				wantKind(t, "delete", f.del("k", "", false), backends.AccessDenied)
				info := f.head("k", "")
				if info.ETag != md5hex("first") || info.Sys["sse-x"] != "kept" {
					t.Fatalf("after refused writes: %+v", info)
				}
				meta := info.Meta
				meta.Tags = map[string]string{"t": "1"}
				_, err = f.l.UpdateMeta(ctx, f.bucket, "k", meta)
				wantKind(t, "tagging", err, backends.AccessDenied)
				_, err = f.l.CreateMultipartUpload(ctx, f.bucket, "k", backends.Meta{})
				wantKind(t, "multipart onto an existing key", err, backends.AccessDenied)
				// An upload started before the key existed cannot complete onto it.
				id, err := f.l.CreateMultipartUpload(ctx, f.bucket, "late", backends.Meta{})
				noErr(t, "create", err)
				part, err := f.l.UploadPart(ctx, f.bucket, "late", id, 1, strings.NewReader("p"), &backends.Meta{ETag: md5hex("p")})
				noErr(t, "part", err)
				f.mustPut("late", "won", nil)
				_, err = f.l.CompleteMultipartUpload(ctx, f.bucket, "late", id, []int{1}, backends.PutOptions{Meta: &backends.Meta{Parts: []backends.PartInfo{part}}})
				wantKind(t, "complete onto an existing key", err, backends.AccessDenied)
				noErr(t, "abort", f.l.AbortMultipartUpload(ctx, f.bucket, "late", id))
				// New keys, and reads, still work.
				f.mustPut("new", "n", nil)
				if _, err := f.put("new2", "n", nil); err != nil {
					t.Fatal(err)
				}
				rc, _, err := f.l.GetObject(ctx, f.bucket, "k", nil)
				noErr(t, "read", err)
				rc.Close()
				// A client's own If-None-Match still answers 412.
				_, err = f.l.PutObject(ctx, f.bucket, "k", strings.NewReader("x"), backends.PutOptions{Meta: &backends.Meta{}, IfNoneMatch: true})
				wantKind(t, "If-None-Match", err, backends.PreconditionFailed)
				// WORM cannot be turned off.
				wantKind(t, "unset WORM", f.l.PutBucketConfig(ctx, f.bucket, gateway.DocWORM, nil), backends.AccessDenied)
			})
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		kind backends.Kind
		want Config
	}{
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`, -1, Config{Enabled: true}},
		{`<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>5</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, -1, Config{true, Governance, 5, 0}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, -1, Config{true, Compliance, 0, 2}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration></ObjectLockConfiguration>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>X</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode></DefaultRetention></Rule></ObjectLockConfiguration>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule></Rule></ObjectLockConfiguration>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, backends.InvalidArgument, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>-1</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, backends.InvalidArgument, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>36501</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, backends.InvalidArgument, Config{}},
		{`<Other/>`, backends.MalformedXML, Config{}},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration><x/>`, backends.MalformedXML, Config{}},
	} {
		c, err := ParseConfig([]byte(tc.doc))
		if tc.kind >= 0 {
			wantKind(t, tc.doc, err, tc.kind)
			continue
		}
		if err != nil || c != tc.want {
			t.Fatalf("%s: %+v %v", tc.doc, c, err)
		}
		if again, err := ParseConfig(c.Marshal()); err != nil || again != c {
			t.Fatalf("round trip of %s: %+v %v", c.Marshal(), again, err)
		}
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		kind backends.Kind
	}{
		{http.Header{"X-Amz-Object-Lock-Mode": {"COMPLIANCE"}}, backends.InvalidArgument},
		{http.Header{"X-Amz-Object-Lock-Retain-Until-Date": {"2031-01-01T00:00:00Z"}}, backends.InvalidArgument},
		{http.Header{"X-Amz-Object-Lock-Mode": {"NOPE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"2031-01-01T00:00:00Z"}}, backends.InvalidArgument},
		{http.Header{"X-Amz-Object-Lock-Mode": {"COMPLIANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"soon"}}, backends.InvalidArgument},
		{http.Header{"X-Amz-Object-Lock-Mode": {"COMPLIANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"2029-01-01T00:00:00Z"}}, backends.InvalidArgument},
		{http.Header{"X-Amz-Object-Lock-Legal-Hold": {"on"}}, backends.InvalidArgument},
	} {
		_, _, err := FromHeaders(tc.h, now)
		wantKind(t, fmt.Sprint(tc.h), err, tc.kind)
	}
	r, hold, err := FromHeaders(http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"2031-01-01T00:00:00.000Z"}, "X-Amz-Object-Lock-Legal-Hold": {"ON"}}, now)
	if err != nil || r.Mode != Governance || !r.Until.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) || hold != HoldOn {
		t.Fatalf("FromHeaders: %+v %q %v", r, hold, err)
	}
	if r, err := ParseRetention([]byte(`<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2031-01-01T00:00:00Z</RetainUntilDate></Retention>`), now); err != nil || r.Mode != Compliance {
		t.Fatalf("ParseRetention: %+v %v", r, err)
	}
	if r, err := ParseRetention([]byte(`<Retention/>`), now); err != nil || !r.IsZero() {
		t.Fatalf("ParseRetention(empty): %+v %v", r, err)
	}
	_, err = ParseRetention([]byte(`<Retention><Mode>BAD</Mode><RetainUntilDate>2031-01-01T00:00:00Z</RetainUntilDate></Retention>`), now)
	wantKind(t, "bad mode", err, backends.MalformedXML)
	_, err = ParseRetention([]byte(`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2020-01-01T00:00:00Z</RetainUntilDate></Retention>`), now)
	wantKind(t, "past date", err, backends.InvalidArgument)
	if s, err := ParseLegalHold([]byte(`<LegalHold><Status>OFF</Status></LegalHold>`)); s != HoldOff || err != nil {
		t.Fatalf("ParseLegalHold: %q %v", s, err)
	}
	_, err = ParseLegalHold([]byte(`<LegalHold><Status>maybe</Status></LegalHold>`))
	wantKind(t, "bad hold", err, backends.MalformedXML)
}
