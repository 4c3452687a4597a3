package gcs

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// fake is fake-gcs-server running in the test process on a loopback port.
type fake struct {
	srv      *fakestorage.Server
	hs       *http.Server
	fix      *fixes
	endpoint string // of the JSON API
}

// newFake starts fake-gcs-server. Its handler sits behind fixes, which add
// what the real service does and v1.56.1 of the emulator does not.
func newFake(t testing.TB) *fake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:      "http",
		Host:        "127.0.0.1",
		NoListener:  true,
		PublicHost:  addr, // must be the address clients use, or reads fail
		ExternalURL: "http://" + addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	fix := &fixes{srv: srv, next: srv.HTTPHandler()}
	hs := &http.Server{Handler: fix}
	go hs.Serve(l)
	t.Cleanup(func() {
		hs.Close()
		srv.Stop()
	})
	return &fake{srv: srv, hs: hs, fix: fix, endpoint: "http://" + addr + "/storage/v1/"}
}

// fixes wraps fake-gcs-server v1.56.1 with three behaviours of Cloud
// Storage that the emulator lacks and the backend relies on:
//
//   - rewrite (copy) and compose honour the destination's ifGenerationMatch
//     (0: the object must not exist); the emulator ignores both;
//   - compose makes a new object from the destination resource it is given;
//     the emulator keeps the content headers of an existing destination;
//   - PATCH deletes the custom metadata entries and content headers sent as
//     null and honours ifGenerationMatch; the emulator keeps them and
//     ignores the condition.
//
// The requests that these concern, and conditional uploads, are
// serialized, so that a condition is checked and the write made
// atomically.
type fixes struct {
	srv      *fakestorage.Server
	next     http.Handler
	mu       sync.Mutex
	requests atomic.Int64 // served, for benchmarks
}

func (f *fixes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	seg := strings.Split(r.URL.EscapedPath(), "/")
	for i, s := range seg {
		if u, err := url.PathUnescape(s); err == nil {
			seg[i] = u
		}
	}
	api := len(seg) >= 7 && seg[1] == "storage" && seg[2] == "v1" && seg[3] == "b" && seg[5] == "o"
	switch {
	case r.Method == http.MethodPost && api && len(seg) == 12 && seg[7] == "rewriteTo":
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.conditionFails(w, r, seg[9], seg[11]) {
			return
		}
	case r.Method == http.MethodPost && api && len(seg) == 8 && seg[7] == "compose":
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.conditionFails(w, r, seg[4], seg[6]) {
			return
		}
		f.srv.Backend().DeleteObject(seg[4], seg[6])
	case r.Method == http.MethodPatch && api && len(seg) == 7:
		f.mu.Lock()
		defer f.mu.Unlock()
		f.patch(w, r, seg[4], seg[6])
		return
	case strings.HasPrefix(r.URL.Path, "/upload/") && r.URL.Query().Get("ifGenerationMatch") != "":
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	f.next.ServeHTTP(w, r)
}

func (f *fixes) generation(bucket, name string) int64 {
	o, err := f.srv.GetObject(bucket, name)
	if err != nil {
		return 0
	}
	return o.Generation
}

func (f *fixes) conditionFails(w http.ResponseWriter, r *http.Request, bucket, name string) bool {
	v := r.URL.Query().Get("ifGenerationMatch")
	if v == "" {
		return false
	}
	want, err := strconv.ParseInt(v, 10, 64)
	if err == nil && want == f.generation(bucket, name) {
		return false
	}
	writeError(w, http.StatusPreconditionFailed, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")
	return true
}

func writeError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"errors":[{"domain":"global","reason":%q,"message":%q}]}}`, code, msg, reason, msg)
}

func (f *fixes) patch(w http.ResponseWriter, r *http.Request, bucket, name string) {
	o, err := f.srv.GetObject(bucket, name)
	if err != nil {
		writeError(w, http.StatusNotFound, "notFound", "No such object: "+bucket+"/"+name)
		return
	}
	if f.conditionFails(w, r, bucket, name) {
		return
	}
	body, err := io.ReadAll(r.Body)
	var p map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "bad patch body")
		return
	}
	for field, dst := range map[string]*string{
		"contentType": &o.ContentType, "contentEncoding": &o.ContentEncoding,
		"contentDisposition": &o.ContentDisposition, "contentLanguage": &o.ContentLanguage,
		"cacheControl": &o.CacheControl,
	} {
		if v, ok := p[field]; ok {
			var s *string
			json.Unmarshal(v, &s)
			*dst = ""
			if s != nil {
				*dst = *s
			}
		}
	}
	if v, ok := p["metadata"]; ok {
		var md map[string]*string
		json.Unmarshal(v, &md)
		if md == nil {
			o.Metadata = nil
		}
		for k, v := range md {
			if o.Metadata == nil {
				o.Metadata = map[string]string{}
			}
			if v == nil {
				delete(o.Metadata, k)
			} else {
				o.Metadata[k] = *v
			}
		}
	}
	// The same generation: the emulator replaces it in place.
	if err := f.srv.CreateObjectStreaming(o.StreamingObject()); err != nil {
		writeError(w, http.StatusInternalServerError, "backendError", err.Error())
		return
	}
	// Answer with the object's resource, as the real PATCH does.
	r2 := r.Clone(r.Context())
	r2.Method, r2.Body, r2.ContentLength = http.MethodGet, http.NoBody, 0
	r2.URL.RawQuery = ""
	f.next.ServeHTTP(w, r2)
}
