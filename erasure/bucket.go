package erasure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Buckets are a folder on every drive, plus .strata.sys/buckets/<bucket>/
// holding bucket.json (creation time) and one file per bucket document.

type bucketFile struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
}

func (s *Store) allDrives() []*drive {
	var ds []*drive
	for _, st := range s.sets {
		ds = append(ds, st.drives...)
	}
	return ds
}

// bucketInfo reads bucket.json on every drive; the bucket exists when at
// least as many drives have it as answer that they do not. A bucket found
// is remembered until DeleteBucket removes it: this process is the only
// one that changes the drives.
func (s *Store) bucketInfo(bucket string) (backends.BucketInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return backends.BucketInfo{}, backends.Errorf(backends.NoSuchBucket, "the specified bucket does not exist")
	}
	if bi, ok := s.bktKnown.Load(bucket); ok {
		return bi.(backends.BucketInfo), nil
	}
	gen := s.bktGen.Load()
	bi, err := s.readBucketInfo(bucket)
	if err == nil && s.bktGen.Load() == gen {
		s.bktKnown.Store(bucket, bi)
	}
	return bi, err
}

// forgetBucket drops a bucket from the known ones; DeleteBucket calls it
// once the bucket's files are gone.
func (s *Store) forgetBucket(bucket string) {
	s.bktGen.Add(1)
	s.bktKnown.Delete(bucket)
}

// readBucketInfo is bucketInfo from the drives.
func (s *Store) readBucketInfo(bucket string) (backends.BucketInfo, error) {
	ds := s.allDrives()
	// One drive's answer: its bucket file, or missing when the drive is
	// there and has none. A majority either way settles the outcome, so
	// a slow drive does not hold the request up (gather).
	type answer struct {
		bf      *bucketFile
		missing bool
	}
	as, _ := gather(len(ds), func(i int) answer {
		data, err := ds[i].readFile(ds[i].sys("buckets", bucket, "bucket.json"))
		if errors.Is(err, fs.ErrNotExist) {
			return answer{missing: ds[i].present()}
		}
		var bf bucketFile
		if err == nil && json.Unmarshal(data, &bf) == nil {
			return answer{bf: &bf}
		}
		return answer{}
	}, func(as []answer, got []bool) bool {
		have, not := 0, 0
		for i, a := range as {
			switch {
			case !got[i]:
			case a.bf != nil:
				have++
			case a.missing:
				not++
			}
		}
		return 2*have > len(as) || 2*not > len(as)
	})
	var have, not int
	var first *bucketFile
	for _, a := range as {
		if a.bf != nil {
			have++
			if first == nil || a.bf.Created.Before(first.Created) {
				first = a.bf
			}
		} else if a.missing {
			not++
		}
	}
	if have == 0 || have < not {
		return backends.BucketInfo{}, backends.Errorf(backends.NoSuchBucket, "the specified bucket does not exist")
	}
	return backends.BucketInfo{Name: bucket, Created: first.Created}, nil
}

func (s *Store) checkBucket(bucket string) error {
	_, err := s.bucketInfo(bucket)
	return err
}

func (s *Store) HeadBucket(ctx context.Context, bucket string) (backends.BucketInfo, error) {
	return s.bucketInfo(bucket)
}

func (s *Store) ListBuckets(ctx context.Context) ([]backends.BucketInfo, error) {
	names := map[string]bool{}
	for _, d := range s.allDrives() {
		ents, _ := d.readDir(d.sys("buckets"))
		for _, e := range ents {
			names[e.Name()] = true
		}
	}
	var out []backends.BucketInfo
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}) {
		if bi, err := s.bucketInfo(n); err == nil {
			out = append(out, bi)
		}
	}
	return out, nil
}

// bucketQuorum is how many drives a bucket operation must reach: more
// than half of all drives.
func (s *Store) bucketQuorum() int { return len(s.allDrives())/2 + 1 }

func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	if err := checkBucketName(bucket); err != nil {
		return err
	}
	s.bktLock.Lock()
	defer s.bktLock.Unlock()
	if _, err := s.bucketInfo(bucket); err == nil {
		return backends.Errorf(backends.BucketExists, "the bucket %s already exists", bucket)
	}
	data, _ := json.Marshal(bucketFile{Version: 1, Created: time.Now().UTC()})
	ds := s.allDrives()
	ok := 0
	for _, d := range ds {
		if d.makeBucket(bucket, data, !s.opts.NoSync) == nil {
			ok++
		}
	}
	if ok < s.bucketQuorum() {
		for _, d := range ds {
			d.removeBucket(bucket)
		}
		s.forgetBucket(bucket) // a lookup meanwhile may have found it
		return quorumErr(ok, len(ds))
	}
	return nil
}

