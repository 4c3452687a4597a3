package azure

import (
	"container/list"
	"context"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/strata-storage/strata/backends"
)

// Listing. Azure continues a listing with opaque markers of its own, while
// S3 continues after a key. So a listing after a marker skips what is not
// after it, and starts as close to it as it can: the Azure marker of the
// page where a listing stopped is remembered under the S3 marker it
// returned (markerCache), so the next page starts there exactly; a flat
// listing after any other marker starts at it with List Blobs' startFrom
// (service version 2026-02-06 and later; a service that refuses it is
// listed from the start of the prefix, as a listing by hierarchy is).
//
// The order is Azure's (see compareKeys), and markers are compared in it.
//
// A delimiter of more than one character is applied here, to a flat
// listing (Azurite cuts such common prefixes one character after the
// delimiter's start; Azure does not, but one way for both is simpler).

// maxPage is the most entries Azure returns in one page.
const maxPage = 5000

// entry is a blob or a common prefix of a listing page.
type entry struct {
	name   string
	prefix bool
	item   *container.BlobItem
}

func (b *Backend) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	var res backends.ListResult
	limit := opts.MaxKeys
	if limit <= 0 {
		limit = 1000
	}
	prefix, delim, marker := opts.Prefix, opts.Delimiter, opts.Marker
	if marker != "" && compareKeys(marker, prefix) < 0 {
		marker = "" // every key with the prefix is after it
	}
	if strings.HasPrefix(prefix, sysPrefix) || (marker != "" && !strings.HasPrefix(marker, prefix)) {
		// Nothing can be listed: the reserved folder, or a marker after
		// every key with the prefix. Still say if the bucket is missing.
		_, err := b.HeadBucket(ctx, bucket)
		return res, err
	}
	cc := b.container(bucket)
	cacheKey := bucket + "\x00" + prefix + "\x00" + delim + "\x00"
	azMarker, startFrom, hit := "", "", false
	if marker != "" {
		azMarker, hit = b.markers.get(cacheKey + marker)
		if azMarker == "" && !b.noStartFrom.Load() && (delim == "" || len(delim) > 1) {
			// Flat listings only: for a listing by hierarchy, Azure takes
			// a startFrom of one level (on accounts with a hierarchical
			// namespace at least), and one scans less there anyway.
			startFrom = marker
		}
	}
	last := marker // every entry must be after it
	count := 0
	for {
		size := min(maxPage, limit-count+1+8) // what is needed, and a few that may be hidden
		if marker != "" && !hit && startFrom == "" && count == 0 {
			size = maxPage // scanning for the marker
		}
		entries, next, err := b.listPage(ctx, cc, prefix, delim, azMarker, startFrom, size)
		if err != nil && startFrom != "" {
			if code, status := errCode(err); status == 400 && code != "ContainerNotFound" {
				// A service without startFrom: list without it from now on.
				b.noStartFrom.Store(true)
				startFrom = ""
				continue
			}
		}
		if err != nil {
			return backends.ListResult{}, mapErr(err, onContainer, "azure: cannot list container "+bucket)
		}
		for _, e := range entries {
			if compareKeys(e.name, last) <= 0 {
				continue
			}
			if hide, err := b.hidden(ctx, cc, e); err != nil {
				return backends.ListResult{}, err
			} else if hide {
				continue
			}
			if count == limit {
				// One more entry exists: the page is full and truncated.
				res.IsTruncated, res.NextMarker = true, last
				b.markers.put(cacheKey+last, azMarker)
				return res, nil
			}
			if e.prefix {
				res.Prefixes = append(res.Prefixes, e.name)
			} else {
				res.Objects = append(res.Objects, objectInfo(e.name, itemProps(e.item)))
			}
			last = e.name
			count++
		}
		if next == "" {
			return res, nil
		}
		azMarker = next
	}
}

