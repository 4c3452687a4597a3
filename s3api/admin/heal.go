package admin

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/erasure"
)

// Healer is what the admin API needs of the erasure store.
type Healer interface {
	Heal(ctx context.Context, opts erasure.HealOptions) (erasure.HealSummary, error)
	Status() erasure.Status
}

// HealLine is one line of the answer of POST heal, a stream of JSON lines:
// "object" lines for objects that could not be healed, "progress" lines a
// few times a second, and a last "summary" line, or an "error" line when
// the heal stopped.
type HealLine struct {
	Type string `json:"type"` // object, progress, summary, error
	// Object lines.
	Bucket string `json:"bucket,omitempty"`
	Key    string `json:"key,omitempty"`
	Status string `json:"status,omitempty"` // failed or unrecoverable
	Detail string `json:"detail,omitempty"`
	// Progress and summary lines.
	*erasure.HealSummary
	// Error lines.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Statuses of HealLine object lines.
const (
	HealFailed        = "failed"
	HealUnrecoverable = "unrecoverable"
)

// healProgressEvery is how often POST heal reports progress.
const healProgressEvery = 250 * time.Millisecond

// HandleHeal adds POST heal?bucket=&prefix= and the erasure store's part
// of GET info. s is nil when the server does not serve an erasure store:
// heal then answers 501.
func (h *Handler) HandleHeal(s Healer) {
	h.mu.Lock()
	h.healer = s
	h.mu.Unlock()
	h.Handle(http.MethodPost, "heal", func(w http.ResponseWriter, r *http.Request) error {
		if s == nil {
			return Errorf(http.StatusNotImplemented, "NotImplemented", "this server does not serve an erasure-coded store: there is nothing to heal")
		}
		q := r.URL.Query()
		opts := erasure.HealOptions{Bucket: q.Get("bucket"), Prefix: q.Get("prefix")}
		if opts.Bucket == "" && opts.Prefix != "" {
			return Errorf(http.StatusBadRequest, "InvalidArgument", "a prefix needs a bucket")
		}
		if opts.Bucket != "" && !backends.ValidBucketName(opts.Bucket) {
			return Errorf(http.StatusNotFound, "NoSuchBucket", "no bucket named %q", opts.Bucket)
		}
		out := &lines{w: w, rc: http.NewResponseController(w)}
		var last time.Time
		opts.Progress = func(sum erasure.HealSummary) {
			if now := time.Now(); now.Sub(last) >= healProgressEvery {
				last = now
				out.write(HealLine{Type: LineProgress, HealSummary: &sum})
			}
		}
		opts.Problem = func(p erasure.HealProblem) {
			st := HealFailed
			if p.Unrecoverable {
				st = HealUnrecoverable
			}
			out.write(HealLine{Type: LineObject, Bucket: p.Bucket, Key: p.Key, Status: st, Detail: p.Err.Error()})
		}
		what := strings.TrimSuffix(opts.Bucket+"/"+opts.Prefix, "/")
		if what == "" {
			what = "every bucket"
		}
		h.log.Info("admin: heal started", "of", what)
		sum, err := s.Heal(r.Context(), opts)
		if err != nil {
			h.log.Warn("admin: heal failed", "of", what, "err", err)
			if !out.started {
				return err
			}
			e := ToError(err)
			out.write(HealLine{Type: LineError, Code: e.Code, Message: e.Message})
			return nil
		}
		h.log.Info("admin: heal done", "of", what, "objects", sum.Objects, "healed", sum.Healed, "shards", sum.Shards,
			"removed", sum.Removed, "failed", sum.Failed, "unrecoverable", sum.Unrecoverable)
		out.write(HealLine{Type: LineSummary, HealSummary: &sum})
		return nil
	})
}
