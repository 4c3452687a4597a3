package erasure

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
)

// A multipart upload is staged on the drives of its key's set, in
// .strata.sys/multipart/<bucket>/<uploadID>/: upload.json, and per part a
// shard file part.<N>.<writeID> and its record part.<N>.json. Parts are
// erasure-coded as they arrive; Complete moves the part files into the new
// object's data dir and writes meta.json: parts are never rewritten.

type uploadFile struct {
	Version   int           `json:"version"`
	Key       string        `json:"key"`
	UploadID  string        `json:"uploadId"`
	Initiated time.Time     `json:"initiated"`
	Meta      backends.Meta `json:"meta"`
	Erasure   erasureInfo   `json:"ec"`
}

type partFile struct {
	Version int               `json:"version"`
	Part    backends.PartInfo `json:"part"`
	WriteID string            `json:"wid"`
}

func (d *drive) uploadDir(bucket, id string) string { return d.sys("multipart", bucket, id) }

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func noSuchUpload() error {
	return backends.Errorf(backends.NoSuchUpload, "the specified upload does not exist")
}

func (s *Store) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if _, err := keyPath(key); err != nil {
		return "", err
	}
	if err := s.checkBucket(bucket); err != nil {
		return "", err
	}
	st := s.setFor(bucket, key)
	e := s.layoutFor(st, bucket, key, meta.StorageClass)
	id := randHex(16)
	data, err := json.Marshal(uploadFile{Version: 1, Key: key, UploadID: id, Initiated: time.Now().UTC(), Meta: meta, Erasure: e})
	if err != nil {
		return "", err
	}
	ok := 0
	for _, d := range st.drives {
		if !d.present() {
			continue
		}
		dir := d.uploadDir(bucket, id)
		tmp := d.tmp("up-" + id)
		if d.mkdirAll(dir) == nil && d.writeFile(tmp, data, !s.opts.NoSync) == nil &&
			d.renameSync(tmp, filepath.Join(dir, "upload.json"), !s.opts.NoSync) == nil {
			ok++
		}
	}
	if ok < writeQuorum(e) {
		for _, d := range st.drives {
			d.removeAll(d.uploadDir(bucket, id))
		}
		return "", quorumErr(ok, len(st.drives))
	}
	return id, nil
}

// readUpload returns the upload when a read quorum of the set holds it
// for this key.
func (s *Store) readUpload(st *set, bucket, key, id string) (*uploadFile, []bool, error) {
	if !validUploadID(id) {
		return nil, nil, noSuchUpload()
	}
	has := make([]bool, len(st.drives))
	var up *uploadFile
	n := 0
	for pos, d := range st.drives {
		data, err := d.readFile(filepath.Join(d.uploadDir(bucket, id), "upload.json"))
		if err != nil {
			continue
		}
		var u uploadFile
		if json.Unmarshal(data, &u) != nil || u.Key != key || u.UploadID != id {
			continue
		}
		has[pos] = true
		n++
		up = &u
	}
	if up == nil || n < up.Erasure.Data {
		return nil, nil, noSuchUpload()
	}
	return up, has, nil
}

type partRec struct {
	partFile
	has []bool // drive positions holding this part's shard
}

// readParts returns the parts that a read quorum of drives agrees on.
func (s *Store) readParts(st *set, bucket, id string, e erasureInfo) map[int]*partRec {
	byWID := map[string]*partRec{}
	for pos, d := range st.drives {
		dir := d.uploadDir(bucket, id)
		ents, _ := d.readDir(dir)
		for _, ent := range ents {
			name := ent.Name()
			if !strings.HasPrefix(name, "part.") || !strings.HasSuffix(name, ".json") {
				continue
			}
			data, err := d.readFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			var pf partFile
			if json.Unmarshal(data, &pf) != nil {
				continue
			}
			r := byWID[pf.WriteID]
			if r == nil {
				r = &partRec{partFile: pf, has: make([]bool, len(st.drives))}
				byWID[pf.WriteID] = r
			}
			r.has[pos] = true
		}
	}
	out := map[int]*partRec{}
	for _, r := range byWID {
		n := 0
		for _, h := range r.has {
			if h {
				n++
			}
		}
		if n < e.Data {
			continue
		}
		if o := out[r.Part.Number]; o == nil || r.Part.ModTime.After(o.Part.ModTime) {
			out[r.Part.Number] = r
		}
	}
	return out
}