func (d *drive) makeBucket(bucket string, bf []byte, sync bool) error {
	if !d.present() {
		return errNoDrive
	}
	// A left-over from an earlier bucket of that name goes first.
	d.removeBucket(bucket)
	if err := d.mkdir(d.bucketDir(bucket)); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := d.mkdirAll(d.sys("buckets", bucket)); err != nil {
		return err
	}
	tmp := d.tmp("bucket-" + randHex(8))
	if err := d.writeFile(tmp, bf, sync); err != nil {
		return err
	}
	return d.renameSync(tmp, d.sys("buckets", bucket, "bucket.json"), sync)
}

func (d *drive) removeBucket(bucket string) {
	if !d.present() {
		return
	}
	// Unpublish bucket.json first: a half-removed bucket is gone.
	d.remove(d.sys("buckets", bucket, "bucket.json"))
	d.removeAll(d.sys("buckets", bucket))
	d.removeAll(d.sys("multipart", bucket))
	d.removeAll(d.bucketDir(bucket))
}

func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	s.bktLock.Lock()
	defer s.bktLock.Unlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return err
	}
	// Any key counts, also one whose versions are all noncurrent or
	// delete markers.
	found := false
	if err := s.mergeWalk(ctx, bucket, "", "", func(string, *set, []int) (string, bool) {
		found = true
		return "", false
	}); err != nil {
		return err
	}
	if found {
		return backends.Errorf(backends.NotEmpty, "the bucket %s is not empty", bucket)
	}
	// Uploads in progress go with the bucket, as on AWS.
	for _, d := range s.allDrives() {
		d.removeBucket(bucket)
	}
	s.forgetBucket(bucket)
	return nil
}

func checkConfigName(name string) error {
	if name == "" || name == "bucket.json" || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
		return backends.Errorf(backends.InvalidArgument, "invalid bucket document name %q", name)
	}
	return nil
}

func (s *Store) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	if err := checkConfigName(name); err != nil {
		return nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	// The value most drives hold wins; "not there" counts as a value.
	votes := map[string]int{}
	var best string
	bestN := 0
	for _, d := range s.allDrives() {
		if !d.present() {
			continue
		}
		data, err := d.readFile(d.sys("buckets", bucket, "cfg."+name))
		k := "\x00missing"
		if err == nil {
			k = "=" + string(data)
		} else if !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		votes[k]++
		if votes[k] > bestN {
			best, bestN = k, votes[k]
		}
	}
	if bestN == 0 || best == "\x00missing" {
		return nil, backends.Errorf(backends.NotFound, "the bucket has no %s document", name)
	}
	return []byte(best[1:]), nil
}

func (s *Store) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if err := checkConfigName(name); err != nil {
		return err
	}
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	ds := s.allDrives()
	ok := 0
	for _, d := range ds {
		if !d.present() {
			continue
		}
		p := d.sys("buckets", bucket, "cfg."+name)
		if data == nil {
			if err := d.remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
				ok++
			}
			continue
		}
		tmp := d.tmp("cfg-" + randHex(8))
		if err := d.writeFile(tmp, data, !s.opts.NoSync); err != nil {
			continue
		}
		if err := d.mkdirAll(filepath.Dir(p)); err == nil && d.rename(tmp, p) == nil {
			ok++
		} else {
			d.remove(tmp)
		}
	}
	if ok < s.bucketQuorum() {
		return quorumErr(ok, len(ds))
	}
	return nil
}

// ---- object metadata and deletion ----

// deleteObject removes an object's meta.json (which unpublishes it), then
// its data dirs, then the folders left empty up to the bucket's folder.
func (d *drive) deleteObject(bucket, kp string) error {
	if !d.present() {
		return errNoDrive
	}
	objDir := d.objDir(bucket, kp)
	trash := d.tmp("del-" + randHex(8))
	if err := d.rename(filepath.Join(objDir, metaName), trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.remove(trash)
	if ents, err := d.readDir(objDir); err == nil {
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, "~") && !strings.HasPrefix(n, "~~") && n != folderMark {
				d.removeAll(filepath.Join(objDir, n))
			}
		}
	}
	d.pruneDirs(bucket, objDir)
	return nil
}

// pruneDirs removes empty folders from dir up to (not including) the
// bucket's folder.
func (d *drive) pruneDirs(bucket, dir string) {
	root := d.bucketDir(bucket)
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if d.remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

var _ = bytes.Equal
