package gcs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	raw "google.golang.org/api/storage/v1"

	"github.com/strata-storage/strata/backends"
)

// checkKey refuses keys that GCS cannot store and keys in Strata's reserved
// folder.
func checkKey(key string) error {
	if err := backends.CheckKey(key); err != nil {
		return err
	}
	switch {
	case key == "." || key == "..":
		return backends.Errorf(backends.InvalidKey, "gcs: object key %q is not a valid GCS object name", key)
	case strings.ContainsAny(key, "\r\n"):
		return backends.Errorf(backends.InvalidKey, "gcs: GCS object names cannot hold carriage returns or line feeds")
	case strings.HasPrefix(key, ".well-known/acme-challenge/"):
		return backends.Errorf(backends.InvalidKey, "gcs: GCS reserves object names under .well-known/acme-challenge/")
	case strings.HasPrefix(key, sysPrefix):
		return backends.Errorf(backends.InvalidKey, "gcs: object keys under %s are reserved for Strata", sysPrefix)
	}
	return nil
}

// attrs returns the attributes of an existing object; a missing object is
// NoSuchKey, or NoSuchBucket when the bucket is missing.
func (b *Backend) attrs(ctx context.Context, bucket, key string) (*storage.ObjectAttrs, error) {
	cctx, cancel := b.op(ctx)
	defer cancel()
	a, err := b.obj(bucket, key).Attrs(cctx)
	if err != nil {
		return nil, b.missing(ctx, bucket, mapErr(err, backends.NoSuchKey, "object "+key))
	}
	return a, nil
}

// ---- writes ----

// PutObject writes the object in one request when it ends within the first
// chunk: its metadata is then complete before anything is sent. A larger
// object is streamed to a staging object and copied into place with its
// final metadata, a server-side copy that GCS makes without moving the data
// (same bucket, same storage class). Either way the object appears whole or
// not at all.
func (b *Backend) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return backends.ObjectInfo{}, mapErr(err, backends.NoSuchKey, "put "+key)
	}
	meta := opts.Meta
	if meta == nil {
		meta = &backends.Meta{}
	}
	// Conditions are checked before the data is sent, so that a refused
	// write does not upload it, and again, atomically, when it is
	// published.
	cond, old, err := b.precondition(ctx, bucket, key, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	var sideName string
	final := func() (storage.ObjectAttrs, error) {
		e, err := encodeMeta(meta, nil)
		if err != nil {
			return e.attrs, err
		}
		if e.side != nil {
			if _, err := b.writeSmall(ctx, bucket, e.sideName, e.side, storage.ObjectAttrs{ContentType: "application/json"}, &storage.Conditions{DoesNotExist: true}); err != nil {
				return e.attrs, err
			}
			sideName = e.sideName
		}
		return e.attrs, nil
	}
	a, err := b.store(ctx, bucket, key, data, meta, final, cond)
	if err != nil {
		if sideName != "" {
			b.deleteGen(context.WithoutCancel(ctx), bucket, sideName, 0)
		}
		if backends.Is(err, backends.PreconditionFailed) && opts.IfMatch != "" {
			return backends.ObjectInfo{}, backends.Wrap(backends.PreconditionFailed, err, "gcs: "+key+" changed")
		}
		return backends.ObjectInfo{}, b.missing(ctx, bucket, err)
	}
	if old != nil {
		if ref := sideRef(old); ref != "" {
			b.deleteGen(context.WithoutCancel(ctx), bucket, ref, 0)
		}
	}
	info := backends.ObjectInfo{Key: key, Meta: *meta}
	info.Size, info.ModTime = a.Size, a.Created
	if info.ETag == "" {
		info.ETag = foreignETag(a)
	}
	return info, nil
}

// precondition checks opts' conditions against the current object, and
// returns the GCS conditions that make the publish atomic with the check
// (DoesNotExist, or the generation that matched, which is then old).
func (b *Backend) precondition(ctx context.Context, bucket, key string, opts backends.PutOptions) (cond *storage.Conditions, old *storage.ObjectAttrs, err error) {
	switch {
	case opts.IfNoneMatch:
		cctx, cancel := b.op(ctx)
		_, err := b.obj(bucket, key).Attrs(cctx)
		cancel()
		switch {
		case err == nil:
			return nil, nil, backends.Errorf(backends.PreconditionFailed, "gcs: %s exists", key)
		case !errors.Is(err, storage.ErrObjectNotExist):
			return nil, nil, mapErr(err, backends.NoSuchKey, "object "+key)
		}
		// A missing bucket shows when writing.
		return &storage.Conditions{DoesNotExist: true}, nil, nil
	case opts.IfMatch != "":
		a, err := b.attrs(ctx, bucket, key)
		if err != nil {
			return nil, nil, err
		}
		m, _ := decodeMeta(a)
		if strings.Trim(opts.IfMatch, `"`) != m.ETag && opts.IfMatch != "*" {
			return nil, nil, backends.Errorf(backends.PreconditionFailed, "gcs: %s has ETag %s", key, m.ETag)
		}
		return &storage.Conditions{GenerationMatch: a.Generation}, a, nil
	}
	return nil, nil, nil
}

