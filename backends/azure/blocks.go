package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/strata-storage/strata/backends"
)

// Block IDs. Azure wants every block ID of a blob to have the same length,
// so all of Strata's are 30 bytes (40 in base64):
//
//	16 bytes  the upload ID, or a random ID of the PutObject
//	 4 bytes  the part number (0 for PutObject)
//	 6 bytes  random, new for every upload of a part
//	 4 bytes  the sequence number of the block within the part
type blockPrefix [26]byte

func newBlockPrefix(id [16]byte, part int) blockPrefix {
	var p blockPrefix
	copy(p[:16], id[:])
	binary.BigEndian.PutUint32(p[16:20], uint32(part))
	rand.Read(p[20:26])
	return p
}

func (p blockPrefix) id(seq int) string {
	var raw [30]byte
	copy(raw[:], p[:])
	binary.BigEndian.PutUint32(raw[26:], uint32(seq))
	return base64.StdEncoding.EncodeToString(raw[:])
}

func (p blockPrefix) ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = p.id(i)
	}
	return out
}

// streamed is what stream read.
type streamed struct {
	size   int64
	blocks int    // staged, with IDs prefix.id(0..blocks-1)
	small  []byte // all of the data, when it fit one block and was not staged
	// release gives small's buffer back.
	release func()
}

// smallSize is the first read of a stream: most objects are small, and a
// request holds a whole block only when its object is larger than this.
const smallSize = 64 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallSize); return &b }}

func (b *Backend) getBuf() *[]byte  { return b.bufs.Get().(*[]byte) }
func (b *Backend) putBuf(p *[]byte) { b.bufs.Put(p) }

// stream reads r to io.EOF and stages it as blocks of bb with IDs from
// prefix, one block being sent while the next is read. When allowSmall and
// all of r fits in one block, nothing is staged: the data is returned in
// small, for the caller to send in one request and then release.
// Errors of r come back as they are, errors of Azure with their kinds.
// On any error nothing is committed; staged blocks stay uncommitted, which
// no reader sees, until a commit of the blob or Azure's garbage collection
// (a week) drops them.
func (b *Backend) stream(ctx context.Context, bb *blockblob.Client, r io.Reader, prefix blockPrefix, maxBlocks int, allowSmall bool) (streamed, error) {
	var res streamed
	if err := ctx.Err(); err != nil {
		return res, err
	}
	sb := smallBufs.Get().(*[]byte)
	n, eof, err := backends.ReadBlock(r, (*sb)[:min(smallSize, b.blockSize)])
	if err != nil {
		smallBufs.Put(sb)
		return res, err
	}
	if eof && allowSmall {
		res.small, res.size = (*sb)[:n], int64(n)
		res.release = func() { smallBufs.Put(sb) }
		return res, nil
	}
	buf := b.getBuf()
	copy(*buf, (*sb)[:n])
	smallBufs.Put(sb)
	if !eof {
		var m int
		m, eof, err = backends.ReadBlock(r, (*buf)[n:])
		n += m
		if err != nil {
			b.putBuf(buf)
			return res, err
		}
	}
	if eof && allowSmall {
		res.small, res.size = (*buf)[:n], int64(n)
		res.release = func() { b.putBuf(buf) }
		return res, nil
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type block struct {
		seq int
		buf *[]byte
		n   int
	}
	work := make(chan block)
	done := make(chan error, 1)
	go func() {
		var err error
		for blk := range work {
			if err == nil {
				err = b.stageBlock(ctx, bb, prefix.id(blk.seq), (*blk.buf)[:blk.n])
				if err != nil {
					cancel(err)
				}
			}
			b.putBuf(blk.buf)
		}
		done <- err
	}()
	// fail stops the stager and returns the first error, its or ours.
	fail := func(err error) (streamed, error) {
		cancel(err) // a no-op when the stager failed first
		close(work)
		<-done
		return streamed{}, context.Cause(ctx)
	}
	for {
		if n > 0 {
			if res.blocks == maxBlocks {
				b.putBuf(buf)
				return fail(backends.Errorf(backends.EntityTooLarge,
					"azure: more than %d blocks of %d bytes: raise block_size for larger objects", maxBlocks, b.blockSize))
			}
			select {
			case work <- block{res.blocks, buf, n}:
			case <-ctx.Done():
				b.putBuf(buf)
				return fail(context.Cause(ctx))
			}
			res.blocks++
			res.size += int64(n)
		} else {
			b.putBuf(buf)
		}
		if eof {
			break
		}
		if err := context.Cause(ctx); err != nil {
			return fail(err)
		}
		buf = b.getBuf()
		n, eof, err = backends.ReadBlock(r, *buf)
		if err != nil {
			b.putBuf(buf)
			return fail(err)
		}
	}
	close(work)
	if err := <-done; err != nil {
		return streamed{}, err
	}
	return res, nil
}

func (b *Backend) stageBlock(ctx context.Context, bb *blockblob.Client, id string, data []byte) error {
	cctx, cancel := context.WithTimeout(ctx, b.dataTimeout(len(data)))
	defer cancel()
	_, err := bb.StageBlock(cctx, id, nopCloser(data), nil)
	if code, _ := errCode(err); code == "InvalidBlobOrBlock" {
		return backends.Wrap(backends.Conflict, err,
			"azure: cannot stage a block: the blob has uncommitted blocks of another writer with IDs of another length")
	}
	return mapErr(err, onBlob, "azure: cannot stage a block")
}

func nopCloser(data []byte) io.ReadSeekCloser {
	return streaming.NopCloser(bytes.NewReader(data))
}

// readAllLimit reads r whole, failing beyond limit bytes.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = errors.New("more data than expected")
	}
	return data, err
}