func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	if err := s.checkBucket(bucket); err != nil {
		return backends.PartInfo{}, err
	}
	if number < 1 || number > 10000 {
		return backends.PartInfo{}, backends.Errorf(backends.InvalidArgument, "part number must be from 1 to 10000")
	}
	st := s.setFor(bucket, key)
	up, _, err := s.readUpload(st, bucket, key, uploadID)
	if err != nil {
		return backends.PartInfo{}, err
	}
	e := up.Erasure
	wid := newUUID()
	w, err := s.stageData(ctx, st, e, wid, "part", data)
	if err != nil {
		return backends.PartInfo{}, err
	}
	if meta == nil {
		meta = &backends.Meta{}
	}
	p := backends.PartInfo{Number: number, Size: w.size, ETag: meta.ETag, ModTime: time.Now().UTC(), Checksums: meta.Checksums, Sys: meta.Sys}
	pdata, err := json.Marshal(partFile{Version: 1, Part: p, WriteID: wid})
	if err != nil {
		s.discard(st, w)
		return backends.PartInfo{}, err
	}
	l := s.lock(bucket, key)
	l.Lock()
	defer l.Unlock()
	if _, _, err := s.readUpload(st, bucket, key, uploadID); err != nil {
		s.discard(st, w)
		return backends.PartInfo{}, err
	}
	ok := 0
	pname := "part." + strconv.Itoa(number)
	for pos, d := range st.drives {
		if !w.ok[pos] {
			continue
		}
		dir := d.uploadDir(bucket, uploadID)
		var old partFile
		if b, err := d.readFile(filepath.Join(dir, pname+".json")); err == nil {
			json.Unmarshal(b, &old)
		}
		tmp := d.tmp(wid + ".part")
		if d.rename(filepath.Join(d.tmp(wid), "part"), filepath.Join(dir, pname+"."+wid)) == nil &&
			d.writeFile(tmp, pdata, !s.opts.NoSync) == nil &&
			d.renameSync(tmp, filepath.Join(dir, pname+".json"), !s.opts.NoSync) == nil {
			ok++
			if old.WriteID != "" && old.WriteID != wid {
				d.remove(filepath.Join(dir, pname+"."+old.WriteID))
			}
		}
		d.remove(tmp)
	}
	s.discard(st, w)
	if ok < writeQuorum(e) {
		return backends.PartInfo{}, quorumErr(ok, len(st.drives))
	}
	return p, nil
}

