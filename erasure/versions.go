package erasure

import (
	"context"
	"io"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Versions: every version of an object, delete markers included, is an
// entry of the object's meta.json on each drive of its set, newest first,
// each with its own data dir (or inline shards). The versioning layer
// (gateway/versioning) makes the IDs and decides what a request does; the
// store keeps the list (backends.VersionStore).

var (
	_ backends.VersionStore    = (*Store)(nil)
	_ backends.NativeVersioner = (*Store)(nil)
)

// VersionStore returns the store itself: it keeps the versions of every
// bucket.
func (s *Store) VersionStore(bucket string) (backends.VersionStore, bool) { return s, true }

func errNoSuchVersion() error {
	return backends.Errorf(backends.NoSuchVersion, "The specified version does not exist.")
}

func errMarker() error {
	return backends.Errorf(backends.MethodNotAllowed, "The specified method is not allowed against this resource.")
}

// pick returns the index in vs of version id ("" the newest), with the
// errors of a VersionStore read: NoSuchVersion, and for a delete marker
// NoSuchKey (newest) or MethodNotAllowed (by ID) with the marker's info.
func pick(key string, vs []version, id string) (int, backends.ObjectInfo, error) {
	i := 0
	if id != "" {
		i = -1
		for j := range vs {
			if vs[j].ID == id {
				i = j
				break
			}
		}
		if i < 0 {
			return -1, backends.ObjectInfo{}, errNoSuchVersion()
		}
	}
	in := versionInfo(key, vs, i)
	if vs[i].DeleteMarker {
		if id == "" {
			return i, in, backends.Errorf(backends.NoSuchKey, "the specified key does not exist")
		}
		return i, in, errMarker()
	}
	return i, in, nil
}

// open resolves key for a read under its read lock: the versions, and per
// drive its metadata.
func (s *Store) open(bucket, key string) (*set, string, []driveMeta, []version, func(), error) {
	kp, err := keyPath(key)
	if err != nil {
		return nil, "", nil, nil, nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, "", nil, nil, nil, err
	}
	st := s.setFor(bucket, key)
	l := s.lock(bucket, key)
	l.RLock()
	ms := readMetasQuorum(st, bucket, kp)
	vs, err := resolve(ms, key)
	if err != nil {
		l.RUnlock()
		return nil, "", nil, nil, nil, err
	}
	return st, kp, ms, vs, l.RUnlock, nil
}

// lockKey checks key and bucket and takes the key's write lock, for a
// change of its versions.
func (s *Store) lockKey(bucket, key string) (*set, string, func(), error) {
	kp, err := keyPath(key)
	if err != nil {
		return nil, "", nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, "", nil, err
	}
	l := s.lock(bucket, key)
	l.Lock()
	return s.setFor(bucket, key), kp, l.Unlock, nil
}

// HeadVersion returns the info of version id of key ("" the newest).
func (s *Store) HeadVersion(ctx context.Context, bucket, key, id string) (backends.ObjectInfo, error) {
	_, _, _, vs, unlock, err := s.open(bucket, key)
	if err != nil {
		if id != "" && backends.Is(err, backends.NoSuchKey) {
			err = errNoSuchVersion()
		}
		return backends.ObjectInfo{}, err
	}
	defer unlock()
	_, in, err := pick(key, vs, id)
	return in, err
}

// GetVersion reads version id of key ("" the newest).
func (s *Store) GetVersion(ctx context.Context, bucket, key, id string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	st, kp, ms, vs, unlock, err := s.open(bucket, key)
	if err != nil {
		if id != "" && backends.Is(err, backends.NoSuchKey) {
			err = errNoSuchVersion()
		}
		return nil, backends.ObjectInfo{}, err
	}
	defer unlock()
	i, in, err := pick(key, vs, id)
	if err != nil {
		return nil, in, err
	}
	rc, err := s.readData(ctx, st, bucket, key, kp, ms, &vs[i], rng)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	return rc, in, nil
}

// UpdateMeta replaces the metadata of the newest version.
func (s *Store) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	vs, i, _, err := s.updateMeta(bucket, key, "", meta)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return info(key, &vs[i]), nil
}

