package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/gateway/stack/stacktest"
)

// newTestBackend returns a backend over the shared Azurite with the
// development account's shared key.
func newTestBackend(t *testing.T, cfg Config) *Backend {
	t.Helper()
	cfg.Account, cfg.Key, cfg.Endpoint = devAccount, devKey, azuriteEndpoint(t)
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// directClient is azblob's own client of the shared Azurite, to check what
// the backend wrote and to write blobs behind its back.
func directClient(t *testing.T) *service.Client {
	t.Helper()
	cred, err := service.NewSharedKeyCredential(devAccount, devKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := service.NewClientWithSharedKeyCredential(azuriteEndpoint(t)+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSuite(t *testing.T) {
	b := newTestBackend(t, Config{})
	backendtest.Run(t, func(t *testing.T) backends.Backend { return b })
}

// The data services (encryption, lock, versioning, bitrot) over Azure.
func TestSuiteDataServices(t *testing.T) {
	b := newTestBackend(t, Config{})
	stacktest.Run(t, func(t *testing.T) backends.Backend { return b })
}

// With the smallest blocks, the suite's larger objects and parts are
// staged as several blocks.
func TestSuiteSmallBlocks(t *testing.T) {
	b := newTestBackend(t, Config{BlockSize: minBlockSize})
	backendtest.Run(t, func(t *testing.T) backends.Backend { return b })
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func put(t *testing.T, b backends.Backend, bucket, key string, data []byte, meta backends.Meta) backends.ObjectInfo {
	t.Helper()
	meta.ETag = md5hex(data)
	info, err := b.PutObject(t.Context(), bucket, key, bytes.NewReader(data), backends.PutOptions{Meta: &meta})
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return info
}

func get(t *testing.T, b backends.Backend, bucket, key string, rng *backends.Range) ([]byte, backends.ObjectInfo) {
	t.Helper()
	rc, info, err := b.GetObject(t.Context(), bucket, key, rng)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data, info
}

func newBucket(t *testing.T, b *Backend) string {
	t.Helper()
	name := "az-" + hex.EncodeToString(randBytes(6))
	if err := b.CreateBucket(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.container(name).Delete(context.Background(), nil) })
	return name
}

func TestConfigErrors(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Account: "a"}, "exactly one"},
		{Config{Account: "a", Key: devKey, SAS: "sv=x"}, "exactly one"},
		{Config{Account: "a", Key: devKey, ConnectionString: "AccountName=a"}, "exactly one"},
		{Config{Key: devKey}, "account"},
		{Config{Key: devKey, Endpoint: "http://127.0.0.1:1/x"}, "account name"},
		{Config{Account: "a", Key: "not base64!"}, "base64"},
		{Config{Account: "a", Key: devKey, Endpoint: "ftp://x"}, "not an http"},
		{Config{Account: "a", SAS: "sv=1", Endpoint: "https://a.blob.core.windows.net/?sv=1"}, "query"},
		{Config{ConnectionString: "AccountName=a;AccountKey=" + devKey, Endpoint: "http://x/"}, "leave endpoint empty"},
		{Config{Account: "a", Key: devKey, BlockSize: 1000}, "block_size"},
		{Config{Account: "a", Key: devKey, BlockSize: 5000 << 20}, "block_size"},
	} {
		if _, err := New(ctx, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error about %q", tc.cfg, err, tc.want)
		}
	}
	b, err := New(ctx, Config{Account: "acct", Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	if u := b.svc.URL(); u != "https://acct.blob.core.windows.net/" {
		t.Errorf("default endpoint %q", u)
	}
}

// roundTrip writes, lists, reads and deletes through b.
func roundTrip(t *testing.T, b *Backend) {
	t.Helper()
	ctx := t.Context()
	bucket := "rt-" + hex.EncodeToString(randBytes(6))
	if err := b.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	put(t, b, bucket, "dir/k", []byte("hello"), backends.Meta{User: map[string]string{"a": "b"}})
	if got, info := get(t, b, bucket, "dir/k", nil); string(got) != "hello" || info.User["a"] != "b" {
		t.Fatalf("read back %q %+v", got, info)
	}
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Delimiter: "/"})
	if err != nil || !slices.Equal(res.Prefixes, []string{"dir/"}) {
		t.Fatalf("list: %+v %v", res, err)
	}
	buckets, err := b.ListBuckets(ctx)
	if err != nil || !slices.ContainsFunc(buckets, func(bi backends.BucketInfo) bool { return bi.Name == bucket }) {
		t.Fatalf("ListBuckets: %v %v", buckets, err)
	}
	if err := b.DeleteObject(ctx, bucket, "dir/k"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionString(t *testing.T) {
	cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", devAccount, devKey, azuriteEndpoint(t))
	b, err := New(t.Context(), Config{ConnectionString: cs})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b)
}

func TestSAS(t *testing.T) {
	cred, _ := service.NewSharedKeyCredential(devAccount, devKey)
	perms := sas.AccountPermissions{Read: true, Write: true, Delete: true, List: true, Add: true, Create: true}
	types := sas.AccountResourceTypes{Service: true, Container: true, Object: true}
	qp, err := sas.AccountSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour).UTC(),
		Permissions: perms.String(), ResourceTypes: types.String(),
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), Config{Endpoint: azuriteEndpoint(t), SAS: "?" + qp.Encode()})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b)

	// A read-only token: writes are AccessDenied.
	ro := sas.AccountPermissions{Read: true, List: true}
	qp, _ = sas.AccountSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour).UTC(),
		Permissions: ro.String(), ResourceTypes: types.String(),
	}.SignWithSharedKey(cred)
	rb, err := New(t.Context(), Config{Endpoint: azuriteEndpoint(t), SAS: qp.Encode(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t, newTestBackend(t, Config{}))
	_, err = rb.PutObject(t.Context(), bucket, "k", strings.NewReader("x"), backends.PutOptions{})
	if !backends.Is(err, backends.AccessDenied) {
		t.Fatalf("PutObject with a read-only SAS: %v, want AccessDenied", err)
	}
	if _, err := rb.ListObjects(t.Context(), bucket, backends.ListOptions{}); err != nil {
		t.Fatalf("ListObjects with a read-only SAS: %v", err)
	}
}

// Blobs written by others are objects, with their metadata.
func TestForeignBlobs(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{})
	bucket := newBucket(t, b)
	cc := directClient(t).NewContainerClient(bucket)

	// Put Blob with a Content-MD5: the ETag is that MD5.
	data := []byte("written by azcopy, say")
	sum := md5.Sum(data)
	_, err := cc.NewBlockBlobClient("docs/report.txt").Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{
		Metadata: map[string]*string{"Author": ptr("Ada"), "dept_no": ptr("42")},
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: ptr("text/plain"), BlobContentMD5: sum[:],
			BlobCacheControl: ptr("no-cache"), BlobContentLanguage: ptr("en")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Staged blocks, no MD5: the ETag comes from Azure's.
	bb := cc.NewBlockBlobClient("docs/blocks.bin")
	big := randBytes(3000)
	id := "YmxvY2stMDAwMQ=="
	if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(big)), nil); err != nil {
		t.Fatal(err)
	}
	cr, err := bb.CommitBlockList(ctx, []string{id}, &blockblob.CommitBlockListOptions{Metadata: map[string]*string{"Source": ptr("camera")}})
	if err != nil {
		t.Fatal(err)
	}
	wantDerived := strings.ToLower(strings.TrimPrefix(strings.Trim(string(*cr.ETag), `"`), "0x"))

	h, err := b.HeadObject(ctx, bucket, "docs/report.txt")
	if err != nil {
		t.Fatal(err)
	}
	if h.ETag != md5hex(data) || h.Size != int64(len(data)) || h.ContentType != "text/plain" || h.CacheControl != "no-cache" ||
		h.ContentLanguage != "en" || h.User["author"] != "Ada" || h.User["dept_no"] != "42" || len(h.User) != 2 {
		t.Fatalf("HeadObject: %+v", h)
	}
	got, g := get(t, b, bucket, "docs/report.txt", &backends.Range{Start: 3, End: 6})
	if string(got) != string(data[3:7]) || g.ETag != h.ETag || g.Size != h.Size || !g.ModTime.Equal(h.ModTime) {
		t.Fatalf("ranged GetObject: %q %+v", got, g)
	}
	h2, _ := b.HeadObject(ctx, bucket, "docs/blocks.bin")
	if h2.ETag != wantDerived || h2.Size != 3000 || h2.User["source"] != "camera" {
		t.Fatalf("HeadObject(blocks): %+v, want ETag %s", h2, wantDerived)
	}
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Prefix: "docs/"})
	if err != nil || len(res.Objects) != 2 {
		t.Fatalf("ListObjects: %+v %v", res, err)
	}
	for _, o := range res.Objects {
		want := map[string]backends.ObjectInfo{"docs/report.txt": h, "docs/blocks.bin": h2}[o.Key]
		if o.ETag != want.ETag || o.Size != want.Size || !o.ModTime.Equal(want.ModTime) || o.ContentType != want.ContentType {
			t.Fatalf("listed %+v, head %+v", o, want)
		}
	}

	// UpdateMeta keeps the data, the MD5 and the ETag, also the derived one.
	for _, k := range []string{"docs/report.txt", "docs/blocks.bin"} {
		before, _ := b.HeadObject(ctx, bucket, k)
		out, err := b.UpdateMeta(ctx, bucket, k, backends.Meta{ContentType: "image/png", User: map[string]string{"new": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := b.HeadObject(ctx, bucket, k)
		if out.ETag != before.ETag || after.ETag != before.ETag || after.ContentType != "image/png" || after.User["new"] != "1" || after.User["author"] != "" {
			t.Fatalf("UpdateMeta(%s): before %+v, returned %+v, after %+v", k, before, out, after)
		}
	}
	if got, _ := get(t, b, bucket, "docs/blocks.bin", nil); !bytes.Equal(got, big) {
		t.Fatal("UpdateMeta changed the data")
	}
	p, _ := cc.NewBlobClient("docs/report.txt").GetProperties(ctx, nil)
	if !bytes.Equal(p.ContentMD5, sum[:]) {
		t.Fatalf("UpdateMeta lost the blob's Content-MD5: %x", p.ContentMD5)
	}
}

// What Strata writes is a plain blob to Azure's own clients.
func TestReadByAzure(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{BlockSize: minBlockSize})
	bucket := newBucket(t, b)
	cc := directClient(t).NewContainerClient(bucket)
	for _, size := range []int{10, 3<<20 + 5} { // one request; staged blocks
		data := randBytes(size)
		key := fmt.Sprintf("from strata/%d.bin", size)
		put(t, b, bucket, key, data, backends.Meta{ContentType: "application/x-test", User: map[string]string{"color": "blue", "Odd-Name": "ü"}})
		resp, err := cc.NewBlobClient(key).DownloadStream(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(got, data) || str(resp.ContentType) != "application/x-test" {
			t.Fatalf("%s through azblob: %d bytes, type %q", key, len(got), str(resp.ContentType))
		}
		var color string
		for k, v := range resp.Metadata {
			if strings.EqualFold(k, "color") {
				color = *v
			}
		}
		if color != "blue" {
			t.Fatalf("metadata through azblob: %v", resp.Metadata)
		}
	}
}

// Listings come in Azure's order, and paging through them loses and
// repeats nothing, also where that order is not S3's.
func TestListOrder(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{})
	bucket := newBucket(t, b)
	keys := []string{"k/\uFFFD", "k/\U0001F600", "k/\uE000x", "k/\U00010000", "k/a", "k/é", "k/\U0010FFFF"}
	for _, k := range keys {
		if checkKey(k) != nil {
			continue
		}
		put(t, b, bucket, k, []byte(k), backends.Meta{})
	}
	// Azurite's own order, straight from azblob.
	var azure []string
	pager := directClient(t).NewContainerClient(bucket).NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Segment.BlobItems {
			azure = append(azure, *it.Name)
		}
	}
	if !slices.IsSortedFunc(azure, compareKeys) {
		t.Fatalf("Azurite's order is not compareKeys': %q", azure)
	}
	for _, max := range []int{1, 2, 3, 100} {
		var got []string
		marker := ""
		for {
			res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Marker: marker, MaxKeys: max})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				got = append(got, o.Key)
			}
			if !res.IsTruncated {
				break
			}
			marker = res.NextMarker
		}
		if !slices.Equal(got, azure) {
			t.Fatalf("MaxKeys %d: listed %q, want %q", max, got, azure)
		}
	}
	// An arbitrary marker (no remembered page), in that order.
	b2 := newTestBackend(t, Config{})
	res, err := b2.ListObjects(ctx, bucket, backends.ListOptions{Marker: "k/\U0001F600"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(azure, "k/\U0001F600")
	var after []string
	for _, o := range res.Objects {
		after = append(after, o.Key)
	}
	if !slices.Equal(after, azure[i+1:]) {
		t.Fatalf("after a marker: %q, want %q", after, azure[i+1:])
	}
}

// Strata's records never show as objects, whatever the delimiter.
func TestReservedHidden(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{})
	bucket := newBucket(t, b)
	if err := b.PutBucketConfig(ctx, bucket, "cors", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateMultipartUpload(ctx, bucket, "up", backends.Meta{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "/", ".", "s", ".s", "/u", "sys/"} {
		res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Delimiter: d})
		if err != nil || len(res.Objects)+len(res.Prefixes) != 0 {
			t.Fatalf("delimiter %q: %+v %v", d, res, err)
		}
	}
	put(t, b, bucket, ".sx", []byte("x"), backends.Meta{})
	put(t, b, bucket, ".strata.sysz", []byte("x"), backends.Meta{})
	for _, tc := range []struct {
		delim, prefix string
		keys, prefs   []string
	}{
		{".", "", nil, []string{"."}},
		{"s", "", nil, []string{".s"}},
		{"/", "", []string{".strata.sysz", ".sx"}, nil},
		{"/", ".strata.sys/", nil, nil},
		{"", ".strata.sys", []string{".strata.sysz"}, nil},
	} {
		res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Delimiter: tc.delim, Prefix: tc.prefix})
		var keys []string
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		if err != nil || !slices.Equal(keys, tc.keys) || !slices.Equal(res.Prefixes, tc.prefs) {
			t.Fatalf("%+v: %q %q %v", tc, keys, res.Prefixes, err)
		}
	}
	for _, k := range []string{".strata.sys/config/cors", ".strata.sys/x"} {
		if _, err := b.PutObject(ctx, bucket, k, strings.NewReader("x"), backends.PutOptions{}); !backends.Is(err, backends.InvalidKey) {
			t.Fatalf("PutObject(%s): %v", k, err)
		}
		if _, err := b.HeadObject(ctx, bucket, k); !backends.Is(err, backends.NoSuchKey) {
			t.Fatalf("HeadObject(%s): %v", k, err)
		}
		if err := b.DeleteObject(ctx, bucket, k); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := b.GetBucketConfig(ctx, bucket, "cors"); err != nil || string(got) != "x" {
		t.Fatalf("the bucket document after deleting reserved keys: %q %v", got, err)
	}
}

