package versioning

import "sync"

// keyLocks are in-process locks per bucket and key: the steps of a write
// (archive the current version, publish the new one) and of a delete run
// under the key's lock, so that concurrent requests on one key keep the
// store's invariants. They do not reach other processes: one Strata
// process serves a backend's buckets.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func lockName(bucket, key string) string { return bucket + "\x00" + key }

func (k *keyLocks) get(name string) *keyLock {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[name]
	if l == nil {
		l = &keyLock{}
		k.m[name] = l
	}
	l.refs++
	return l
}

func (k *keyLocks) put(name string, l *keyLock) {
	k.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(k.m, name)
	}
	k.mu.Unlock()
}

// lock locks bucket/key and returns the function that unlocks it.
func (k *keyLocks) lock(bucket, key string) func() {
	name := lockName(bucket, key)
	l := k.get(name)
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.put(name, l)
	}
}

// tryLock locks bucket/key if no one holds it.
func (k *keyLocks) tryLock(bucket, key string) (func(), bool) {
	name := lockName(bucket, key)
	l := k.get(name)
	if !l.mu.TryLock() {
		k.put(name, l)
		return nil, false
	}
	return func() {
		l.mu.Unlock()
		k.put(name, l)
	}, true
}
