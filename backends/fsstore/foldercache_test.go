package fsstore

import (
	"testing"
	"time"
)

func TestFolderCache(t *testing.T) {
	var c FolderCache[int]
	c.TTL = time.Hour
	for i, name := range []string{"a", "a/b", "a/b/c", "ab", "x/y"} {
		c.Put(name, i)
	}
	if v, ok := c.Get("a/b"); !ok || v != 1 {
		t.Fatalf("Get a/b: %v %v", v, ok)
	}
	c.ForgetTree("a/b") // a/b and a/b/c, not a or ab
	for name, want := range map[string]bool{"a": true, "a/b": false, "a/b/c": false, "ab": true, "x/y": true} {
		if _, ok := c.Get(name); ok != want {
			t.Fatalf("after ForgetTree(a/b), %s cached: %v", name, ok)
		}
	}
	c.Put("x", 9)
	c.ForgetParents("x/y/file") // x/y and x, not the name's siblings
	for name, want := range map[string]bool{"x": false, "x/y": false, "a": true} {
		if _, ok := c.Get(name); ok != want {
			t.Fatalf("after ForgetParents(x/y/file), %s cached: %v", name, ok)
		}
	}
	c.TTL = time.Nanosecond
	c.Put("old", 1)
	time.Sleep(time.Millisecond)
	if _, ok := c.Get("old"); ok {
		t.Fatal("an expired folder is still cached")
	}
	c.Clear()
	if _, ok := c.Get("a"); ok {
		t.Fatal("Clear left a folder")
	}
}