// Azure drops a blob's uncommitted blocks when the blob is committed:
// concurrent staged writes of one key lose with Unavailable (SlowDown,
// which clients retry), never with a torn object.
func TestConcurrentStagedWrites(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{BlockSize: minBlockSize})
	bucket := newBucket(t, b)
	contents := map[string]bool{}
	var datas [][]byte
	for range 4 {
		d := randBytes(3<<20 + 100)
		datas = append(datas, d)
		contents[md5hex(d)] = true
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for _, d := range datas {
		wg.Go(func() {
			m := backends.Meta{ETag: md5hex(d)}
			_, err := b.PutObject(ctx, bucket, "hot", bytes.NewReader(d), backends.PutOptions{Meta: &m})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !backends.Is(err, backends.Unavailable):
				t.Errorf("concurrent staged PutObject: %v", err)
			}
		})
	}
	wg.Wait()
	if wins == 0 {
		t.Fatal("no writer won")
	}
	got, info := get(t, b, bucket, "hot", nil)
	if !contents[md5hex(got)] || info.ETag != md5hex(got) {
		t.Fatalf("the object is no writer's whole content (%d bytes)", len(got))
	}
}

// A write of the key during a multipart upload discards the upload's
// blocks: completing it is InvalidPart, and the object stays as written.
func TestMultipartOverwritten(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{BlockSize: minBlockSize})
	bucket := newBucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bucket, "k", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	part := randBytes(2<<20 + 1)
	m := backends.Meta{ETag: md5hex(part)}
	p, err := b.UploadPart(ctx, bucket, "k", id, 1, bytes.NewReader(part), &m)
	if err != nil {
		t.Fatal(err)
	}
	other := randBytes(2<<20 + 7) // staged, then committed
	put(t, b, bucket, "k", other, backends.Meta{})
	_, err = b.CompleteMultipartUpload(ctx, bucket, "k", id, []int{1}, backends.PutOptions{Meta: &backends.Meta{ETag: p.ETag + "-1"}})
	if !backends.Is(err, backends.InvalidPart) {
		t.Fatalf("CompleteMultipartUpload after an overwrite: %v, want InvalidPart", err)
	}
	if got, _ := get(t, b, bucket, "k", nil); !bytes.Equal(got, other) {
		t.Fatal("the object changed")
	}
	if err := b.AbortMultipartUpload(ctx, bucket, "k", id); err != nil {
		t.Fatal(err)
	}
}

