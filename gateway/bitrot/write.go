package bitrot

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"

	"github.com/minio/highwayhash"

	"github.com/strata-storage/strata/backends"
)

// hasher hashes a stream block by block as it goes through. The hashes
// are collected in sums, or written to out when it is set.
type hasher struct {
	bs      int64
	h       hash.Hash
	inBlock int64 // bytes of the current block so far
	size    int64
	sums    []byte
	out     io.Writer
	buf     [HashSize]byte
}

func newHasher(bs int64) *hasher {
	h, _ := highwayhash.New(Key)
	return &hasher{bs: bs, h: h}
}

func (h *hasher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(int64(len(p)), h.bs-h.inBlock)
		h.h.Write(p[:k])
		h.inBlock += k
		h.size += k
		p = p[k:]
		if h.inBlock == h.bs {
			if err := h.emit(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (h *hasher) emit() error {
	h.inBlock = 0
	if h.out != nil {
		sum := h.h.Sum(h.buf[:0])
		h.h.Reset()
		_, err := h.out.Write(sum)
		return err
	}
	h.sums = h.h.Sum(h.sums)
	h.h.Reset()
	return nil
}

// finish hashes the last, short block.
func (h *hasher) finish() error {
	if h.inBlock > 0 {
		return h.emit()
	}
	return nil
}

// hashingReader hashes what is read through it, block by block, on a
// goroutine of its own: the stream goes on while the previous block is
// hashed (a copy of each block costs far less than its hash). When the
// source ends it calls atEOF with the hashes before returning io.EOF: that
// is where they are stored and the metadata completed, before the backend
// publishes anything. An error of atEOF is returned instead of io.EOF, so
// nothing is published. close must be called when the reader is done with.
type hashingReader struct {
	r     io.Reader
	l     *Layer
	atEOF func(sums []byte, size int64) error

	buf  *[]byte // the block being filled
	fill int64
	size int64

	jobs   chan *[]byte // full blocks, hashed in order by the goroutine
	wg     sync.WaitGroup
	sums   []byte // the goroutine's until wg.Wait
	closed bool

	done bool
	err  error
}

func (r *hashingReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	r.add(p[:n])
	if err == io.EOF {
		r.done, r.err = true, io.EOF
		sums := r.finish()
		if e := r.atEOF(sums, r.size); e != nil {
			r.err = e
		}
		return n, r.err
	}
	return n, err
}

func (r *hashingReader) add(p []byte) {
	r.size += int64(len(p))
	for len(p) > 0 {
		if r.buf == nil {
			r.buf = r.l.getBuf(r.l.bs)
		}
		k := copy((*r.buf)[r.fill:r.l.bs], p)
		r.fill += int64(k)
		p = p[k:]
		if r.fill == r.l.bs {
			if r.jobs == nil {
				r.start()
			}
			r.jobs <- r.buf
			r.buf, r.fill = nil, 0
		}
	}
}

func (r *hashingReader) start() {
	r.jobs = make(chan *[]byte, 2)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for b := range r.jobs {
			sum := highwayhash.Sum(*b, Key)
			r.sums = append(r.sums, sum[:]...)
			r.l.putBuf(b)
		}
	}()
}

// finish hashes the last, short block and returns all the hashes.
func (r *hashingReader) finish() []byte {
	r.close()
	if r.fill > 0 {
		sum := highwayhash.Sum((*r.buf)[:r.fill], Key)
		r.sums = append(r.sums, sum[:]...)
	}
	r.l.putBuf(r.buf)
	r.buf, r.fill = nil, 0
	return r.sums
}

// close stops the hashing goroutine.
func (r *hashingReader) close() {
	if r.jobs != nil && !r.closed {
		r.closed = true
		close(r.jobs)
		r.wg.Wait()
	}
}

// seal turns the hashes of a finished stream into a record, writing a
// hash object first when there are more than MaxInline of them.
func (l *Layer) seal(ctx context.Context, bucket string, sums []byte, size int64) (*record, error) {
	r := &record{bs: l.bs, size: size}
	if len(sums) <= MaxInline*HashSize {
		r.inline = sums
		if r.inline == nil {
			r.inline = []byte{}
		}
		return r, nil
	}
	r.ref = newID()
	if err := l.putHashObject(ctx, bucket, r.ref, bytes.NewReader(sums)); err != nil {
		return nil, err
	}
	return r, nil
}

// putHashObject writes the hash object id with the hashes read from sums.
func (l *Layer) putHashObject(ctx context.Context, bucket, id string, sums io.Reader) error {
	m := &backends.Meta{ContentType: "application/octet-stream"}
	md := md5.New()
	var n int64
	src := io.TeeReader(io.MultiReader(bytes.NewReader([]byte(hashObjectHeader)), sums), md)
	rd := &eofFunc{r: src, n: &n, f: func() {
		m.ETag, m.Size = hex.EncodeToString(md.Sum(nil)), n
	}}
	if _, err := l.Backend.PutObject(ctx, bucket, hashKey(id), rd, backends.PutOptions{Meta: m}); err != nil {
		return backends.Wrap(backends.KindOf(err), err, "bitrot: cannot store the hashes")
	}
	return nil
}

// eofFunc calls f when r returns io.EOF, counting bytes in n.
type eofFunc struct {
	r io.Reader
	n *int64
	f func()
}

func (e *eofFunc) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	*e.n += int64(n)
	if err == io.EOF && e.f != nil {
		e.f()
		e.f = nil
	}
	return n, err
}

// replacedRef returns where the ID of the hash object of the object that
// a write with opts replaces is once the write is done: the backend names
// that object under its lock (opts.Replaced) where it can; elsewhere it is
// read now.
func (l *Layer) replacedRef(ctx context.Context, bucket, key string, opts *backends.PutOptions) *string {
	prev := new(string)
	if !backends.ReportsChanges(l.Backend, bucket) {
		*prev = l.currentRef(ctx, bucket, key)
		return prev
	}
	above := opts.Replaced
	opts.Replaced = func(old backends.Meta) {
		if r, err := parseRecord(old.Sys); err == nil {
			*prev = r.ref
		}
		if above != nil {
			above(old)
		}
	}
	return prev
}

// PutObject stores data with the hashes of its blocks.
func (l *Layer) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	if l.passThrough(bucket) {
		return l.Backend.PutObject(ctx, bucket, key, data, opts)
	}
	prev := l.replacedRef(ctx, bucket, key, &opts)
	caller := opts.Meta
	var meta backends.Meta
	var rec *record
	hr := &hashingReader{r: data, l: l, atEOF: func(sums []byte, size int64) error {
		r, err := l.seal(ctx, bucket, sums, size)
		if err != nil {
			return err
		}
		rec = r
		if caller != nil {
			meta = *caller
		}
		meta.Sys = withRecord(meta.Sys, r)
		return nil
	}}
	defer hr.finish()
	opts.Meta = &meta
	info, err := l.Backend.PutObject(ctx, bucket, key, hr, opts)
	if err != nil {
		if rec != nil {
			l.removeHashObject(bucket, rec.ref)
		}
		return info, err
	}
	if rec == nil {
		// The backend published without reading to the end: it broke the
		// contract, and the object has no hashes. Say so, loudly.
		l.log.Error("bitrot: the backend stored an object without reading its data to the end", "bucket", bucket, "key", key)
	} else if *prev != rec.ref {
		l.removeHashObject(bucket, *prev)
	}
	return info, nil
}

