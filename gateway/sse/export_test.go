package sse

// Test helpers for the external tests (which need s3api, itself an
// importer of this package).
var (
	NewTestKMS = func() *testKMS { return newTestKMS() }
	OpenDir    = openDir
	Put        = put
	Get        = get
	SSECtx     = sseCtx
)
