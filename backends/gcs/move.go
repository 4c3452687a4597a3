package gcs

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/storage"

	"github.com/strata-storage/strata/backends"
)

var (
	_ backends.Mover             = (*Backend)(nil)
	_ backends.IntegrityVerifier = (*Backend)(nil)
	_ backends.SysLister         = (*Backend)(nil)
)

// VerifiesIntegrity reports that GCS keeps its data whole (it checksums
// what it stores, CRC32C and MD5, and checks it), so the bitrot layer steps
// aside.
func (b *Backend) VerifiesIntegrity(bucket string) bool { return true }

// ListsSys reports that listings carry Meta.Sys: a listing returns each
// object's custom metadata, which holds Sys; the few objects whose Sys went
// to their sidecar have it read from there.
func (b *Backend) ListsSys(bucket string) bool { return true }

// MoveObject moves src to dst (backends.Mover): a server-side copy of the
// generation read (GCS's rewrite, which within a bucket and storage class
// moves no data) with src's metadata, its ETag and modification time kept
// in x-strata-meta and a sidecar of dst's own when it needs one; then src
// and its sidecar are deleted, conditional on that generation (a src
// written again meanwhile stays).
func (b *Backend) MoveObject(ctx context.Context, bucket, src, dst string) error {
	if err := checkKey(src); err != nil {
		return err
	}
	if err := checkKey(dst); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		a, err := b.attrs(ctx, bucket, src)
		if err != nil {
			return err
		}
		info, err := b.info(ctx, bucket, a)
		if errors.Is(err, errSideGone) && attempt < 10 {
			continue
		}
		if err != nil || src == dst {
			return err
		}
		m := info.Meta
		mtime := m.ModTime.UTC().Round(0)
		e, err := encodeMeta(&m, &mtime)
		if err != nil {
			return err
		}
		if e.side != nil {
			if _, err := b.writeSmall(ctx, bucket, e.sideName, e.side, storage.ObjectAttrs{ContentType: "application/json"}, &storage.Conditions{DoesNotExist: true}); err != nil {
				return err
			}
		}
		var oldSide string
		if old, err := b.attrs(ctx, bucket, dst); err == nil {
			oldSide = sideRef(old)
		}
		e.attrs.StorageClass = a.StorageClass
		_, err = b.publish(ctx, bucket, src, a.Generation, dst, e.attrs, nil)
		if err != nil {
			if e.side != nil {
				b.deleteGen(context.WithoutCancel(ctx), bucket, e.sideName, 0)
			}
			if backends.Is(err, backends.NoSuchBucket) {
				// A 404: the bucket, or the generation read, is gone.
				_, herr := b.attrs(ctx, bucket, src)
				if herr != nil {
					return herr // deleted meanwhile, or no bucket
				}
				if attempt < 10 {
					// Replaced meanwhile: move the new one.
					time.Sleep(time.Duration(attempt+1) * 2 * time.Millisecond)
					continue
				}
			}
			return err
		}
		bg := context.WithoutCancel(ctx)
		if oldSide != "" {
			b.deleteGen(bg, bucket, oldSide, 0)
		}
		cctx, cancel := b.op(ctx)
		err = b.obj(bucket, src).If(storage.Conditions{GenerationMatch: a.Generation}).Delete(cctx)
		cancel()
		switch k := backends.KindOf(mapErr(err, backends.NoSuchKey, "")); {
		case err == nil:
			if ref := sideRef(a); ref != "" {
				b.deleteGen(bg, bucket, ref, 0)
			}
		case k == backends.NoSuchKey, k == backends.PreconditionFailed:
			// Deleted or written again meanwhile: that came after.
		default:
			return mapErr(err, backends.NoSuchKey, "delete "+src)
		}
		return nil
	}
}