// UploadPart stores a part with the hashes of its blocks in its Sys.
func (l *Layer) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.PartInfo{}, err
	}
	if l.passThrough(bucket) {
		return l.Backend.UploadPart(ctx, bucket, key, uploadID, number, data, meta)
	}
	var m backends.Meta
	var rec *record
	hr := &hashingReader{r: data, l: l, atEOF: func(sums []byte, size int64) error {
		r, err := l.seal(ctx, bucket, sums, size)
		if err != nil {
			return err
		}
		rec = r
		if meta != nil {
			m = *meta
		}
		m.Sys = withRecord(m.Sys, r)
		return nil
	}}
	defer hr.finish()
	p, err := l.Backend.UploadPart(ctx, bucket, key, uploadID, number, hr, &m)
	if err != nil {
		if rec != nil {
			l.removeHashObject(bucket, rec.ref)
		}
		return p, err
	}
	if rec != nil {
		p.Sys = withRecord(p.Sys, rec)
	}
	return p, nil
}

// partRecords returns the records of the given parts, from the Sys of the
// caller's part list (s3api builds it from ListParts) or else from
// ListParts; nil when any part has none (a backend that does not keep
// PartInfo.Sys, or parts uploaded before the layer was on).
func (l *Layer) partRecords(ctx context.Context, bucket, key, uploadID string, parts []int, given []backends.PartInfo) ([]*record, []int64) {
	recs := make([]*record, len(parts))
	sizes := make([]int64, len(parts))
	byNum := make(map[int]backends.PartInfo, len(given))
	for _, p := range given {
		byNum[p.Number] = p
	}
	var listed map[int]backends.PartInfo
	for i, n := range parts {
		p, ok := byNum[n]
		r, err := parseRecord(p.Sys)
		if !ok || err != nil {
			if listed == nil {
				_, ps, lerr := l.Backend.ListParts(ctx, bucket, key, uploadID)
				if lerr != nil {
					return nil, nil
				}
				listed = make(map[int]backends.PartInfo, len(ps))
				for _, q := range ps {
					listed[q.Number] = q
				}
			}
			q, found := listed[n]
			if !found || (ok && (q.ETag != p.ETag || q.Size != p.Size)) {
				return nil, nil
			}
			p = q
			if r, err = parseRecord(p.Sys); err != nil {
				return nil, nil
			}
		}
		if r.size != p.Size || len(r.segs) > 1 || (i > 0 && r.bs != recs[0].bs) {
			return nil, nil
		}
		recs[i], sizes[i] = r, p.Size
	}
	return recs, sizes
}

