package fsstore

import (
	"path"
	"strings"
	"sync"
	"time"
)

// FolderCache remembers, for TTL, what a network file system said about
// its folders (an NFS handle, an SMB stat), so that the checks of a key's
// bucket and parent folders cost no round trip on a busy key space.
// Another client's change to a folder is seen after at most TTL; the FS
// drops a folder at once when its own change, or a failure below it, says
// the folder moved or went. The zero value is ready, with no entry.
type FolderCache[V any] struct {
	TTL time.Duration

	mu sync.Mutex
	m  map[string]cachedFolder[V]
}

type cachedFolder[V any] struct {
	v   V
	exp time.Time
}

// maxCachedFolders bounds the memory of a FolderCache.
const maxCachedFolders = 10000

// Get returns the folder name's value while it is fresh.
func (c *FolderCache[V]) Get(name string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[name]
	if !ok || time.Now().After(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put remembers v for the folder name.
func (c *FolderCache[V]) Put(name string, v V) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedFolder[V]{}
	}
	if len(c.m) >= 256 {
		// Keep the map to the folders of the last seconds: every
		// rename and remove walks it (ForgetTree).
		for k, e := range c.m {
			if now.After(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedFolders {
			clear(c.m)
		}
	}
	c.m[name] = cachedFolder[V]{v, now.Add(c.TTL)}
}

// ForgetTree drops the folder p and every folder below it.
func (c *FolderCache[V]) ForgetTree(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k == p || strings.HasPrefix(k, p) && k[len(p)] == '/' {
			delete(c.m, k)
		}
	}
}

// ForgetParents drops the folders on the way to name (not name itself).
func (c *FolderCache[V]) ForgetParents(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := path.Dir(name); p != "." && p != "/"; p = path.Dir(p) {
		delete(c.m, p)
	}
}

// Clear drops every folder.
func (c *FolderCache[V]) Clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
