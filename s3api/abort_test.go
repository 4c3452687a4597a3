package s3api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/sigv4"
)

// failingBody returns good bytes, then an error (as the bitrot layer does
// when a later block fails its check).
type failingBackend struct {
	backends.Backend
	after int64
}

func (f failingBackend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	rc, info, err := f.Backend.GetObject(ctx, bucket, key, rng)
	if err != nil {
		return rc, info, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, f.after), errReader{}), rc}, info, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) {
	return 0, backends.Errorf(backends.Corrupt, "The data of the object failed its integrity check.")
}

// A GET whose data fails after the response started is aborted: the client
// sees an error, not a short body that ends cleanly.
func TestGetAbortsOnFailingData(t *testing.T) {
	d, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	d.CreateBucket(ctx, "bkt")
	data := bytes.Repeat([]byte("0123456789"), 100000)
	if _, err := d.PutObject(ctx, "bkt", "k", bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{ETag: "00"}}); err != nil {
		t.Fatal(err)
	}
	h := s3api.New(s3api.Config{
		Backend:     failingBackend{Backend: d, after: 300000},
		Credentials: map[string]string{testAK: testSK},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		srv := httptest.NewUnstartedServer(h)
		if proto == "HTTP/2" {
			srv.EnableHTTP2 = true
			srv.StartTLS()
		} else {
			srv.Start()
		}
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/bkt/k", nil)
		sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.HasPrefix(res.Proto, proto) || res.StatusCode != 200 || err == nil {
			t.Fatalf("%s: status %d, %d bytes, err %v: want a body cut short", res.Proto, res.StatusCode, len(got), err)
		}
		if !bytes.HasPrefix(data, got) || len(got) >= len(data) {
			t.Fatalf("%s: %d bytes", proto, len(got))
		}
	}
}

func TestReservedKeys(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/bkt", nil), 200, "")
	for _, m := range []string{"PUT", "GET", "HEAD", "DELETE"} {
		r := e.do(m, "/bkt/.strata.bitrot/0123456789abcdef0123456789abcdef", []byte("x"))
		if r.StatusCode != 400 || (m != "HEAD" && r.code() != "InvalidObjectName") {
			t.Fatalf("%s: %d %s", m, r.StatusCode, r.body)
		}
	}
	e.want(e.do("PUT", "/bkt/.strata.bitrotx", []byte("x")), 200, "")
}