// joinParts makes the object's record from its parts' records, writing a
// new hash object with all their hashes when they are too many to inline.
func (l *Layer) joinParts(ctx context.Context, bucket string, recs []*record, sizes []int64) (*record, error) {
	r := &record{bs: recs[0].bs}
	nb := 0
	for i, pr := range recs {
		r.size += sizes[i]
		nb += pr.blocks()
	}
	if len(recs) > 1 {
		r.segs = sizes
	}
	if nb <= MaxInline {
		r.inline = []byte{}
		for _, pr := range recs {
			r.inline = append(r.inline, pr.inline...)
		}
		return r, nil
	}
	r.ref = newID()
	src := &partHashes{l: l, ctx: ctx, bucket: bucket, recs: recs}
	defer src.close()
	if err := l.putHashObject(ctx, bucket, r.ref, src); err != nil {
		return nil, err
	}
	return r, nil
}

// partHashes reads the hashes of parts one after the other, opening each
// part's hash object only when it is reached.
type partHashes struct {
	l      *Layer
	ctx    context.Context
	bucket string
	recs   []*record
	cur    io.Reader
	body   io.Closer
}

func (p *partHashes) Read(b []byte) (int, error) {
	for {
		if p.cur != nil {
			n, err := p.cur.Read(b)
			if err != io.EOF {
				return n, err
			}
			p.close()
			if n > 0 {
				return n, nil
			}
		}
		if len(p.recs) == 0 {
			return 0, io.EOF
		}
		r := p.recs[0]
		p.recs = p.recs[1:]
		if r.ref == "" {
			p.cur = bytes.NewReader(r.inline)
			continue
		}
		want := int64(r.blocks()) * HashSize
		body, info, err := p.l.Backend.GetObject(p.ctx, p.bucket, hashKey(r.ref), &backends.Range{Start: int64(len(hashObjectHeader)), End: -1})
		if err != nil {
			return 0, err
		}
		if info.Size != int64(len(hashObjectHeader))+want {
			body.Close()
			return 0, errors.New("bitrot: the hash object of a part has the wrong size")
		}
		p.cur, p.body = io.LimitReader(body, want), body
	}
}

