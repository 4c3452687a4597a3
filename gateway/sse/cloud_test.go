package sse_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	s3backend "github.com/strata-storage/strata/backends/s3"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/sse"
	"github.com/strata-storage/strata/s3api"
)

// openS3 is the s3 backend against Strata's own S3 API over a directory:
// a cloud backend whose listings do not carry Meta.Sys.
func openS3(t *testing.T) backends.Backend {
	d, _ := sse.OpenDir(t)
	srv := httptest.NewServer(s3api.New(s3api.Config{
		Backend:     d,
		Credentials: map[string]string{"AKSSETEST": "sse-test-secret"},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	t.Cleanup(srv.Close)
	b, err := s3backend.New(context.Background(), s3backend.Config{Endpoint: srv.URL, AccessKey: "AKSSETEST", SecretKey: "sse-test-secret", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Encryption over a cloud backend: the suite passes with every object
// encrypted, and listings answer plaintext sizes though the cloud's
// listing does not carry Strata's metadata.
func TestSuiteOverS3(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return sse.New(openS3(t), sse.Options{KMS: sse.NewTestKMS(), AutoEncrypt: true})
	})
}

func TestListSizesOverS3(t *testing.T) {
	l := sse.New(openS3(t), sse.Options{KMS: sse.NewTestKMS()})
	ctx := context.Background()
	bucket := backendtest.NewBucket(t, l)
	sse.Put(t, l, ctx, bucket, "plain", make([]byte, 1000))
	sse.Put(t, l, sse.SSECtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSEKMS}}), bucket, "enc", make([]byte, 70000))
	res, err := l.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 10})
	if err != nil || len(res.Objects) != 2 || res.Objects[0].Size != 70000 || res.Objects[1].Size != 1000 {
		t.Fatalf("listing: %v %+v", err, res.Objects)
	}
	got, _, err := sse.Get(ctx, l, bucket, "enc", &backends.Range{Start: 65530, End: 65545})
	if err != nil || len(got) != 16 {
		t.Fatalf("range over s3: %v %d", err, len(got))
	}
}