// A part of many blocks, re-uploaded, and parts completed out of order.
func TestMultipartBlocks(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{BlockSize: minBlockSize})
	bucket := newBucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bucket, "big", backends.Meta{ContentType: "x/y"})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[int][]byte{1: randBytes(3<<20 + 1), 2: randBytes(1 << 20), 3: nil, 4: randBytes(5)}
	for _, n := range []int{2, 1, 4, 3, 1} {
		if n == 1 {
			parts[1] = randBytes(3<<20 + 1)
		}
		m := backends.Meta{ETag: md5hex(parts[n])}
		if _, err := b.UploadPart(ctx, bucket, "big", id, n, bytes.NewReader(parts[n]), &m); err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
	}
	_, list, err := b.ListParts(ctx, bucket, "big", id)
	if err != nil || len(list) != 4 || list[0].Size != 3<<20+1 || list[2].Size != 0 {
		t.Fatalf("ListParts: %+v %v", list, err)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "big", id, []int{1, 2, 3, 4}, backends.PutOptions{Meta: &backends.Meta{ETag: "x-4", ContentType: "x/y"}}); err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(parts[1], parts[2], parts[3], parts[4])
	if got, info := get(t, b, bucket, "big", nil); !bytes.Equal(got, want) || info.Size != int64(len(want)) || info.ETag != "x-4" {
		t.Fatalf("completed: %d bytes, %+v", len(got), info)
	}
	if _, err := b.UploadPart(ctx, bucket, "big", id, 0, strings.NewReader("x"), &backends.Meta{}); err == nil {
		t.Fatal("part 0 accepted")
	}
}