func (p *partHashes) close() {
	if p.body != nil {
		p.body.Close()
	}
	p.cur, p.body = nil, nil
}

// CompleteMultipartUpload joins the parts' hashes into the object's
// record: blocks restart at each part, so the parts' hashes stay valid.
func (l *Layer) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	if l.passThrough(bucket) {
		return l.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, opts)
	}
	meta := opts.MetaValue()
	recs, sizes := l.partRecords(ctx, bucket, key, uploadID, parts, meta.Parts)
	var rec *record
	if len(recs) > 0 {
		var err error
		if rec, err = l.joinParts(ctx, bucket, recs, sizes); err != nil {
			if !backends.Is(err, backends.NoSuchKey) {
				return backends.ObjectInfo{}, err
			}
			// A part's hash object is gone (the upload was completed or
			// aborted meanwhile, or the scan took it): let the backend
			// decide, and hash the object from its data if it completes.
			rec, recs = nil, nil
		}
	}
	prev := l.replacedRef(ctx, bucket, key, &opts)
	m := meta
	m.Sys = withRecord(meta.Sys, rec)
	// The object's record holds everything: the parts' own entries would
	// only double the metadata (and name hash objects removed below).
	if len(meta.Parts) > 0 {
		m.Parts = make([]backends.PartInfo, len(meta.Parts))
		for i, p := range meta.Parts {
			p.Sys = stripSys(p.Sys)
			m.Parts[i] = p
		}
	}
	opts.Meta = &m
	info, err := l.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, opts)
	if err != nil {
		// The parts' hash objects stay with the upload (a failed
		// condition keeps it); only the joined record goes.
		if rec != nil {
			l.removeHashObject(bucket, rec.ref)
		}
		return info, err
	}
	for _, pr := range recs {
		l.removeHashObject(bucket, pr.ref)
	}
	if rec == nil || *prev != rec.ref {
		l.removeHashObject(bucket, *prev)
	}
	if rec == nil {
		// The parts' hashes were not kept: hash the object from its data.
		l.log.Debug("bitrot: hashing a completed upload whose parts have no hashes", "bucket", bucket, "key", key)
		if _, herr := l.hash(ctx, bucket, key, false); herr != nil {
			l.log.Warn("bitrot: cannot hash a completed upload; it is served unverified until a scan hashes it",
				"bucket", bucket, "key", key, "err", herr)
		} else if i, herr := l.Backend.HeadObject(ctx, bucket, key); herr == nil {
			info = i
		}
	}
	return info, nil
}

// AbortMultipartUpload removes the parts' hash objects too.
func (l *Layer) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if l.passThrough(bucket) {
		return l.Backend.AbortMultipartUpload(ctx, bucket, key, uploadID)
	}
	var refs []string
	if _, ps, err := l.Backend.ListParts(ctx, bucket, key, uploadID); err == nil {
		for _, p := range ps {
			if r, err := parseRecord(p.Sys); err == nil && r.ref != "" {
				refs = append(refs, r.ref)
			}
		}
	}
	if err := l.Backend.AbortMultipartUpload(ctx, bucket, key, uploadID); err != nil {
		return err
	}
	for _, id := range refs {
		l.removeHashObject(bucket, id)
	}
	return nil
}
