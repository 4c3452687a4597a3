// Package erasure is Strata's native object store: an erasure-coded Backend
// over local drives. Drives are split into sets; each object lives on one set,
// Reed-Solomon coded into data and parity shards, every shard block guarded by
// a HighwayHash-256 so that bitrot is detected before a byte is used. There is
// no metadata database: each drive of the set holds the object's metadata next
// to its shard. docs/erasure.md describes operation, docs/formats.md the
// on-disk formats.
package erasure

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"
	"github.com/strata-storage/strata/backends"
)

const (
	// SysDir is the reserved folder on every drive; bucket names never
	// start with a dot, so no bucket can take its name.
	SysDir = ".strata.sys"
	// FormatFile is the drive format file at the root of every drive.
	FormatFile = "format.json"
	// FormatVersion is the version of format.json that Strata writes.
	FormatVersion = 1
	// DefaultBlockSize is the erasure block: each block is coded on its own.
	DefaultBlockSize = 1 << 20
	// InlineLimit: objects of at most this many bytes keep their shard in
	// meta.json instead of a part file.
	InlineLimit = 128 << 10
	// MaxSetSize is the largest erasure set.
	MaxSetSize = 16
	// DefaultHealQueue bounds the in-memory queue of objects to heal.
	DefaultHealQueue = 10000
)

// Options configure a Store.
type Options struct {
	// Parity is the number of parity shards of STANDARD objects; 0 picks
	// the default for the set size (DefaultParity).
	Parity int
	// RRSParity is the parity of REDUCED_REDUNDANCY objects; 0 means 1
	// (or the STANDARD parity if that is lower).
	RRSParity int
	// SetSize forces the drives per set; 0 picks the largest valid size.
	SetSize int
	// BlockSize is the erasure block size; 0 means DefaultBlockSize.
	// It is recorded with every object, so it may change between starts.
	BlockSize int
	// HealQueue bounds the heal queue; 0 means DefaultHealQueue.
	HealQueue int
	// NoSync skips fsync before publishing (tests and benchmarks only).
	NoSync bool
	// DriveTimeout is the deadline of every call on a drive; a drive that
	// passes it is offline until a probe finds it answering again. 0
	// means DefaultDriveTimeout.
	DriveTimeout time.Duration
	// ProbeInterval is how often every drive is probed (an offline one to
	// bring it back, an online one to find it hung or replaced); 0 means
	// DefaultProbeInterval.
	ProbeInterval time.Duration
	// ScanInterval turns the background heal scanner on: it drains the
	// heal queue as objects are queued and starts a full cycle over every
	// object at most this often (the first one within 5 minutes of the
	// first start, then by the record of the last cycle kept on the
	// drives). 0 leaves the scanner off. A fresh drive formatted in place of
	// a lost one starts a cycle at once.
	ScanInterval time.Duration
	// ScanPause is the scanner's pause after each object, on top of the
	// time the object took; 0 means DefaultScanPause.
	ScanPause time.Duration
	// ScanDeepEvery: one object in this many, at random, gets a deep check
	// in a cycle (every shard block read and verified); the others a quick
	// one (metadata and part file sizes). 0 means DefaultScanDeepEvery, 1
	// every object, -1 none.
	ScanDeepEvery int
	// Logger receives what the store does on its own (formatting a
	// replaced drive, drives going offline, background heals); nil is
	// slog.Default().
	Logger *slog.Logger
}

// Store is an erasure-coded Backend over local drives.
type Store struct {
	opts      Options
	deploy    string
	layout    [][]string // drive IDs by set, as format.json has them
	sets      []*set
	placeKey  []byte // HighwayHash key derived from the deployment ID
	blockSize int
	stdParity int
	rrsParity int

	locks   [256]sync.RWMutex // per-object namespace locks, striped
	bktLock sync.Mutex
	// Buckets known to exist (name -> backends.BucketInfo), so that
	// object requests do not read bucket.json on every drive; bktGen
	// counts bucket deletions, and a lookup that overlapped one does not
	// fill the cache (bucketInfo).
	bktKnown sync.Map
	bktGen   atomic.Uint64

	healMu      sync.Mutex
	healQueue   map[ObjectName]struct{}
	healOrder   []ObjectName
	healDropped atomic.Int64 // objects not queued: the queue was full
	healQueued  atomic.Int64 // objects queued since the start

	scan      *scanner // nil when off
	bg        context.Context
	bgCancel  context.CancelFunc
	bgWG      sync.WaitGroup // monitor
	closeOnce sync.Once
}

var _ backends.Backend = (*Store)(nil)

type set struct {
	index  int
	drives []*drive
}