// Timeout bounds a request to a server that never answers.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	b, err := New(t.Context(), Config{Account: devAccount, Key: devKey, Endpoint: "http://" + l.Addr().String() + "/" + devAccount,
		Timeout: 300 * time.Millisecond, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.HeadObject(t.Context(), "bucket", "key")
	if !backends.Is(err, backends.Unavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("HeadObject from a silent server: %v after %v, want Unavailable soon", err, time.Since(start))
	}
	_, _, err = b.GetObject(t.Context(), "bucket", "key", nil)
	if !backends.Is(err, backends.Unavailable) {
		t.Fatalf("GetObject from a silent server: %v, want Unavailable", err)
	}
}

// stopAfter returns n bytes of data, calls stop, and then the rest.
type stopAfter struct {
	r    io.Reader
	n    int
	stop func()
}

func (s *stopAfter) Read(p []byte) (int, error) {
	if s.n <= 0 && s.stop != nil {
		s.stop()
		s.stop = nil
	}
	if s.n > 0 && len(p) > s.n {
		p = p[:s.n]
	}
	n, err := s.r.Read(p)
	s.n -= n
	return n, err
}

// Azurite stopped in the middle of an upload: the upload fails, nothing of
// it is visible once Azurite is back, and requests work again.
func TestEmulatorStopped(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	port := freePort()
	az, err := startAzurite(port, dir)
	if err != nil {
		t.Fatalf("Azurite: %v (install with tests/services/azurite.sh install)", err)
	}
	defer func() { az.stop() }()
	b, err := New(ctx, Config{Account: devAccount, Key: devKey, Endpoint: az.endpoint, BlockSize: minBlockSize,
		MaxRetries: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx, "faults"); err != nil {
		t.Fatal(err)
	}
	old := []byte("the old content")
	put(t, b, "faults", "obj", old, backends.Meta{})

	data := randBytes(4 << 20)
	m := backends.Meta{ETag: md5hex(data)}
	r := &stopAfter{r: bytes.NewReader(data), n: 2<<20 + 10, stop: az.stop}
	if _, err := b.PutObject(ctx, "faults", "obj", r, backends.PutOptions{Meta: &m}); err == nil {
		t.Fatal("PutObject with Azurite stopped: no error")
	} else if !backends.Is(err, backends.Unavailable) {
		t.Errorf("PutObject with Azurite stopped: %v, want Unavailable", err)
	}
	if _, err := b.HeadObject(ctx, "faults", "obj"); !backends.Is(err, backends.Unavailable) {
		t.Errorf("HeadObject with Azurite stopped: %v, want Unavailable", err)
	}

	az, err = startAzurite(port, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, info := get(t, b, "faults", "obj", nil); !bytes.Equal(got, old) || info.ETag != md5hex(old) {
		t.Fatalf("after the failed upload: %q %+v", got, info)
	}
	put(t, b, "faults", "obj", data, backends.Meta{})
	if got, _ := get(t, b, "faults", "obj", nil); !bytes.Equal(got, data) {
		t.Fatal("upload after the restart differs")
	}
}

// sideBlobs lists the parts lists kept out of objects' entries.
func sideBlobs(t *testing.T, bucket string) []string {
	t.Helper()
	var out []string
	pager := directClient(t).NewContainerClient(bucket).NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: ptr(partsPrefix)})
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Segment.BlobItems {
			out = append(out, *it.Name)
		}
	}
	return out
}