// store writes data as the object name with the attributes that final
// returns once data has ended. meta gives the attributes known from the
// start, for a staging object. The write is published only if cond holds.
func (b *Backend) store(ctx context.Context, bucket, name string, data io.Reader, meta *backends.Meta,
	final func() (storage.ObjectAttrs, error), cond *storage.Conditions) (*storage.ObjectAttrs, error) {
	buf, eof, err := readUpTo(data, b.chunk+1)
	if err != nil {
		return nil, readErr(err)
	}
	if eof {
		attrs, err := final()
		if err != nil {
			return nil, err
		}
		return b.writeSmall(ctx, bucket, name, buf, attrs, cond)
	}

	// Stage, then publish by copy.
	tmp := tmpPrefix + newID()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := always(b.obj(bucket, tmp)).If(storage.Conditions{DoesNotExist: true}).NewWriter(wctx)
	if start, err := encodeMeta(meta, nil); err == nil {
		// Best effort: what is known now, in case a copy keeps what
		// it is not given.
		w.ObjectAttrs = start.attrs
		w.ObjectAttrs.Metadata = nil
	}
	w.Name, w.Bucket = tmp, bucket
	w.ForceEmptyContentType = true
	w.ChunkSize = b.chunk
	w.ChunkRetryDeadline = b.timeout
	if _, err := w.Write(buf); err != nil {
		cancel()
		w.Close()
		return nil, writeErr(err, name)
	}
	buf = nil
	if err := copyData(w, data); err != nil {
		cancel() // abandons the upload: nothing is published
		w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, writeErr(err, name)
	}
	staged := w.Attrs()
	defer b.deleteGen(context.WithoutCancel(ctx), bucket, tmp, staged.Generation)
	attrs, err := final()
	if err != nil {
		return nil, err
	}
	return b.publish(ctx, bucket, tmp, staged.Generation, name, attrs, cond)
}

// publish copies the staging object src into place as dst with attrs, if
// cond holds.
func (b *Backend) publish(ctx context.Context, bucket, src string, gen int64, dst string, attrs storage.ObjectAttrs, cond *storage.Conditions) (*storage.ObjectAttrs, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	h := b.obj(bucket, dst)
	if cond != nil {
		h = h.If(*cond)
	} else {
		h = always(h)
	}
	c := h.CopierFrom(b.obj(bucket, src).Generation(gen))
	c.ObjectAttrs = attrs
	a, err := c.Run(ctx)
	if err != nil {
		return nil, mapErr(err, backends.NoSuchBucket, "publish "+dst)
	}
	return a, nil
}

// readUpTo reads r until it ends or limit bytes have been read. eof reports
// that r returned io.EOF. The buffer grows with the data, so a small object
// costs little memory.
func readUpTo(r io.Reader, limit int) (buf []byte, eof bool, err error) {
	buf = make([]byte, 0, min(limit, 32<<10))
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= limit {
				return buf, false, nil
			}
			nb := make([]byte, len(buf), min(2*cap(buf), limit))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// copyData copies the rest of r to w. A failure of r is returned as it is;
// a failure of w is mapped.
func copyData(w io.Writer, r io.Reader) error {
	p := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(p)
		if n > 0 {
			if _, err := w.Write(p[:n]); err != nil {
				return writeErr(err, "")
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return readErr(rerr)
		}
	}
}

// readErr returns an error of the data being written: one with a kind
// (a bad digest found by the gateway's reader) as it is.
func readErr(err error) error {
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	return backends.Wrap(backends.Internal, err, "gcs: reading the data")
}

// ---- reads ----

func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	for attempt := 0; ; attempt++ {
		a, err := b.attrs(ctx, bucket, key)
		if err != nil {
			return nil, backends.ObjectInfo{}, err
		}
		info, err := b.info(ctx, bucket, a)
		if errors.Is(err, errSideGone) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, backends.ObjectInfo{}, err
		}
		off, n, err := rng.Resolve(a.Size)
		if err != nil {
			return nil, backends.ObjectInfo{}, err
		}
		if n == 0 {
			return io.NopCloser(bytes.NewReader(nil)), info, nil
		}
		if rng == nil {
			n = -1
		}
		// Read the generation whose metadata was read, as it is stored
		// (no decompressive transcoding: S3 returns the stored bytes).
		r, err := b.obj(bucket, key).Generation(a.Generation).ReadCompressed(true).NewRangeReader(ctx, off, n)
		if err != nil {
			if errors.Is(err, storage.ErrObjectNotExist) && attempt < 10 {
				// Replaced meanwhile: read the new one. (GCS takes
				// about one write per second to an object; the
				// emulator takes many more.)
				time.Sleep(time.Duration(rand.Int64N(int64(attempt+1) * int64(2*time.Millisecond))))
				continue
			}
			return nil, backends.ObjectInfo{}, b.missing(ctx, bucket, mapErr(err, backends.NoSuchKey, "read "+key))
		}
		return r, info, nil
	}
}