type drive struct {
	s       *Store
	path    string
	id      string
	set     int
	index   int
	timeout time.Duration
	// mountDev is the device of the drive's file system when it is a
	// mount point (0 otherwise): an unmounted drive is not formatted.
	mountDev uint64

	down        atomic.Bool // offline
	probing     atomic.Bool // a probe is running
	lastSuspect atomic.Int64
	lastRevive  atomic.Int64
	fault       atomic.Pointer[faultFunc] // tests only

	mu        sync.Mutex
	reason    string    // why the drive is offline
	since     time.Time // offline since
	droppedAt int64     // healDropped when it went offline

	lockMu sync.Mutex
	lockF  *os.File // holds the drive's LockFile lock
}

// ObjectName names an object in the heal queue.
type ObjectName struct{ Bucket, Key string }

// driveFormat is format.json on each drive.
type driveFormat struct {
	Version    int    `json:"version"`
	Format     string `json:"format"` // "strata-erasure"
	Deployment string `json:"deployment"`
	Drive      string `json:"drive"`
	Set        int    `json:"set"`
	Index      int    `json:"index"`
	// Sets lists the drive IDs of every set, in order: the whole layout.
	Sets [][]string `json:"sets"`
}

// SetSize returns the drives per set for n drives: the largest size from 2
// to 16 dividing n (n itself for 1), or 0 when there is none.
func SetSize(n int) int {
	if n == 1 {
		return 1
	}
	for s := min(n, MaxSetSize); s >= 2; s-- {
		if n%s == 0 {
			return s
		}
	}
	return 0
}

// DefaultParity returns the default parity for a set of n drives.
func DefaultParity(n int) int {
	switch {
	case n <= 1:
		return 0
	case n <= 3:
		return 1
	case n <= 5:
		return 2
	case n <= 7:
		return 3
	default:
		return 4
	}
}