// UpdateVersionMeta replaces the metadata of version id ("" the newest).
func (s *Store) UpdateVersionMeta(ctx context.Context, bucket, key, id string, meta backends.Meta) (backends.ObjectInfo, error) {
	vs, i, in, err := s.updateMeta(bucket, key, id, meta)
	if err != nil {
		if id != "" && backends.Is(err, backends.NoSuchKey) {
			err = errNoSuchVersion()
		}
		return in, err
	}
	return versionInfo(key, vs, i), nil
}

// updateMeta gives version id a new write ID and meta (keeping its size,
// ETag and parts, and its parts' list unless meta has one) and returns the
// new list and the version's place in it; on the errors of pick, the info
// that pick returns.
func (s *Store) updateMeta(bucket, key, id string, meta backends.Meta) ([]version, int, backends.ObjectInfo, error) {
	var in backends.ObjectInfo
	st, kp, unlock, err := s.lockKey(bucket, key)
	if err != nil {
		return nil, 0, in, err
	}
	defer unlock()
	at := 0
	vs, err := s.apply(st, bucket, key, kp, nil, false, func(cur []version) ([]version, error) {
		if cur == nil {
			return nil, backends.Errorf(backends.NoSuchKey, "the specified key does not exist")
		}
		i, pin, err := pick(key, cur, id)
		if err != nil {
			in = pin
			return nil, err
		}
		at = i
		old := cur[i]
		nv := old
		nv.WriteID = newUUID()
		nv.from = old.WriteID
		nv.Meta = meta
		nv.Meta.Size, nv.Meta.ETag = old.Meta.Size, old.Meta.ETag
		nv.Meta.Parts = cloneParts(meta.Parts)
		if nv.Meta.Parts == nil {
			nv.Meta.Parts = old.Meta.Parts
		}
		if nv.Meta.ModTime.IsZero() {
			nv.Meta.ModTime = time.Now().UTC()
		}
		out := append([]version(nil), cur...)
		out[i] = nv
		return out, nil
	})
	return vs, at, in, err
}

// DeleteObject removes the null version of key (the object itself, unless
// versions were made); a key without one is no error.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := s.deleteVersion(bucket, key, "null")
	if backends.Is(err, backends.NoSuchVersion) {
		return nil
	}
	return err
}

// DeleteVersion removes version id of key for good.
func (s *Store) DeleteVersion(ctx context.Context, bucket, key, id string) (backends.ObjectInfo, error) {
	return s.deleteVersion(bucket, key, id)
}

func (s *Store) deleteVersion(bucket, key, id string) (backends.ObjectInfo, error) {
	st, kp, unlock, err := s.lockKey(bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	defer unlock()
	var gone backends.ObjectInfo
	_, err = s.apply(st, bucket, key, kp, nil, id == "null", func(cur []version) ([]version, error) {
		if cur == nil && id == "null" {
			// No object, or one that cannot be read: whatever the
			// drives hold of it goes.
			return nil, nil
		}
		out := make([]version, 0, len(cur))
		found := false
		for i, v := range cur {
			if v.ID == id && !found {
				found = true
				gone = versionInfo(key, cur, i)
				continue
			}
			out = append(out, v)
		}
		if !found {
			return nil, errNoSuchVersion()
		}
		return out, nil
	})
	return gone, err
}

// PutDeleteMarker adds a delete marker with ID id as the newest version of
// key (a "null" one replaces the null version).
func (s *Store) PutDeleteMarker(ctx context.Context, bucket, key, id string) (backends.ObjectInfo, error) {
	st, kp, unlock, err := s.lockKey(bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	defer unlock()
	m := version{ID: id, WriteID: newUUID(), Erasure: s.layoutFor(st, bucket, key, ""), DeleteMarker: true,
		Meta: backends.Meta{ModTime: time.Now().UTC()}}
	vs, err := s.apply(st, bucket, key, kp, nil, false, func(cur []version) ([]version, error) {
		return withVersion(cur, m), nil
	})
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return versionInfo(key, vs, 0), nil
}
