package erasure

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// The background heal scanner: one goroutine per store that drains the heal
// queue as it fills and, at most every Options.ScanInterval, walks every
// object of every bucket, one at a time with a pause after each, and heals
// those whose shards or metadata are missing or damaged. Most objects get a
// quick check (metadata on every online drive, part files of the right
// size); a random sample gets the deep one (every shard block read and
// verified), as HealObject does.

const (
	// DefaultScanPause is the scanner's pause after each object.
	DefaultScanPause = 10 * time.Millisecond
	// DefaultScanDeepEvery: one object in this many gets a deep check.
	DefaultScanDeepEvery = 100
	// scanFirstDelay bounds the wait before the first cycle of a store
	// that has no record of an earlier one.
	scanFirstDelay = 5 * time.Minute
	// scanFile records the last cycle on every drive.
	scanFile = "scanner.json"
)

// ScannerStatus describes the background heal scanner.
type ScannerStatus struct {
	Enabled  bool          `json:"enabled"`
	Interval time.Duration `json:"interval_ns"`
	// Running is true during a cycle; Current counts it so far.
	Running bool        `json:"running"`
	Current HealSummary `json:"current"`
	// Cycles is the number of cycles completed since start; Last is the
	// last one (from the drives' record after a restart).
	Cycles    int         `json:"cycles"`
	LastStart time.Time   `json:"last_start,omitzero"`
	LastEnd   time.Time   `json:"last_end,omitzero"`
	Last      HealSummary `json:"last"`
	NextStart time.Time   `json:"next_start,omitzero"`
	// QueueHealed counts the objects of the heal queue healed since start.
	QueueHealed int `json:"queue_healed"`
}

type scanner struct {
	kick chan struct{} // something for the scanner to do: a queued object, a cycle asked for
	done chan struct{}
	now  chan struct{} // a cycle is asked for (a fresh drive was formatted)

	mu   sync.Mutex
	stat ScannerStatus
}

// scanRecord is scanner.json in the reserved folder of every drive.
type scanRecord struct {
	Version int         `json:"version"`
	Start   time.Time   `json:"start"`
	End     time.Time   `json:"end"`
	Summary HealSummary `json:"summary"`
}

func (s *Store) startScanner() {
	sc := &scanner{kick: make(chan struct{}, 1), now: make(chan struct{}, 1), done: make(chan struct{})}
	sc.stat.Enabled, sc.stat.Interval = true, s.opts.ScanInterval
	// The last cycle's record, from any drive: a restart does not start
	// a cycle early.
	for _, d := range s.allDrives() {
		data, err := d.readFile(d.sys(scanFile))
		var r scanRecord
		if err == nil && json.Unmarshal(data, &r) == nil && r.End.After(sc.stat.LastEnd) {
			sc.stat.LastStart, sc.stat.LastEnd, sc.stat.Last = r.Start, r.End, r.Summary
		}
	}
	if sc.stat.LastStart.IsZero() {
		sc.stat.NextStart = time.Now().Add(min(s.opts.ScanInterval, scanFirstDelay))
	} else {
		sc.stat.NextStart = sc.stat.LastStart.Add(s.opts.ScanInterval)
	}
	s.scan = sc
	go s.scanLoop(s.bg)
}

// Close stops the background work of the store (the heal scanner, the
// probes of offline drives), waits for it and lets go of the drives'
// locks. The store must not be used afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.bgCancel()
		if s.scan != nil {
			<-s.scan.done
		}
		s.bgWG.Wait()
		for _, d := range s.allDrives() {
			d.releaseLock()
		}
	})
	return nil
}

// ScannerStatus returns the state of the background heal scanner.
func (s *Store) ScannerStatus() ScannerStatus {
	if s.scan == nil {
		return ScannerStatus{}
	}
	s.scan.mu.Lock()
	defer s.scan.mu.Unlock()
	return s.scan.stat
}

// kickScanner wakes the scanner (when there is one) for the heal queue.
func (s *Store) kickScanner() {
	if s.scan != nil {
		select {
		case s.scan.kick <- struct{}{}:
		default:
		}
	}
}

// scanSoon asks the scanner for a cycle now, whatever its interval: a
// fresh drive waits to be refilled.
func (s *Store) scanSoon() {
	if s.scan != nil {
		select {
		case s.scan.now <- struct{}{}:
		default:
		}
		s.kickScanner()
	}
}