func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) (backends.Upload, []backends.PartInfo, error) {
	if err := s.checkBucket(bucket); err != nil {
		return backends.Upload{}, nil, err
	}
	st := s.setFor(bucket, key)
	up, _, err := s.readUpload(st, bucket, key, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	var parts []backends.PartInfo
	for _, r := range s.readParts(st, bucket, uploadID, up.Erasure) {
		parts = append(parts, r.Part)
	}
	slices.SortFunc(parts, func(a, b backends.PartInfo) int { return a.Number - b.Number })
	return backends.Upload{Key: key, UploadID: uploadID, Initiated: up.Initiated, Meta: up.Meta}, parts, nil
}

func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	vs, err := s.complete(bucket, key, "null", uploadID, parts, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return info(key, &vs[0]), nil
}

// CompleteMultipartVersion publishes an upload as version id of key
// (backends.VersionStore).
func (s *Store) CompleteMultipartVersion(ctx context.Context, bucket, key, id, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	vs, err := s.complete(bucket, key, id, uploadID, parts, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return versionInfo(key, vs, 0), nil
}

func (s *Store) complete(bucket, key, id, uploadID string, parts []int, opts backends.PutOptions) ([]version, error) {
	kp, err := keyPath(key)
	if err != nil {
		return nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	st := s.setFor(bucket, key)
	l := s.lock(bucket, key)
	l.Lock()
	defer l.Unlock()
	up, _, err := s.readUpload(st, bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	e := up.Erasure
	recs := s.readParts(st, bucket, uploadID, e)
	var layout []partLayout
	var size int64
	for i, n := range parts {
		r := recs[n]
		if r == nil {
			return nil, backends.Errorf(backends.InvalidPart, "part %d was not uploaded", n)
		}
		if i > 0 && n <= parts[i-1] {
			return nil, backends.Errorf(backends.InvalidPartOrder, "parts are not in ascending order")
		}
		layout = append(layout, partLayout{Number: n, Size: r.Part.Size})
		size += r.Part.Size
	}
	// The conditions, under the key's lock held to the publish, before
	// the parts leave the upload: a failed one keeps the upload whole.
	if opts.IfNoneMatch || opts.IfMatch != "" {
		cur, err := s.current(st, bucket, key, kp, id == "null")
		if err != nil {
			return nil, err
		}
		if err := checkCond(cur, key, &opts); err != nil {
			return nil, err
		}
	}
	meta := opts.MetaValue()
	wid := newUUID()
	w := &staged{wid: wid, e: e, ok: make([]bool, len(st.drives)), data: true, size: size}
	for pos, d := range st.drives {
		if !d.present() || d.mkdir(d.tmp(wid)) != nil {
			continue
		}
		dir := d.uploadDir(bucket, uploadID)
		good := true
		for _, pl := range layout {
			r := recs[pl.Number]
			name := "part." + strconv.Itoa(pl.Number)
			if !r.has[pos] || d.rename(filepath.Join(dir, name+"."+r.WriteID), filepath.Join(d.tmp(wid), name)) != nil {
				good = false
			}
		}
		// A drive missing a part still gets the object's meta.json (heal
		// rebuilds the part files) as long as the data dir exists.
		w.ok[pos] = true
		_ = good
	}
	v := version{ID: id, WriteID: wid, Erasure: e, DataDir: wid, Parts: layout, Meta: meta}
	v.Meta.Size = size
	v.Meta.ModTime = time.Now().UTC()
	v.Meta.Parts = cloneParts(meta.Parts)
	out, err := s.commitLocked(st, bucket, key, kp, w, v, nil)
	if err != nil {
		return nil, err
	}
	for _, d := range st.drives {
		d.removeAll(d.uploadDir(bucket, uploadID))
	}
	return out, nil
}

func (s *Store) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	st := s.setFor(bucket, key)
	l := s.lock(bucket, key)
	l.Lock()
	defer l.Unlock()
	if _, _, err := s.readUpload(st, bucket, key, uploadID); err != nil {
		return err
	}
	for _, d := range st.drives {
		d.removeAll(d.uploadDir(bucket, uploadID))
	}
	return nil
}

func (s *Store) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []backends.Upload
	for _, d := range s.allDrives() {
		ents, _ := d.readDir(d.sys("multipart", bucket))
		for _, ent := range ents {
			id := ent.Name()
			if seen[id] {
				continue
			}
			data, err := d.readFile(filepath.Join(d.uploadDir(bucket, id), "upload.json"))
			if err != nil {
				continue
			}
			var u uploadFile
			if json.Unmarshal(data, &u) != nil || !strings.HasPrefix(u.Key, prefix) {
				continue
			}
			if _, _, err := s.readUpload(s.setFor(bucket, u.Key), bucket, u.Key, id); err != nil {
				continue
			}
			seen[id] = true
			out = append(out, backends.Upload{Key: u.Key, UploadID: id, Initiated: u.Initiated, Meta: u.Meta})
		}
	}
	slices.SortFunc(out, func(a, b backends.Upload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Initiated.Compare(b.Initiated)
	})
	return out, nil
}
