package s3

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strata-storage/strata/backends"
)

// Listings go through ListObjectsV2 with StartAfter, page after page, and
// Strata checks every item itself rather than trust each service's reading
// of a marker inside a common prefix: an item is returned only if it is
// after the marker and is not under .strata.sys/. Ranges that cannot give
// an item (the rest of a common prefix, Strata's own objects) are jumped
// over by starting after the greatest key that the range can hold.

// maxKey is the greatest key of at most 1024 bytes that starts with p.
func maxKey(p string) string {
	const top = "\U0010FFFF" // the greatest code point: 4 bytes
	n := (backends.MaxKeyLen - len(p)) / len(top)
	if n <= 0 {
		return p
	}
	return p + strings.Repeat(top, n)
}

type item struct {
	name     string
	isPrefix bool
	obj      types.Object
}

func (b *Backend) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	max := opts.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	var res backends.ListResult
	startAfter := opts.Marker
	if d := opts.Delimiter; d != "" && strings.HasPrefix(opts.Marker, opts.Prefix) {
		// A marker inside a common prefix: that prefix is at or before
		// the marker, so nothing under it is listed.
		if i := strings.Index(opts.Marker[len(opts.Prefix):], d); i >= 0 {
			startAfter = maxKey(opts.Marker[:len(opts.Prefix)+i+len(d)])
		}
	}
	count := 0
	for {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListObjectsV2(octx, &s3sdk.ListObjectsV2Input{
			Bucket:       &bucket,
			Prefix:       str(opts.Prefix),
			Delimiter:    str(opts.Delimiter),
			StartAfter:   str(startAfter),
			MaxKeys:      aws.Int32(int32(min(max-count+1, 1000))),
			EncodingType: types.EncodingTypeUrl,
		})
		cancel()
		if err != nil {
			return res, mapErr(err, "list")
		}
		items, err := listItems(out)
		if err != nil {
			return res, err
		}
		for _, it := range items {
			switch {
			case it.name <= opts.Marker:
				continue
			case strings.HasPrefix(it.name, sysPrefix):
				continue
			case it.isPrefix && strings.HasPrefix(sysPrefix, it.name):
				// Strata's objects roll up into this prefix: it is
				// listed only if something else does too.
				ok, err := b.hasVisible(ctx, bucket, it.name)
				if err != nil {
					return res, err
				}
				if !ok {
					continue
				}
			}
			if count == max {
				res.IsTruncated = true
				return res, nil
			}
			count++
			if it.isPrefix {
				res.Prefixes = append(res.Prefixes, it.name)
			} else {
				res.Objects = append(res.Objects, objectInfo(it.name, &it.obj))
			}
			res.NextMarker = it.name
		}
		if !aws.ToBool(out.IsTruncated) || len(items) == 0 {
			break
		}
		if count == max {
			res.IsTruncated = true
			break
		}
		last := items[len(items)-1]
		next := last.name
		switch {
		case last.isPrefix:
			next = maxKey(last.name)
		case strings.HasPrefix(last.name, sysPrefix):
			next = maxKey(sysPrefix)
		}
		if next <= startAfter {
			// A prefix too long to jump over (1021 bytes and more):
			// the rest of the listing is under it.
			break
		}
		startAfter = next
	}
	if !res.IsTruncated {
		res.NextMarker = ""
	}
	return res, nil
}

// listItems returns the keys and common prefixes of a page, decoded and
// in order.
func listItems(out *s3sdk.ListObjectsV2Output) ([]item, error) {
	dec := func(s string) (string, error) { return s, nil }
	if out.EncodingType == types.EncodingTypeUrl {
		dec = url.QueryUnescape
	}
	items := make([]item, 0, len(out.Contents)+len(out.CommonPrefixes))
	for _, o := range out.Contents {
		k, err := dec(aws.ToString(o.Key))
		if err != nil {
			return nil, backends.Wrap(backends.Internal, err, "s3: list: bad key")
		}
		items = append(items, item{name: k, obj: o})
	}
	for _, p := range out.CommonPrefixes {
		k, err := dec(aws.ToString(p.Prefix))
		if err != nil {
			return nil, backends.Wrap(backends.Internal, err, "s3: list: bad prefix")
		}
		items = append(items, item{name: k, isPrefix: true})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.name, b.name) })
	return items, nil
}

func objectInfo(key string, o *types.Object) backends.ObjectInfo {
	return backends.ObjectInfo{Key: key, Meta: backends.Meta{
		Size:         aws.ToInt64(o.Size),
		ETag:         cleanETag(aws.ToString(o.ETag)),
		ModTime:      modTime(o.LastModified),
		StorageClass: storageClass(types.StorageClass(o.StorageClass)),
	}}
}

// hasVisible reports whether a key outside .strata.sys/ starts with p.
func (b *Backend) hasVisible(ctx context.Context, bucket, p string) (bool, error) {
	for _, after := range []string{"", maxKey(sysPrefix)} {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListObjectsV2(octx, &s3sdk.ListObjectsV2Input{
			Bucket: &bucket, Prefix: &p, StartAfter: str(after), MaxKeys: aws.Int32(1),
			EncodingType: types.EncodingTypeUrl,
		})
		cancel()
		if err != nil {
			return false, mapErr(err, "list")
		}
		items, err := listItems(out)
		if err != nil {
			return false, err
		}
		if len(items) > 0 && !strings.HasPrefix(items[0].name, sysPrefix) {
			return true, nil
		}
	}
	return false, nil
}