// Open opens the drives at paths as one deployment, formatting fresh
// (empty) drives. It refuses drives of another deployment, drives out of
// their place in the layout, and more missing drives per set than parity.
func Open(paths []string, opts Options) (*Store, error) {
	n := len(paths)
	if n == 0 {
		return nil, errors.New("erasure: no drives")
	}
	size := opts.SetSize
	if size == 0 {
		size = SetSize(n)
	}
	if size <= 0 || size > MaxSetSize || n%size != 0 {
		return nil, fmt.Errorf("erasure: %d drives cannot be split into equal sets of 2 to %d drives", n, MaxSetSize)
	}
	std := opts.Parity
	if std == 0 {
		std = DefaultParity(size)
	}
	if std < 0 || std > size/2 {
		return nil, fmt.Errorf("erasure: parity %d is invalid for sets of %d drives (at most %d)", std, size, size/2)
	}
	rrs := opts.RRSParity
	if rrs == 0 {
		rrs = min(1, std)
	}
	if rrs < 0 || rrs > size/2 {
		return nil, fmt.Errorf("erasure: reduced-redundancy parity %d is invalid for sets of %d drives", rrs, size)
	}
	bs := opts.BlockSize
	if bs == 0 {
		bs = DefaultBlockSize
	}
	timeout := opts.DriveTimeout
	if timeout <= 0 {
		timeout = DefaultDriveTimeout
	}

	// Read every drive's format, each with the drive deadline: a hung
	// drive is a missing one.
	formats := make([]*driveFormat, n)
	missing := make([]bool, n)
	why := make([]string, n)
	var ref *driveFormat
	type found struct {
		data            []byte
		noFormat, empty bool
	}
	for i, p := range paths {
		fd, err := withDeadline(timeout, p, "read "+FormatFile, func() (found, error) {
			if fi, err := os.Stat(p); err != nil {
				return found{}, err
			} else if !fi.IsDir() {
				return found{}, fmt.Errorf("%s is not a folder", p)
			}
			data, err := os.ReadFile(filepath.Join(p, FormatFile))
			if errors.Is(err, fs.ErrNotExist) {
				return found{noFormat: true, empty: emptyDir(p, true)}, nil
			}
			return found{data: data}, err
		})
		if err != nil {
			missing[i], why[i] = true, "missing at start: "+err.Error()
			continue
		}
		if fd.noFormat {
			if !fd.empty {
				return nil, fmt.Errorf("erasure: drive %s is not empty and has no %s: refusing to format it (use an empty drive)", p, FormatFile)
			}
			continue
		}
		data := fd.data
		var f driveFormat
		if err := json.Unmarshal(data, &f); err != nil || f.Format != "strata-erasure" {
			return nil, fmt.Errorf("erasure: drive %s: %s is not a Strata erasure drive format", p, FormatFile)
		}
		if f.Version > FormatVersion {
			return nil, fmt.Errorf("erasure: drive %s: format version %d is newer than this Strata reads (%d)", p, f.Version, FormatVersion)
		}
		formats[i] = &f
		if ref == nil {
			ref = &f
		}
	}

	if ref == nil {
		for i := range missing {
			if missing[i] {
				return nil, fmt.Errorf("erasure: drive %s is missing: a new deployment needs every drive", paths[i])
			}
		}
		ref = &driveFormat{Version: FormatVersion, Format: "strata-erasure", Deployment: newUUID()}
		for s := 0; s < n/size; s++ {
			ids := make([]string, size)
			for j := range ids {
				ids[j] = newUUID()
			}
			ref.Sets = append(ref.Sets, ids)
		}
	}
	if len(ref.Sets)*len(ref.Sets[0]) != n || len(ref.Sets[0]) != size {
		return nil, fmt.Errorf("erasure: the drives were formatted as %d sets of %d drives, but %d drives in sets of %d were given", len(ref.Sets), len(ref.Sets[0]), n, size)
	}
	for i, f := range formats {
		if f == nil {
			continue
		}
		if f.Deployment != ref.Deployment {
			return nil, fmt.Errorf("erasure: drive %s belongs to another deployment (%s, not %s): refusing to start", paths[i], f.Deployment, ref.Deployment)
		}
		ws, wi := i/size, i%size
		if f.Set != ws || f.Index != wi || ref.Sets[ws][wi] != f.Drive {
			return nil, fmt.Errorf("erasure: drive %s is drive %d of set %d in the layout but was given at position %d (set %d, drive %d): the drive order was shuffled; give the drives in their original order", paths[i], f.Index, f.Set, i, ws, wi)
		}
	}

	s := &Store{
		opts: opts, deploy: ref.Deployment, layout: ref.Sets, blockSize: bs, stdParity: std, rrsParity: rrs,
		healQueue: map[ObjectName]struct{}{},
	}
	s.bg, s.bgCancel = context.WithCancel(context.Background())
	opened := false
	defer func() {
		if !opened {
			s.bgCancel()
			for _, st := range s.sets {
				for _, d := range st.drives {
					d.releaseLock()
				}
			}
		}
	}()
	sum := sha256.Sum256([]byte("strata placement v1 " + ref.Deployment))
	s.placeKey = sum[:]
	for si := 0; si < n/size; si++ {
		st := &set{index: si}
		s.sets = append(s.sets, st)
		lost := 0
		for j := 0; j < size; j++ {
			i := si*size + j
			d := &drive{s: s, path: paths[i], id: ref.Sets[si][j], set: si, index: j, timeout: timeout}
			st.drives = append(st.drives, d)
			if missing[i] {
				lost++
				continue
			}
			if dev, ok := fileDev(d.path); ok {
				if pdev, ok := fileDev(filepath.Dir(d.path)); ok && pdev != dev {
					d.mountDev = dev
				}
			}
			_, err := withDeadline(timeout, d.path, "format", func() (struct{}, error) {
				if formats[i] == nil {
					if err := os.RemoveAll(d.sys()); err != nil {
						return struct{}{}, err
					}
					f := *ref
					f.Drive, f.Set, f.Index = d.id, si, j
					if err := d.writeFormat(&f); err != nil {
						return struct{}{}, fmt.Errorf("formatting drive %s: %w", d.path, err)
					}
				}
				// Before prepare empties the staging area: it may be
				// another process's.
				if err := d.holdLock(); err != nil {
					return struct{}{}, err
				}
				return struct{}{}, d.prepare()
			})
			if isTimeout(err) {
				missing[i], why[i] = true, "missing at start: "+err.Error()
				lost++
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("erasure: drive %s: %w", d.path, err)
			}
		}
		if lost > std {
			return nil, fmt.Errorf("erasure: set %d has %d drives missing, more than its parity %d: refusing to start", si, lost, std)
		}
	}
	opened = true
	// Missing drives are offline, probed until they are back.
	for i, d := range s.allDrives() {
		if missing[i] {
			d.setOffline(why[i])
		}
	}
	s.bgWG.Add(1)
	go s.monitor()
	if opts.ScanInterval > 0 {
		s.startScanner()
	}
	return s, nil
}

func (s *Store) log() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.Default()
}

// DeploymentID returns the deployment's ID.
func (s *Store) DeploymentID() string { return s.deploy }

// Sets returns the number of sets and the drives per set.
func (s *Store) Sets() (sets, drivesPerSet int) { return len(s.sets), len(s.sets[0].drives) }

// emptyDir reports whether the folder p holds nothing (but lost+found, and
// Strata's reserved folder when sys is true).
func emptyDir(p string, sys bool) bool {
	ents, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Name() != "lost+found" && !(sys && e.Name() == SysDir) {
			return false
		}
	}
	return true
}