func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	for attempt := 0; ; attempt++ {
		a, err := b.attrs(ctx, bucket, key)
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		info, err := b.info(ctx, bucket, a)
		if errors.Is(err, errSideGone) && attempt < 10 {
			continue
		}
		return info, err
	}
}

// DeleteObject reads the object's generation first: the delete is then
// conditional on it, so that it can be retried safely, and a sidecar of the
// object is deleted with it.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	a, err := b.attrs(ctx, bucket, key)
	if backends.Is(err, backends.NoSuchKey) {
		return nil
	}
	if err != nil {
		return err
	}
	cctx, cancel := b.op(ctx)
	defer cancel()
	err = b.obj(bucket, key).If(storage.Conditions{GenerationMatch: a.Generation}).Delete(cctx)
	switch k := backends.KindOf(mapErr(err, backends.NoSuchKey, "")); {
	case err == nil:
	case k == backends.NoSuchKey:
		return nil
	case k == backends.PreconditionFailed:
		// Replaced meanwhile: that write came after this delete.
		return nil
	default:
		return mapErr(err, backends.NoSuchKey, "delete "+key)
	}
	if ref := sideRef(a); ref != "" {
		b.deleteGen(context.WithoutCancel(ctx), bucket, ref, 0)
	}
	return nil
}

// UpdateMeta patches the object's attributes in place (its generation, and
// so its data, stays): one PATCH request conditional on the generation and
// metageneration that were read, which also deletes the custom metadata
// entries that the new metadata lacks. The storage client cannot delete
// single entries, so the request goes through the JSON API service.
func (b *Backend) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	for attempt := 0; ; attempt++ {
		a, err := b.attrs(ctx, bucket, key)
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		cur, _ := decodeMeta(a)
		m := meta
		m.Size, m.ETag = a.Size, cur.ETag
		mtime := m.ModTime
		if mtime.IsZero() {
			mtime = time.Now()
		}
		mtime = mtime.UTC().Round(0)
		m.ModTime = mtime
		e, err := encodeMeta(&m, &mtime)
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		if e.side != nil {
			if _, err := b.writeSmall(ctx, bucket, e.sideName, e.side, storage.ObjectAttrs{ContentType: "application/json"}, &storage.Conditions{DoesNotExist: true}); err != nil {
				return backends.ObjectInfo{}, err
			}
		}
		err = b.patch(ctx, bucket, a, e.attrs)
		if err != nil {
			if e.side != nil {
				b.deleteGen(context.WithoutCancel(ctx), bucket, e.sideName, 0)
			}
			if backends.Is(err, backends.PreconditionFailed) && attempt < 4 {
				continue // changed meanwhile: patch the new state
			}
			return backends.ObjectInfo{}, b.missing(ctx, bucket, err)
		}
		if ref := sideRef(a); ref != "" {
			b.deleteGen(context.WithoutCancel(ctx), bucket, ref, 0)
		}
		return backends.ObjectInfo{Key: key, Meta: m}, nil
	}
}

// patch replaces the content headers and custom metadata of the object a
// with those of n, if a's generation and metageneration are still current.
func (b *Backend) patch(ctx context.Context, bucket string, a *storage.ObjectAttrs, n storage.ObjectAttrs) error {
	o := &raw.Object{
		ContentType:        n.ContentType,
		ContentEncoding:    n.ContentEncoding,
		ContentDisposition: n.ContentDisposition,
		ContentLanguage:    n.ContentLanguage,
		CacheControl:       n.CacheControl,
		Metadata:           n.Metadata,
		ForceSendFields:    []string{"Metadata"},
	}
	for field, v := range map[string]string{
		"ContentType": n.ContentType, "ContentEncoding": n.ContentEncoding, "ContentDisposition": n.ContentDisposition,
		"ContentLanguage": n.ContentLanguage, "CacheControl": n.CacheControl,
	} {
		if v == "" {
			o.NullFields = append(o.NullFields, field)
		} else {
			o.ForceSendFields = append(o.ForceSendFields, field)
		}
	}
	for k := range a.Metadata {
		if _, ok := n.Metadata[k]; !ok {
			o.NullFields = append(o.NullFields, "Metadata."+k)
		}
	}
	return b.retry(ctx, "update metadata of "+a.Name, func(ctx context.Context) error {
		_, err := b.raw.Objects.Patch(bucket, a.Name, o).
			IfGenerationMatch(a.Generation).IfMetagenerationMatch(a.Metageneration).
			Projection("noAcl").Context(ctx).Do()
		return err
	})
}

// retry runs a request that is idempotent (it has preconditions) until it
// succeeds, fails for good, or the attempts run out.
func (b *Backend) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := b.op(ctx)
		err := fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if attempt == 6 || !storage.ShouldRetry(err) || ctx.Err() != nil {
			return mapErr(err, backends.NoSuchKey, what)
		}
		select {
		case <-ctx.Done():
			return mapErr(ctx.Err(), backends.NoSuchKey, what)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}
