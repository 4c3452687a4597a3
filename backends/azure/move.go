package azure

import (
	"context"
	"errors"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/strata-storage/strata/backends"
)

var (
	_ backends.Mover             = (*Backend)(nil)
	_ backends.IntegrityVerifier = (*Backend)(nil)
	_ backends.SysLister         = (*Backend)(nil)
)

// VerifiesIntegrity reports that Azure keeps its data whole (it checksums
// what it stores and checks it), so the bitrot layer steps aside.
func (b *Backend) VerifiesIntegrity(bucket string) bool { return true }

// ListsSys reports that listings carry Meta.Sys: List Blobs returns each
// blob's metadata, and Sys is in its reserved entry.
func (b *Backend) ListsSys(bucket string) bool { return true }

// MoveObject moves src to dst (backends.Mover): a server-side Copy Blob
// within the account, conditional on src's ETag, which gives dst the
// metadata of src (ETag and Last-Modified kept in the reserved entry, a
// parts list out of the entry copied to a blob of dst's own), then a delete
// of src. The content headers and Content-MD5 go with the copy.
func (b *Backend) MoveObject(ctx context.Context, bucket, src, dst string) error {
	if ok, err := readable(src); err != nil || !ok {
		if err == nil {
			err = noSuchKey(bucket, src)
		}
		return err
	}
	if err := checkKey(dst); err != nil {
		return err
	}
	var err error
	for try := 0; try < 3; try++ {
		if err = b.move(ctx, bucket, src, dst); !backends.Is(err, backends.PreconditionFailed) && !errors.Is(err, errPartsGone) {
			return err
		}
		// src changed between its HEAD and the copy: again.
	}
	return err
}

func (b *Backend) move(ctx context.Context, bucket, src, dst string) error {
	p, err := b.head(ctx, bucket, src)
	if err != nil {
		return err
	}
	info := objectInfo(src, p)
	if err := b.withParts(ctx, bucket, &info, p.metadata); err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	m := info.Meta
	enc, err := encodeMeta(&m, m.ETag, true)
	if err != nil {
		return err
	}
	if err := b.writeSide(ctx, bucket, enc); err != nil {
		return err
	}
	if err := b.copyBlob(ctx, bucket, src, dst, p.etag, enc); err != nil {
		b.dropSide(ctx, bucket, enc.sideName)
		return err
	}
	// A src written again since the copy stays: that write came after
	// this move.
	return b.deleteRead(ctx, bucket, src, p)
}

// copyBlob copies the blob src, if its Azure ETag is still etag, to dst
// with the metadata of enc, and waits for the copy to end.
func (b *Backend) copyBlob(ctx context.Context, bucket, src, dst, etag string, enc encoded) error {
	what := "azure: cannot copy " + bucket + "/" + src + " to " + dst
	dc := b.blob(bucket, dst)
	cctx, cancel := b.call(ctx)
	resp, err := dc.StartCopyFromURL(cctx, b.blob(bucket, src).URL(), &blob.StartCopyFromURLOptions{
		Metadata:                       enc.metadata,
		SourceModifiedAccessConditions: &blob.SourceModifiedAccessConditions{SourceIfMatch: ptr(azcore.ETag(etag))},
	})
	cancel()
	if err != nil {
		return mapErr(err, onBlob, what)
	}
	status := resp.CopyStatus
	// Within an account the copy is usually done when the request
	// returns; otherwise it runs on the service: wait for it.
	for delay := 50 * time.Millisecond; status != nil && *status == blob.CopyStatusTypePending; delay = min(2*delay, 2*time.Second) {
		select {
		case <-ctx.Done():
			b.abortCopy(bucket, dst, resp.CopyID)
			return ctx.Err()
		case <-time.After(delay):
		}
		cctx, cancel := b.call(ctx)
		pr, err := dc.GetProperties(cctx, nil)
		cancel()
		if err != nil {
			return mapErr(err, onBlob, what)
		}
		if pr.CopyID != nil && resp.CopyID != nil && *pr.CopyID != *resp.CopyID {
			return backends.Errorf(backends.Unavailable, "%s: another write to %s came first; try again", what, dst)
		}
		status = pr.CopyStatus
	}
	if status != nil && *status != blob.CopyStatusTypeSuccess {
		return backends.Errorf(backends.Unavailable, "%s: the copy ended %s", what, *status)
	}
	return nil
}

// abortCopy stops a pending copy (best effort).
func (b *Backend) abortCopy(bucket, dst string, id *string) {
	if id == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	b.blob(bucket, dst).AbortCopyFromURL(ctx, *id, nil)
}
