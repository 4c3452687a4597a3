package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync/atomic"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"google.golang.org/api/iterator"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/azure"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/backends/fsstore"
	"github.com/strata-storage/strata/backends/gcs"
	"github.com/strata-storage/strata/backends/nfs"
	s3b "github.com/strata-storage/strata/backends/s3"
	"github.com/strata-storage/strata/backends/smb"
	"github.com/strata-storage/strata/config"
)

// directTarget is the storage of the backend called name in the
// configuration file at path, reached through the client library that
// backend uses. The backend itself only makes sure the bucket exists.
func directTarget(ctx context.Context, path, name, bucket string) (benchTarget, error) {
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	b, err := c.OpenBackend(ctx, name)
	if err != nil {
		return nil, err
	}
	closeBackend := func() {
		if cl, ok := b.(interface{ Close() error }); ok {
			cl.Close()
		}
	}
	_, err = b.HeadBucket(ctx, bucket)
	if backends.Is(err, backends.NoSuchBucket) {
		err = b.CreateBucket(ctx, bucket)
	}
	if err != nil {
		closeBackend()
		return nil, fmt.Errorf("bucket %s: %w", bucket, err)
	}

	var tg benchTarget
	switch cfg := c.Backends[name].Config.(type) {
	case *config.DirConfig:
		var fsys *dir.FS
		if fsys, err = dir.NewFS(cfg.Path); err == nil {
			tg, err = newFSTarget(fsys, bucket)
		}
	case *nfs.Config:
		var fsys *nfs.FS
		if fsys, err = nfs.NewFS(ctx, *cfg); err == nil {
			tg, err = newFSTarget(fsys, bucket)
		}
	case *smb.Config:
		var fsys *smb.FS
		if fsys, err = smb.NewFS(ctx, *cfg); err == nil {
			tg, err = newFSTarget(fsys, bucket)
		}
	case *s3b.Config:
		tg = s3Target{client: b.(*s3b.Backend).Client(), bucket: bucket}
	case *azure.Config:
		tg = azureTarget{svc: b.(*azure.Backend).Client(), container: bucket}
	case *gcs.Config:
		tg = gcsTarget{bkt: b.(*gcs.Backend).Client().Bucket(bucket)}
	default:
		err = fmt.Errorf("backend %q: bench --direct does not know its type %q", name, c.Backends[name].Type)
	}
	if err != nil {
		closeBackend()
		return nil, err
	}
	return closing{tg, closeBackend}, nil
}

// closing closes the backend after the target.
type closing struct {
	benchTarget
	after func()
}

func (c closing) close() { c.benchTarget.close(); c.after() }

// fsTarget writes and reads files through an fsstore.FS: the folder of
// the bucket, files under bench/.
type fsTarget struct {
	fsys   fsstore.FS
	bucket string
	seq    *atomic.Int64
}

func newFSTarget(fsys fsstore.FS, bucket string) (benchTarget, error) {
	if err := fsys.Mkdir(path.Join(bucket, "bench")); err != nil && !errors.Is(err, fs.ErrExist) {
		if c, ok := fsys.(interface{ Close() error }); ok {
			c.Close()
		}
		return nil, err
	}
	return fsTarget{fsys: fsys, bucket: bucket, seq: new(atomic.Int64)}, nil
}

// put writes a new file, makes it durable and renames it over the key:
// the least a writer does so that readers never see a partial file (and
// FS.Create refuses an existing name).
func (t fsTarget) put(ctx context.Context, key string, data []byte) error {
	name := path.Join(t.bucket, key)
	tmp := fmt.Sprintf("%s.%d.tmp", name, t.seq.Add(1))
	w, err := t.fsys.Create(tmp)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = t.fsys.Rename(tmp, name)
	}
	if err != nil {
		t.fsys.Remove(tmp)
	}
	return err
}

func (t fsTarget) get(ctx context.Context, key string) (int64, error) {
	f, err := t.fsys.Open(path.Join(t.bucket, key))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return drain(f)
}

func (t fsTarget) list(ctx context.Context, prefix string) error {
	_, err := t.fsys.ReadDir(path.Join(t.bucket, prefix))
	return err
}

func (t fsTarget) remove(ctx context.Context, key string) error {
	return t.fsys.Remove(path.Join(t.bucket, key))
}

func (t fsTarget) close() {
	if c, ok := t.fsys.(interface{ Close() error }); ok {
		c.Close()
	}
}

// azureTarget uses the azblob SDK's own upload and download calls.
type azureTarget struct {
	svc       *service.Client
	container string
}

func (t azureTarget) put(ctx context.Context, key string, data []byte) error {
	_, err := t.svc.NewContainerClient(t.container).NewBlockBlobClient(key).UploadBuffer(ctx, data, nil)
	return err
}

func (t azureTarget) get(ctx context.Context, key string) (int64, error) {
	res, err := t.svc.NewContainerClient(t.container).NewBlobClient(key).DownloadStream(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return drain(res.Body)
}

func (t azureTarget) list(ctx context.Context, prefix string) error {
	_, err := t.svc.NewContainerClient(t.container).NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix}).NextPage(ctx)
	return err
}

func (t azureTarget) remove(ctx context.Context, key string) error {
	_, err := t.svc.NewContainerClient(t.container).NewBlobClient(key).Delete(ctx, nil)
	return err
}

func (t azureTarget) close() {}

// gcsTarget uses the GCS client's writer and reader.
type gcsTarget struct{ bkt *storage.BucketHandle }

func (t gcsTarget) put(ctx context.Context, key string, data []byte) error {
	w := t.bkt.Object(key).NewWriter(ctx)
	if _, err := w.Write(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (t gcsTarget) get(ctx context.Context, key string) (int64, error) {
	r, err := t.bkt.Object(key).NewReader(ctx)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return drain(r)
}

func (t gcsTarget) list(ctx context.Context, prefix string) error {
	it := t.bkt.Objects(ctx, &storage.Query{Prefix: prefix})
	for range 1000 {
		if _, err := it.Next(); err == iterator.Done {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (t gcsTarget) remove(ctx context.Context, key string) error {
	return t.bkt.Object(key).Delete(ctx)
}

func (t gcsTarget) close() {}