// A parts list too large for the 8 KiB of metadata is a blob of its own:
// HEAD, GET, UpdateMeta and moves keep it whole, with each part's Sys;
// deleting the object deletes it.
func TestPartsOutOfEntry(t *testing.T) {
	ctx := t.Context()
	b := newTestBackend(t, Config{})
	bucket := newBucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bucket, "many", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var parts []backends.PartInfo
	var nums []int
	var all []byte
	for i := 1; i <= n; i++ {
		data := []byte(fmt.Sprintf("part %03d;", i))
		all = append(all, data...)
		m := &backends.Meta{ETag: md5hex(data), Sys: map[string]string{"sse-size": fmt.Sprint(len(data) * i)}}
		p, err := b.UploadPart(ctx, bucket, "many", id, i, bytes.NewReader(data), m)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
		nums = append(nums, i)
	}
	final := backends.Meta{ETag: "0123456789abcdef0123456789abcdef-300", Parts: parts, Sys: map[string]string{"sse-key": "k"}}
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "many", id, nums, backends.PutOptions{Meta: &final}); err != nil {
		t.Fatal(err)
	}
	check := func(key string) {
		t.Helper()
		h, err := b.HeadObject(ctx, bucket, key)
		if err != nil || len(h.Parts) != n || h.Parts[n-1].Sys["sse-size"] != fmt.Sprint(9*n) || h.Sys["sse-key"] != "k" || h.ETag != final.ETag {
			t.Fatalf("HeadObject(%s): %d parts, %v", key, len(h.Parts), err)
		}
		got, g := get(t, b, bucket, key, nil)
		if !bytes.Equal(got, all) || len(g.Parts) != n {
			t.Fatalf("GetObject(%s): %d bytes, %d parts", key, len(got), len(g.Parts))
		}
		if s := sideBlobs(t, bucket); len(s) != 1 {
			t.Fatalf("parts lists: %q, want one", s)
		}
	}
	check("many")
	h, _ := b.HeadObject(ctx, bucket, "many")
	m := h.Meta
	m.Parts, m.Tags = nil, map[string]string{"t": "1"}
	if _, err := b.UpdateMeta(ctx, bucket, "many", m); err != nil {
		t.Fatal(err)
	}
	check("many")
	if err := b.MoveObject(ctx, bucket, "many", "moved"); err != nil {
		t.Fatal(err)
	}
	check("moved")
	if err := b.DeleteObject(ctx, bucket, "moved"); err != nil {
		t.Fatal(err)
	}
	if s := sideBlobs(t, bucket); len(s) != 0 {
		t.Fatalf("parts lists after the delete: %q", s)
	}
}