// listPage returns one page of Azure's listing, blobs and prefixes in
// order, and the marker of the next page ("" at the end). Errors are
// Azure's, unmapped.
func (b *Backend) listPage(ctx context.Context, cc *container.Client, prefix, delim, marker, startFrom string, size int) ([]entry, string, error) {
	cctx, cancel := b.call(ctx)
	defer cancel()
	include := container.ListBlobsInclude{Metadata: true}
	var blobs []*container.BlobItem
	var prefixes []*container.BlobPrefix
	var next *string
	if delim == "" || len(delim) > 1 {
		page, err := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
			Include: include, Prefix: optStr(prefix), Marker: optStr(marker), MaxResults: ptr(int32(size)),
			StartFrom: optStr(startFrom),
		}).NextPage(cctx)
		if err != nil {
			return nil, "", err
		}
		if page.Segment != nil {
			blobs = page.Segment.BlobItems
		}
		if delim != "" {
			return rollUp(blobs, prefix, delim), str(page.NextMarker), nil
		}
		next = page.NextMarker
	} else {
		page, err := cc.NewListBlobsHierarchyPager(delim, &container.ListBlobsHierarchyOptions{
			Include: include, Prefix: optStr(prefix), Marker: optStr(marker), MaxResults: ptr(int32(size)),
			StartFrom: optStr(startFrom),
		}).NextPage(cctx)
		if err != nil {
			return nil, "", err
		}
		if page.Segment != nil {
			blobs, prefixes = page.Segment.BlobItems, page.Segment.BlobPrefixes
		}
		next = page.NextMarker
	}
	// Merge the two lists, each in order.
	out := make([]entry, 0, len(blobs)+len(prefixes))
	i, j := 0, 0
	for i < len(blobs) || j < len(prefixes) {
		if i < len(blobs) && (blobs[i] == nil || blobs[i].Name == nil) {
			i++
			continue
		}
		if j < len(prefixes) && (prefixes[j] == nil || prefixes[j].Name == nil) {
			j++
			continue
		}
		if j == len(prefixes) || (i < len(blobs) && compareKeys(*blobs[i].Name, *prefixes[j].Name) < 0) {
			out = append(out, entry{name: *blobs[i].Name, item: blobs[i]})
			i++
		} else {
			out = append(out, entry{name: *prefixes[j].Name, prefix: true})
			j++
		}
	}
	return out, str(next), nil
}

// rollUp makes the entries of a flat page listed with a delimiter: a
// blob whose name has the delimiter after the prefix is the common prefix
// up to and with it, once (the names under one prefix are listed
// together).
func rollUp(blobs []*container.BlobItem, prefix, delim string) []entry {
	var out []entry
	for _, it := range blobs {
		if it == nil || it.Name == nil {
			continue
		}
		name := *it.Name
		i := strings.Index(name[min(len(prefix), len(name)):], delim)
		if i < 0 {
			out = append(out, entry{name: name, item: it})
			continue
		}
		cp := name[:len(prefix)+i+len(delim)]
		if n := len(out); n == 0 || !out[n-1].prefix || out[n-1].name != cp {
			out = append(out, entry{name: cp, prefix: true})
		}
	}
	return out
}

// hidden reports whether a listed entry is, or holds only, Strata's own
// blobs. A common prefix that .strata.sys/ starts with (".", ".s", with a
// delimiter other than "/") may hold objects too: a "/" listing of it
// shows .strata.sys/ as one entry, and tells whether there is another.
func (b *Backend) hidden(ctx context.Context, cc *container.Client, e entry) (bool, error) {
	if strings.HasPrefix(e.name, sysPrefix) {
		return true, nil
	}
	if !e.prefix || !strings.HasPrefix(sysPrefix, e.name) {
		return false, nil
	}
	marker := ""
	for {
		entries, next, err := b.listPage(ctx, cc, e.name, "/", marker, "", 10)
		if err != nil {
			return false, mapErr(err, onContainer, "azure: cannot list container")
		}
		for _, x := range entries {
			if x.name != sysPrefix {
				return false, nil
			}
		}
		if next == "" {
			return true, nil
		}
		marker = next
	}
}

func itemProps(it *container.BlobItem) blobProps {
	p := blobProps{metadata: it.Metadata}
	if pr := it.Properties; pr != nil {
		p.size, p.etag, p.modTime, p.md5 = derefInt(pr.ContentLength), etagStr(pr.ETag), timeOf(pr.LastModified), pr.ContentMD5
		p.ct, p.ce, p.cd = str(pr.ContentType), str(pr.ContentEncoding), str(pr.ContentDisposition)
		p.cl, p.cc = str(pr.ContentLanguage), str(pr.CacheControl)
	}
	return p
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// markerCache remembers, for the last pages listed, the Azure marker to
// continue after the S3 marker they returned: an LRU of bounded size.
type markerCache struct {
	mu    sync.Mutex
	order *list.List // of *markerEntry, most recent first
	byKey map[string]*list.Element
}

type markerEntry struct{ key, marker string }

const markerCacheSize = 4096

func (c *markerCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*markerEntry).marker, true
	}
	return "", false
}

func (c *markerCache) put(key, marker string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey, c.order = map[string]*list.Element{}, list.New()
	}
	if el, ok := c.byKey[key]; ok {
		el.Value.(*markerEntry).marker = marker
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&markerEntry{key, marker})
	if c.order.Len() > markerCacheSize {
		el := c.order.Back()
		c.order.Remove(el)
		delete(c.byKey, el.Value.(*markerEntry).key)
	}
}
