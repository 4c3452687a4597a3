package bitrot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Hash gives hashes to an object that has none (a file put on a share
// directly, or written before the layer was on), reading its data. It
// reports whether it did; an object that already has hashes is left
// alone. If the object changes while it is read, nothing is recorded and
// the error says so.
func (l *Layer) Hash(ctx context.Context, bucket, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if l.passThrough(bucket) {
		return false, nil
	}
	return l.hash(ctx, bucket, key, false)
}

func sameData(a, b backends.ObjectInfo) bool {
	return a.Size == b.Size && a.ETag == b.ETag && a.ModTime.Equal(b.ModTime)
}

var errChanged = errors.New("the object changed while it was hashed")

// hash hashes the object at key; with force it replaces a record that is
// there (one whose hash object is missing).
func (l *Layer) hash(ctx context.Context, bucket, key string, force bool) (bool, error) {
	var err error
	for range maxTries {
		var done bool
		done, err = l.hashOnce(ctx, bucket, key, force)
		if !errors.Is(err, errChanged) {
			return done, err
		}
	}
	return false, err
}

func (l *Layer) hashOnce(ctx context.Context, bucket, key string, force bool) (bool, error) {
	before, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil {
		return false, err
	}
	old, perr := parseRecord(before.Sys)
	switch {
	case errors.Is(perr, errNoRecord):
	case perr == nil && force:
	default:
		// Hashed already, or a record that is damaged or newer: hashing
		// the data now would bless whatever it has become.
		return false, nil
	}
	body, info, err := l.Backend.GetObject(ctx, bucket, key, nil)
	if err != nil {
		return false, err
	}
	defer body.Close()
	if !sameData(before, info) {
		return false, errChanged
	}

	h := newHasher(l.bs)
	rec := &record{bs: l.bs, size: info.Size}
	buf := l.getBuf(l.bs)
	defer l.putBuf(buf)
	if (info.Size+l.bs-1)/l.bs <= MaxInline {
		if _, err := io.CopyBuffer(h, struct{ io.Reader }{body}, *buf); err != nil {
			return false, err
		}
		h.finish()
		rec.inline = h.sums
		if rec.inline == nil {
			rec.inline = []byte{}
		}
	} else {
		// Many hashes: stream them into the hash object as they come.
		rec.ref = newID()
		pr, pw := io.Pipe()
		h.out = pw
		putErr := make(chan error, 1)
		go func() {
			err := l.putHashObject(ctx, bucket, rec.ref, pr)
			pr.CloseWithError(err)
			putErr <- err
		}()
		_, err := io.CopyBuffer(h, struct{ io.Reader }{body}, *buf)
		if err == nil {
			err = h.finish()
		}
		pw.CloseWithError(err) // nil: EOF
		if perr := <-putErr; err == nil {
			err = perr
		}
		if err != nil {
			l.removeHashObject(bucket, rec.ref)
			return false, err
		}
	}
	if h.size != info.Size {
		l.removeHashObject(bucket, rec.ref)
		return false, errChanged
	}
	after, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil || !sameData(before, after) {
		l.removeHashObject(bucket, rec.ref)
		if err != nil {
			return false, err
		}
		return false, errChanged
	}
	m := after.Meta
	m.Sys = withRecord(after.Sys, rec)
	res, err := l.Backend.UpdateMeta(ctx, bucket, key, m)
	if err != nil {
		l.removeHashObject(bucket, rec.ref)
		return false, err
	}
	if !sameData(before, res) {
		// Replaced in the last instant: hash what is there now.
		return false, errChanged
	}
	if old != nil && old.ref != rec.ref {
		l.removeHashObject(bucket, old.ref)
	}
	l.hashed.Add(1)
	return true, nil
}

// Status is what a scan found for one object.
type Status string

// Scan statuses.
const (
	StatusOK            Status = "ok"
	StatusCorrupt       Status = "corrupt"        // data does not match its hashes
	StatusNoHashes      Status = "no-hashes"      // served unverified
	StatusHashed        Status = "hashed"         // had none, hashed now (HashMissing)
	StatusNewer         Status = "newer-format"   // hashes of a newer Strata: not checked
	StatusOrphan        Status = "orphan"         // a hash object nothing refers to
	StatusOrphanRemoved Status = "orphan-removed" // ... removed (RemoveOrphans)
	StatusError         Status = "error"          // could not be read
)

// ScanEntry is one object (or hash object) a scan looked at.
type ScanEntry struct {
	Key    string `json:"key"`
	Status Status `json:"status"`
	Size   int64  `json:"size"`
	// Block and Offset locate the first damaged block of a corrupt object
	// (-1 when the damage is in its metadata or hash object).
	Block  int    `json:"block"`
	Offset int64  `json:"offset"`
	Detail string `json:"detail,omitempty"`
}

// ScanSummary counts what a scan found.
type ScanSummary struct {
	Bucket   string `json:"bucket"`
	Objects  int64  `json:"objects"`  // objects looked at
	Bytes    int64  `json:"bytes"`    // bytes read and verified or hashed
	OK       int64  `json:"ok"`       // objects that matched their hashes
	Corrupt  int64  `json:"corrupt"`  // objects that did not
	Unhashed int64  `json:"unhashed"` // objects without hashes (left so)
	Hashed   int64  `json:"hashed"`   // objects without hashes, hashed now
	Newer    int64  `json:"newer"`    // objects with hashes of a newer format
	Errors   int64  `json:"errors"`   // objects that could not be read
	Orphans  int64  `json:"orphans"`  // orphan hash objects found
	Removed  int64  `json:"orphans_removed"`
	// OrphansSkipped is set when orphans were not looked for: a prefix
	// scan, or errors that leave the set of used hash objects unknown.
	OrphansSkipped string `json:"orphans_skipped,omitempty"`
}

// ScanOptions select what a scan does besides reporting.
type ScanOptions struct {
	// Prefix limits the scan to keys under it (no orphan search then).
	Prefix string
	// HashMissing hashes the objects that have no hashes.
	HashMissing bool
	// RemoveOrphans removes hash objects that no object refers to.
	RemoveOrphans bool
	// Progress, when set, is called with the counts so far about every
	// ProgressEvery (default one second) while the scan runs.
	Progress      func(ScanSummary)
	ProgressEvery time.Duration
	// OrphanAge: hash objects younger than this are never orphans (their
	// object may be being written); 0 means one hour.
	OrphanAge time.Duration
}

// Scan reads and verifies every object of bucket, the reserved ones of
// the layers above included (older versions), one at a time, and reports
// each to report (which may be nil). It then looks for orphan hash
// objects. The error is for the scan as a whole (no such bucket, a
// listing that failed); damaged objects are in the summary.
func (l *Layer) Scan(ctx context.Context, bucket string, opts ScanOptions, report func(ScanEntry)) (ScanSummary, error) {
	sum := ScanSummary{Bucket: bucket}
	if _, err := l.Backend.HeadBucket(ctx, bucket); err != nil {
		return sum, err
	}
	if l.passThrough(bucket) {
		return sum, backends.Errorf(backends.InvalidArgument,
			"bucket %s is on a backend that verifies its own data on every read; there is nothing for the bitrot scan to do", bucket)
	}
	if report == nil {
		report = func(ScanEntry) {}
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	if opts.OrphanAge <= 0 {
		opts.OrphanAge = time.Hour
	}
	start := time.Now()
	last := start
	tick := func() {
		if opts.Progress != nil && time.Since(last) >= opts.ProgressEvery {
			last = time.Now()
			opts.Progress(sum)
		}
	}
	progress := func(n int64) { sum.Bytes += n; tick() }

	refs := map[string]struct{}{}
	marker := ""
	for {
		res, err := l.Backend.ListObjects(ctx, bucket, backends.ListOptions{Prefix: opts.Prefix, Marker: marker, MaxKeys: 1000})
		if err != nil {
			return sum, err
		}
		for _, o := range res.Objects {
			if Reserved(o.Key) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			if e, ok := l.scanObject(ctx, bucket, o.Key, opts, &sum, refs, progress); ok {
				report(e)
			}
			tick()
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
		if Reserved(marker) {
			marker = hiddenEnd
		}
	}

	switch {
	case opts.Prefix != "" && !strings.HasPrefix(Prefix, opts.Prefix):
		sum.OrphansSkipped = "a scan of a prefix does not see every object"
	case sum.Errors > 0:
		sum.OrphansSkipped = "some objects could not be read"
	default:
		if err := l.scanOrphans(ctx, bucket, start.Add(-opts.OrphanAge), opts, &sum, refs, report); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// scanObject checks one object; ok is false when it is gone.
func (l *Layer) scanObject(ctx context.Context, bucket, key string, opts ScanOptions, sum *ScanSummary,
	refs map[string]struct{}, progress func(int64)) (ScanEntry, bool) {
	e := ScanEntry{Key: key, Block: -1, Offset: -1}
	o, err := l.open(ctx, bucket, key, nil, progress)
	if err != nil {
		switch {
		case backends.Is(err, backends.NoSuchKey):
			return e, false
		case backends.Is(err, backends.Corrupt):
			e.Status, e.Size, e.Detail = StatusCorrupt, o.info.Size, "its hash record or hash object is damaged"
			if o.v != nil && o.v.bad >= 0 {
				e.Block, e.Offset = o.v.bad, o.v.badOff
				e.Detail = fmt.Sprintf("block %d (bytes %d-) does not match its hash", o.v.bad, o.v.badOff)
			}
			sum.Corrupt++
			if r, err := parseRecord(o.info.Sys); err == nil && r.ref != "" {
				refs[r.ref] = struct{}{}
			}
		default:
			e.Status, e.Detail = StatusError, err.Error()
			sum.Errors++
		}
		sum.Objects++
		return e, true
	}
	sum.Objects++
	e.Size = o.info.Size
	if r, err := parseRecord(o.info.Sys); err == nil && r.ref != "" {
		refs[r.ref] = struct{}{}
	}
	if o.v == nil {
		o.r.Close()
		if o.unverified == "hashes of a newer format" {
			e.Status, e.Detail = StatusNewer, o.unverified
			sum.Newer++
			return e, true
		}
		e.Status, e.Detail = StatusNoHashes, o.unverified
		if !opts.HashMissing {
			sum.Unhashed++
			return e, true
		}
		done, err := l.hash(ctx, bucket, key, true)
		switch {
		case err != nil:
			e.Status, e.Detail = StatusError, "hashing: "+err.Error()
			sum.Errors++
		case done:
			e.Status, e.Detail = StatusHashed, ""
			sum.Hashed++
			sum.Bytes += e.Size
			if info, err := l.Backend.HeadObject(ctx, bucket, key); err == nil {
				if r, err := parseRecord(info.Sys); err == nil && r.ref != "" {
					refs[r.ref] = struct{}{}
				}
			}
		default:
			sum.Unhashed++
		}
		return e, true
	}
	err = o.v.drain()
	bad, badOff := o.v.bad, o.v.badOff
	o.r.Close()
	switch {
	case err == nil:
		e.Status = StatusOK
		sum.OK++
	case backends.Is(err, backends.Corrupt):
		e.Status, e.Block, e.Offset = StatusCorrupt, bad, badOff
		if bad >= 0 {
			e.Detail = fmt.Sprintf("block %d (bytes %d-) does not match its hash", bad, badOff)
		}
		sum.Corrupt++
	default:
		e.Status, e.Detail = StatusError, err.Error()
		sum.Errors++
	}
	return e, true
}

// scanOrphans reports the hash objects older than cutoff that no object
// or upload in progress refers to, and removes them if asked.
func (l *Layer) scanOrphans(ctx context.Context, bucket string, cutoff time.Time, opts ScanOptions,
	sum *ScanSummary, refs map[string]struct{}, report func(ScanEntry)) error {
	ups, err := l.Backend.ListMultipartUploads(ctx, bucket, "")
	if err != nil {
		return err
	}
	for _, u := range ups {
		_, parts, err := l.Backend.ListParts(ctx, bucket, u.Key, u.UploadID)
		if err != nil {
			if backends.Is(err, backends.NoSuchUpload) {
				continue
			}
			return err
		}
		for _, p := range parts {
			if r, err := parseRecord(p.Sys); err == nil && r.ref != "" {
				refs[r.ref] = struct{}{}
			}
		}
	}
	marker := ""
	for {
		res, err := l.Backend.ListObjects(ctx, bucket, backends.ListOptions{Prefix: Prefix, Marker: marker, MaxKeys: 1000})
		if err != nil {
			return err
		}
		for _, o := range res.Objects {
			id := strings.TrimPrefix(o.Key, Prefix)
			if _, used := refs[id]; used || !validID(id) || o.ModTime.After(cutoff) {
				continue
			}
			e := ScanEntry{Key: o.Key, Status: StatusOrphan, Size: o.Size, Block: -1, Offset: -1}
			sum.Orphans++
			if opts.RemoveOrphans {
				if err := l.Backend.DeleteObject(ctx, bucket, o.Key); err != nil {
					e.Detail = "cannot remove: " + err.Error()
				} else {
					e.Status = StatusOrphanRemoved
					sum.Removed++
				}
			}
			report(e)
		}
		if !res.IsTruncated {
			return nil
		}
		marker = res.NextMarker
	}
}
