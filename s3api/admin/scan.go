package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/strata-storage/strata/gateway/bitrot"
)

// Scanner is what the admin API needs of the bitrot layer.
type Scanner interface {
	Scan(ctx context.Context, bucket string, opts bitrot.ScanOptions, report func(bitrot.ScanEntry)) (bitrot.ScanSummary, error)
	Stats() bitrot.Stats
	BlockSize() int
}

// ScanLine is one line of the answer of POST scan, a stream of JSON lines:
// "object" lines for objects with a problem (or hashed), "progress" lines
// about every second, and a last "summary" line, or an "error" line when
// the scan stopped.
type ScanLine struct {
	Type string `json:"type"` // object, progress, summary, error
	*bitrot.ScanEntry
	*bitrot.ScanSummary
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Types of ScanLine.
const (
	LineObject   = "object"
	LineProgress = "progress"
	LineSummary  = "summary"
	LineError    = "error"
)

// lines writes JSON lines, starting the response with the first.
type lines struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	err     error
}

func (l *lines) write(v any) {
	if l.err != nil {
		return
	}
	if !l.started {
		l.started = true
		h := l.w.Header()
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Cache-Control", "no-store")
		l.w.WriteHeader(http.StatusOK)
	}
	b, err := json.Marshal(v)
	if err != nil {
		l.err = err
		return
	}
	if _, l.err = l.w.Write(append(b, '\n')); l.err == nil {
		l.rc.Flush()
	}
}

func (h *Handler) scan(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketParam(r)
	if err != nil {
		return err
	}
	opts := bitrot.ScanOptions{Prefix: r.URL.Query().Get("prefix")}
	if opts.HashMissing, err = Bool(r, "hash-missing"); err != nil {
		return err
	}
	if opts.RemoveOrphans, err = Bool(r, "remove-orphans"); err != nil {
		return err
	}
	if h.cfg.Bitrot == nil {
		return Errorf(http.StatusNotImplemented, "NotImplemented", "this server has no bitrot layer")
	}
	out := &lines{w: w, rc: http.NewResponseController(w)}
	opts.Progress = func(s bitrot.ScanSummary) {
		out.write(ScanLine{Type: LineProgress, ScanSummary: &s})
	}
	h.log.Info("admin: scan started", "bucket", bucket, "hash-missing", opts.HashMissing, "remove-orphans", opts.RemoveOrphans)
	sum, err := h.cfg.Bitrot.Scan(r.Context(), bucket, opts, func(e bitrot.ScanEntry) {
		if e.Status != bitrot.StatusOK {
			out.write(ScanLine{Type: LineObject, ScanEntry: &e})
		}
	})
	if err != nil {
		h.log.Warn("admin: scan failed", "bucket", bucket, "err", err)
		if !out.started {
			return err
		}
		e := ToError(err)
		out.write(ScanLine{Type: LineError, Code: e.Code, Message: e.Message})
		return nil
	}
	h.log.Info("admin: scan done", "bucket", bucket, "objects", sum.Objects, "bytes", sum.Bytes,
		"corrupt", sum.Corrupt, "unhashed", sum.Unhashed, "hashed", sum.Hashed, "orphans", sum.Orphans, "errors", sum.Errors)
	out.write(ScanLine{Type: LineSummary, ScanSummary: &sum})
	return nil
}