func (d *drive) writeFormat(f *driveFormat) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.path, FormatFile+".tmp")
	if err := writeFileSync(tmp, data, true); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(d.path, FormatFile)); err != nil {
		return err
	}
	return syncDir(d.path)
}

// prepare creates the reserved folders and empties the staging area of
// whatever a crash left behind.
func (d *drive) prepare() error {
	tmp := d.sys("tmp")
	os.RemoveAll(tmp)
	for _, dir := range []string{tmp, d.sys("buckets"), d.sys("multipart")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (d *drive) sys(elem ...string) string {
	return filepath.Join(append([]string{d.path, SysDir}, elem...)...)
}

func (d *drive) tmp(name string) string { return d.sys("tmp", name) }

// present reports whether the drive is online and there: a removed,
// wiped or unmounted drive must not be re-created by a MkdirAll. A drive
// found gone is offline from then on, until a probe brings it back.
func (d *drive) present() bool {
	if d.down.Load() {
		return false
	}
	_, err := d.stat(d.sys("tmp"))
	if errors.Is(err, fs.ErrNotExist) {
		d.setOffline("its folder or its " + SysDir + " folder is gone (removed, wiped or unmounted)")
	}
	return err == nil
}

func writeFileSync(name string, data []byte, sync bool) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// setFor places an object: HighwayHash-64 of "bucket/key" keyed by the
// deployment, modulo the number of sets.
func (s *Store) setFor(bucket, key string) *set {
	if len(s.sets) == 1 {
		return s.sets[0]
	}
	h := highwayhash.Sum64([]byte(bucket+"/"+key), s.placeKey)
	return s.sets[h%uint64(len(s.sets))]
}

// layoutFor returns the erasure layout of a new object: parity by storage
// class, raised by the number of the set's drives that are offline (up to
// half the set), so that an object written while drives are out survives
// as many further losses as one written on a whole set; shard order a
// rotation by crc32 of "bucket/key".
func (s *Store) layoutFor(st *set, bucket, key, class string) erasureInfo {
	n := len(st.drives)
	p := s.stdParity
	if class == "REDUCED_REDUNDANCY" {
		p = min(s.rrsParity, p)
	}
	for _, d := range st.drives {
		if d.offline() != "" {
			p++
		}
	}
	p = min(p, n/2)
	rot := int(crc32.ChecksumIEEE([]byte(bucket+"/"+key)) % uint32(n))
	dist := make([]int, n)
	for i := range dist {
		dist[i] = (i + rot) % n
	}
	return erasureInfo{Algo: "rs-hh256", Data: n - p, Parity: p, BlockSize: s.blockSize, Dist: dist}
}

func (s *Store) lock(bucket, key string) *sync.RWMutex {
	return &s.locks[s.stripe(bucket, key)]
}

func (s *Store) queueHeal(bucket, key string) {
	s.healMu.Lock()
	defer s.healMu.Unlock()
	max := s.opts.HealQueue
	if max == 0 {
		max = DefaultHealQueue
	}
	o := ObjectName{bucket, key}
	if _, ok := s.healQueue[o]; ok {
		return
	}
	if len(s.healQueue) >= max {
		s.healDropped.Add(1)
		return // full: dropped, a later read or HealAll finds it again
	}
	s.healQueue[o] = struct{}{}
	s.healQueued.Add(1)
	s.healOrder = append(s.healOrder, o)
	s.kickScanner()
}

// popHeal takes the oldest object out of the heal queue.
func (s *Store) popHeal() (ObjectName, bool) {
	s.healMu.Lock()
	defer s.healMu.Unlock()
	if len(s.healOrder) == 0 {
		return ObjectName{}, false
	}
	o := s.healOrder[0]
	s.healOrder = s.healOrder[1:]
	delete(s.healQueue, o)
	return o, true
}

// HealQueue returns the objects queued for healing (reads that needed
// reconstruction, writes that missed drives), oldest first.
func (s *Store) HealQueue() []ObjectName {
	s.healMu.Lock()
	defer s.healMu.Unlock()
	return append([]ObjectName(nil), s.healOrder...)
}

func (s *Store) unqueueHeal(bucket, key string) {
	s.healMu.Lock()
	defer s.healMu.Unlock()
	o := ObjectName{bucket, key}
	if _, ok := s.healQueue[o]; !ok {
		return
	}
	delete(s.healQueue, o)
	for i, x := range s.healOrder {
		if x == o {
			s.healOrder = append(s.healOrder[:i], s.healOrder[i+1:]...)
			break
		}
	}
}

// writeQuorum is data shards, one more when data equals parity.
func writeQuorum(e erasureInfo) int {
	if e.Data == e.Parity {
		return e.Data + 1
	}
	return e.Data
}

func unavailable(format string, args ...any) error {
	return backends.Errorf(backends.Unavailable, format, args...)
}