func (s *Store) scanLoop(ctx context.Context) {
	sc := s.scan
	defer close(sc.done)
	for {
		s.drainQueue(ctx)
		sc.mu.Lock()
		next := sc.stat.NextStart
		sc.mu.Unlock()
		asked := false
		select {
		case <-sc.now:
			asked = true
		default:
		}
		if asked || !time.Now().Before(next) {
			s.scanCycle(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		sc.mu.Lock()
		wait := time.Until(sc.stat.NextStart)
		sc.mu.Unlock()
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-sc.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// pause waits after an object: the scanner's pause plus as long as the
// object took, so that it keeps to a fraction of one drive's time.
func (s *Store) pause(ctx context.Context, took time.Duration) bool {
	p := s.opts.ScanPause
	if p == 0 {
		p = DefaultScanPause
	}
	t := time.NewTimer(p + took)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// drainQueue heals the objects of the heal queue, oldest first.
func (s *Store) drainQueue(ctx context.Context) {
	for ctx.Err() == nil {
		o, ok := s.popHeal()
		if !ok {
			return
		}
		start := time.Now()
		r, err := s.HealObject(ctx, o.Bucket, o.Key)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log().Debug("erasure: heal of a queued object failed", "bucket", o.Bucket, "key", o.Key, "err", err)
			}
		case r.Healed > 0 || r.Removed:
			s.scan.mu.Lock()
			s.scan.stat.QueueHealed++
			s.scan.mu.Unlock()
		}
		if !s.pause(ctx, time.Since(start)) {
			return
		}
	}
}

// scanCycle walks every object of every bucket once.
func (s *Store) scanCycle(ctx context.Context) {
	sc := s.scan
	start := time.Now()
	sc.mu.Lock()
	sc.stat.Running, sc.stat.Current = true, HealSummary{}
	sc.mu.Unlock()
	s.reviveAll()
	deepEvery := s.opts.ScanDeepEvery
	if deepEvery == 0 {
		deepEvery = DefaultScanDeepEvery
	}
	var sum HealSummary
	update := func() {
		sc.mu.Lock()
		sc.stat.Current = sum
		sc.mu.Unlock()
	}
	bs, _ := s.ListBuckets(ctx)
	for _, b := range bs {
		s.healBucket(b.Name)
		sum.Buckets++
		s.mergeWalk(ctx, b.Name, "", "", func(key string, _ *set, _ []int) (string, bool) {
			s.drainQueue(ctx)
			t := time.Now()
			sum.Total++
			if deepEvery > 0 && rand.IntN(deepEvery) == 0 || s.needsHeal(b.Name, key) {
				before := sum
				s.healOne(ctx, b.Name, key, &sum, func(p HealProblem) {
					s.log().Warn("erasure: scanner could not heal an object", "bucket", p.Bucket, "key", p.Key, "unrecoverable", p.Unrecoverable, "err", p.Err)
				})
				if sum.Healed > before.Healed {
					s.log().Debug("erasure: scanner healed an object", "bucket", b.Name, "key", key, "shards", sum.Shards-before.Shards)
				}
			} else {
				sum.Objects++
			}
			update()
			return "", s.pause(ctx, time.Since(t))
		})
		if ctx.Err() != nil {
			break
		}
	}
	end := time.Now()
	sc.mu.Lock()
	sc.stat.Running = false
	if ctx.Err() == nil {
		sc.stat.Cycles++
		sc.stat.LastStart, sc.stat.LastEnd, sc.stat.Last = start, end, sum
		sc.stat.NextStart = start.Add(s.opts.ScanInterval)
	}
	sc.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	lvl := s.log().Debug
	if sum.Healed+sum.Failed+sum.Unrecoverable > 0 {
		lvl = s.log().Info
	}
	lvl("erasure: heal scanner cycle done", "objects", sum.Objects, "healed", sum.Healed, "shards", sum.Shards,
		"removed", sum.Removed, "failed", sum.Failed, "unrecoverable", sum.Unrecoverable, "took", end.Sub(start).Round(time.Millisecond))
	data, _ := json.Marshal(scanRecord{Version: 1, Start: start, End: end, Summary: sum})
	for _, d := range s.allDrives() {
		if !d.present() {
			continue
		}
		tmp := d.tmp("scanner-" + randHex(8))
		if d.writeFile(tmp, data, false) == nil {
			if d.rename(tmp, d.sys(scanFile)) != nil {
				d.remove(tmp)
			}
		}
	}
}

// needsHeal is the scanner's quick check of an object: every online drive
// of its set holds its current metadata, the part files of the right size
// or a verified inline shard, and no data dir that the version does not
// use (a crash between the two renames of a publish leaves one).
func (s *Store) needsHeal(bucket, key string) bool {
	kp, err := keyPath(key)
	if err != nil {
		return false
	}
	st := s.setFor(bucket, key)
	l := s.lock(bucket, key)
	l.RLock()
	defer l.RUnlock()
	ms := readMetas(st, bucket, kp)
	vs, err := resolve(ms, key)
	if err != nil {
		return true // dangling or unreadable: HealObject decides
	}
	lk := listKey(vs)
	for pos, d := range st.drives {
		if !d.present() {
			continue
		}
		if ms[pos].err != nil || listKey(ms[pos].vs) != lk {
			return true
		}
		if unusedDataDir(d, bucket, kp, vs) {
			return true
		}
		for i := range ms[pos].vs {
			v := &ms[pos].vs[i]
			if v.DeleteMarker {
				continue
			}
			if v.DataDir == "" {
				if v.Meta.Size > 0 && !verifyFrame(v.Inline) {
					return true
				}
				continue
			}
			for _, p := range v.Parts {
				fi, err := d.stat(partPath(d, bucket, kp, v, p.Number))
				if err != nil || fi.Size() != v.Erasure.shardFileSize(p.Size) {
					return true
				}
			}
		}
	}
	return false
}

// unusedDataDir reports whether the object's folder on d holds a data dir
// that no version of vs uses.
func unusedDataDir(d *drive, bucket, kp string, vs []version) bool {
	ents, _ := d.readDir(d.objDir(bucket, kp))
	for _, ent := range ents {
		if isStaleDataDir(ent.Name(), vs) {
			return true
		}
	}
	return false
}

// isStaleDataDir reports whether the entry name of an object's folder is a
// data dir that no version of vs uses.
func isStaleDataDir(name string, vs []version) bool {
	if !strings.HasPrefix(name, "~") || strings.HasPrefix(name, "~~") || name == folderMark {
		return false
	}
	for i := range vs {
		if vs[i].DataDir != "" && name == "~"+vs[i].DataDir {
			return false
		}
	}
	return true
}
