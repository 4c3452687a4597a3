// Package sse is the server-side encryption layer: SSE-S3, SSE-KMS and
// SSE-C over any backend. Each object gets its own random key; the data is
// stored as a stream of authenticated packages (gateway/sio), and the
// sealed key lives in the object's Meta.Sys. Layers below this one (object
// lock, versioning, bitrot) and the backend only ever see ciphertext.
package sse

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/sio"
)

// Names of the layer's Meta.Sys entries (docs/formats.md, "Encryption").
const (
	sysVersion = "sse-v"    // format version: "1"
	sysType    = "sse-t"    // S3, KMS or C
	sysCipher  = "sse-c"    // sio.Cipher name
	sysKeyID   = "sse-kid"  // KMS master key (S3, KMS)
	sysDataKey = "sse-dk"   // KMS-sealed data key, base64 (S3, KMS)
	sysContext = "sse-ctx"  // the request's KMS context, base64 JSON (KMS)
	sysSealed  = "sse-ok"   // object key sealed by the customer key, base64 (C)
	sysSize    = "sse-size" // plaintext size
	sysBKey    = "sse-bk"   // "1": x-amz-server-side-encryption-bucket-key-enabled
	sysETag    = "sse-etag" // the ETag clients see (backends may answer their own)

	formatVersion = "1"
)

// Options configure the layer.
type Options struct {
	// KMS makes and unseals the data keys of SSE-S3 and SSE-KMS; nil
	// refuses those requests (SSE-C works without a KMS).
	KMS kms.KMS
	// Cipher encrypts new objects; 0 is sio.DefaultCipher().
	Cipher sio.Cipher
	// AutoEncrypt encrypts every new object with SSE-S3 when neither the
	// request nor the bucket asks for an encryption.
	AutoEncrypt bool
}

// Layer is the encryption layer over a backend.
type Layer struct {
	gateway.Forward // the backend below
	kms             kms.KMS
	cipher          sio.Cipher
	auto            bool

	mu      sync.Mutex
	configs map[string]cachedConfig // bucket default encryption
	used    map[string]bool         // buckets known to hold encrypted objects
	uploads map[string]*upload      // multipart uploads in progress
}

type cachedConfig struct {
	cfg *BucketConfig
	at  time.Time
}

// configTTL bounds how long another node's change to a bucket's default
// encryption can go unseen.
const configTTL = 5 * time.Second

// New returns the encryption layer over inner.
func New(inner backends.Backend, o Options) *Layer {
	if o.Cipher == 0 {
		o.Cipher = sio.DefaultCipher()
	}
	return &Layer{
		Forward: gateway.Forward{Backend: inner},
		kms:     o.KMS,
		cipher:  o.Cipher,
		auto:    o.AutoEncrypt,
		configs: map[string]cachedConfig{},
		used:    map[string]bool{},
		uploads: map[string]*upload{},
	}
}

// Info describes an object's encryption, for response headers.
type Info struct {
	Type       string // gateway.SSES3, SSEKMS, SSEC; "" when not encrypted
	KMSKeyID   string
	KMSContext string // base64 JSON, as in x-amz-server-side-encryption-context
	BucketKey  bool
}

// Describe returns how the object with meta m is encrypted.
func Describe(m backends.Meta) Info {
	switch m.Sys[sysType] {
	case "S3":
		return Info{Type: gateway.SSES3}
	case "KMS":
		return Info{Type: gateway.SSEKMS, KMSKeyID: m.Sys[sysKeyID], KMSContext: m.Sys[sysContext], BucketKey: m.Sys[sysBKey] == "1"}
	case "C":
		return Info{Type: gateway.SSEC}
	}
	return Info{}
}

func encrypted(m backends.Meta) bool { return m.Sys[sysType] != "" }

// ---- keys ----------------------------------------------------------------

// objectKeys is what encrypting or decrypting an object needs.
type objectKeys struct {
	key    []byte // the object key; stream and part keys derive from it
	cipher sio.Cipher
	typ    string
}

func (k objectKeys) streamKey() []byte { return sio.DeriveKey(k.key, "stream") }
func (k objectKeys) partKey(n int) []byte {
	return sio.DeriveKey(k.key, "part", strconv.Itoa(n))
}

// etag is the ETag of SSE-KMS and SSE-C data: AWS does not answer those
// with the MD5 of the plaintext, which would leak it; Strata answers a MAC
// of that MD5 under the object's key, 32 hex digits like an MD5.
func (k objectKeys) etag(streamKey []byte, plainMD5 string) string {
	if k.typ == "S3" {
		return plainMD5
	}
	m := hmac.New(sha256.New, sio.DeriveKey(streamKey, "etag"))
	m.Write([]byte(plainMD5))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// arn is the KMS context entry that binds a data key to its object, as S3
// does.
func arn(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

func kmsContext(bucket, key string, user map[string]string) kms.Context {
	c := kms.Context{}
	for k, v := range user {
		c[k] = v
	}
	c["aws:s3:arn"] = arn(bucket, key)
	return c
}

func ssecAAD(bucket, key string) []byte { return []byte("SSE-C\x00" + bucket + "/" + key) }

// KeyMD5 is the base64 MD5 of an SSE-C key, as in
// x-amz-server-side-encryption-customer-key-MD5.
func KeyMD5(key []byte) string {
	s := md5.Sum(key)
	return base64.StdEncoding.EncodeToString(s[:])
}

func (l *Layer) needKMS() error {
	if l.kms == nil {
		return backends.Errorf(backends.NotImplemented, "Server side encryption specified but KMS is not configured (set STRATA_KMS_SECRET_KEY or a Vault; see docs/kms.md)")
	}
	return nil
}

func kmsErr(err error, keyID string) error {
	switch {
	case errors.Is(err, kms.ErrKeyNotFound):
		return backends.Wrap(backends.InvalidArgument, err, "the KMS key "+strconv.Quote(keyID)+" does not exist")
	case errors.Is(err, kms.ErrDecrypt):
		return backends.Wrap(backends.AccessDenied, err, "the object's data key cannot be unsealed by the KMS")
	}
	return backends.Wrap(backends.Unavailable, err, "the KMS failed")
}

// newKeys makes the keys of a new object encrypted as req asks, and the
// Sys entries that record them.
func (l *Layer) newKeys(ctx context.Context, bucket, key string, req *gateway.SSE) (objectKeys, map[string]string, error) {
	sys := map[string]string{sysVersion: formatVersion, sysCipher: l.cipher.String()}
	k := objectKeys{cipher: l.cipher}
	switch req.Type {
	case gateway.SSES3, gateway.SSEKMS:
		if err := l.needKMS(); err != nil {
			return k, nil, err
		}
		keyID := req.KMSKeyID
		if req.Type == gateway.SSES3 || keyID == "" {
			keyID = l.kms.DefaultKey()
		}
		keyID = strings.TrimPrefix(keyID, "arn:aws:kms:")
		if i := strings.Index(keyID, ":key/"); i >= 0 {
			keyID = keyID[i+len(":key/"):]
		}
		dk, err := l.kms.GenerateKey(ctx, keyID, kmsContext(bucket, key, req.KMSContext))
		if err != nil {
			return k, nil, kmsErr(err, keyID)
		}
		if dk.KeyID != "" {
			keyID = dk.KeyID
		}
		k.key = sio.DeriveKey(dk.Plaintext, "object")
		sys[sysKeyID] = keyID
		sys[sysDataKey] = base64.StdEncoding.EncodeToString(dk.Sealed)
		if req.Type == gateway.SSES3 {
			k.typ = "S3"
		} else {
			k.typ = "KMS"
			if len(req.KMSContext) > 0 {
				sys[sysContext] = encodeContext(req.KMSContext)
			}
			if req.BucketKey {
				sys[sysBKey] = "1"
			}
		}
	case gateway.SSEC:
		k.typ = "C"
		k.key = make([]byte, 32)
		if _, err := rand.Read(k.key); err != nil {
			return k, nil, err
		}
		sealed, err := sio.Seal(sio.DeriveKey(req.CustomerKey, "sse-c"), k.key, ssecAAD(bucket, key))
		if err != nil {
			return k, nil, err
		}
		sys[sysSealed] = base64.StdEncoding.EncodeToString(sealed)
	default:
		return k, nil, backends.Errorf(backends.InvalidArgument, "The encryption method specified is not supported")
	}
	sys[sysType] = k.typ
	return k, sys, nil
}

func encodeContext(c map[string]string) string {
	b, _ := json.Marshal(c) // sorted by name
	return base64.StdEncoding.EncodeToString(b)
}

func decodeContext(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var c map[string]string
	return c, json.Unmarshal(b, &c)
}

// keysOf unseals the key of an existing object. req carries the customer
// key of an SSE-C object.
func (l *Layer) keysOf(ctx context.Context, bucket, key string, m backends.Meta, req *gateway.SSE) (objectKeys, error) {
	sys := m.Sys
	if v := sys[sysVersion]; v != formatVersion {
		return objectKeys{}, backends.Errorf(backends.Internal, "the object's encryption format %q is not known to this Strata", v)
	}
	c, err := sio.ParseCipher(sys[sysCipher])
	if err != nil {
		return objectKeys{}, backends.Wrap(backends.Internal, err, "the object's cipher is not known")
	}
	k := objectKeys{cipher: c, typ: sys[sysType]}
	switch k.typ {
	case "S3", "KMS":
		if req != nil && req.Type == gateway.SSEC {
			return k, backends.Errorf(backends.InvalidRequest, "The encryption parameters are not applicable to this object.")
		}
		if err := l.needKMS(); err != nil {
			return k, err
		}
		sealed, err := base64.StdEncoding.DecodeString(sys[sysDataKey])
		if err != nil {
			return k, backends.Wrap(backends.Internal, err, "the object's sealed key is damaged")
		}
		user, err := decodeContext(sys[sysContext])
		if err != nil {
			return k, backends.Wrap(backends.Internal, err, "the object's KMS context is damaged")
		}
		dk, err := l.kms.Decrypt(ctx, sys[sysKeyID], sealed, kmsContext(bucket, key, user))
		if err != nil {
			return k, kmsErr(err, sys[sysKeyID])
		}
		k.key = sio.DeriveKey(dk, "object")
	case "C":
		if req == nil || req.Type != gateway.SSEC {
			return k, backends.Errorf(backends.InvalidRequest, "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
		}
		sealed, err := base64.StdEncoding.DecodeString(sys[sysSealed])
		if err != nil {
			return k, backends.Wrap(backends.Internal, err, "the object's sealed key is damaged")
		}
		k.key, err = sio.Unseal(sio.DeriveKey(req.CustomerKey, "sse-c"), sealed, ssecAAD(bucket, key))
		if err != nil {
			return k, backends.Errorf(backends.AccessDenied, "The provided customer key does not match the key the object was encrypted with")
		}
	default:
		return k, backends.Errorf(backends.Internal, "the object's encryption type %q is not known", k.typ)
	}
	return k, nil
}

// choose returns the encryption a new object of bucket gets: the
// request's, the bucket's default, or SSE-S3 when the server encrypts
// everything; nil for none.
func (l *Layer) choose(ctx context.Context, bucket string) (*gateway.SSE, error) {
	if r := gateway.OptionsFrom(ctx).SSE; r != nil {
		return r, nil
	}
	c, err := l.bucketConfig(ctx, bucket)
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c.request(), nil
	}
	if l.auto {
		return &gateway.SSE{Type: gateway.SSES3}, nil
	}
	return nil, nil
}

func (l *Layer) bucketConfig(ctx context.Context, bucket string) (*BucketConfig, error) {
	l.mu.Lock()
	c, ok := l.configs[bucket]
	l.mu.Unlock()
	if ok && time.Since(c.at) < configTTL {
		return c.cfg, nil
	}
	data, err := l.Backend.GetBucketConfig(ctx, bucket, gateway.DocEncryption)
	var cfg *BucketConfig
	switch {
	case backends.Is(err, backends.NotFound):
	case err != nil:
		return nil, err
	default:
		if cfg, err = ParseBucketConfig(data); err != nil {
			return nil, backends.Wrap(backends.Internal, err, "the bucket's encryption configuration is damaged")
		}
	}
	l.mu.Lock()
	l.configs[bucket] = cachedConfig{cfg: cfg, at: time.Now()}
	l.mu.Unlock()
	return cfg, nil
}

// PutBucketConfig checks a default encryption before storing it.
func (l *Layer) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if name == gateway.DocEncryption && data != nil {
		c, err := ParseBucketConfig(data)
		if err != nil {
			return err
		}
		if err := l.needKMS(); err != nil {
			return err
		}
		data = c.Marshal()
	}
	err := l.Backend.PutBucketConfig(ctx, bucket, name, data)
	if name == gateway.DocEncryption {
		l.mu.Lock()
		delete(l.configs, bucket)
		l.mu.Unlock()
	}
	return err
}

// markUsed records, once per bucket, that it holds encrypted objects, so
// that listings over backends that do not list Meta.Sys know to look.
func (l *Layer) markUsed(ctx context.Context, bucket string) error {
	l.mu.Lock()
	done := l.used[bucket]
	l.mu.Unlock()
	if done {
		return nil
	}
	if l.Forward.ListsSys(bucket) {
		return nil
	}
	if _, err := l.Backend.GetBucketConfig(ctx, bucket, docUsed); backends.Is(err, backends.NotFound) {
		if err := l.Backend.PutBucketConfig(ctx, bucket, docUsed, []byte("1")); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	l.mu.Lock()
	l.used[bucket] = true
	l.mu.Unlock()
	return nil
}

// docUsed is the bucket document that says the bucket holds encrypted
// objects.
const docUsed = "sse-used"

// ---- writes --------------------------------------------------------------

// sealReader counts the plaintext and completes meta when it ends: the
// plaintext size, and the ETag of SSE-KMS and SSE-C data.
type sealReader struct {
	src       io.Reader
	meta      *backends.Meta
	keys      objectKeys
	streamKey []byte
	sys       map[string]string // the layer's entries, set again at the end
	n         int64
	done      bool
	// deferred leaves finish to the reader of the encrypted stream, when
	// a goroutine reads this one ahead: meta is the consumer's to change.
	deferred bool
}

func (r *sealReader) Read(p []byte) (int, error) {
	n, err := r.src.Read(p)
	r.n += int64(n)
	if err == io.EOF && !r.deferred {
		r.finish()
	}
	return n, err
}

// finish records the plaintext's size and ETag in meta, once the whole
// plaintext has been read.
func (r *sealReader) finish() {
	if r.done {
		return
	}
	r.done = true
	// Whoever read before may have replaced the map at its own end.
	setSys(r.meta, r.sys)
	r.meta.Sys[sysSize] = strconv.FormatInt(r.n, 10)
	r.meta.ETag = r.keys.etag(r.streamKey, r.meta.ETag)
	r.meta.Sys[sysETag] = r.meta.ETag
}

func (l *Layer) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if strings.HasSuffix(key, "/") {
		// An empty folder object stays empty: file systems cannot hold
		// data in a folder, and there is nothing to protect.
		var b [1]byte
		n, eof, err := backends.ReadBlock(data, b[:])
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		if n == 0 && eof {
			if opts.Meta != nil {
				clearSys(opts.Meta)
			}
			return l.Backend.PutObject(ctx, bucket, key, data, opts)
		}
		data = io.MultiReader(bytes.NewReader(b[:n]), data)
	}
	req, err := l.choose(ctx, bucket)
	if err != nil || req == nil {
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		if opts.Meta != nil {
			clearSys(opts.Meta)
		}
		if opts.IfMatch, err = l.storedETag(ctx, bucket, key, opts.IfMatch); err != nil {
			return backends.ObjectInfo{}, err
		}
		return l.Backend.PutObject(ctx, bucket, key, data, opts)
	}
	if opts.Meta == nil {
		opts.Meta = &backends.Meta{}
	}
	k, sys, err := l.newKeys(ctx, bucket, key, req)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := l.markUsed(ctx, bucket); err != nil {
		return backends.ObjectInfo{}, err
	}
	if opts.IfMatch, err = l.storedETag(ctx, bucket, key, opts.IfMatch); err != nil {
		return backends.ObjectInfo{}, err
	}
	clearSys(opts.Meta)
	setSys(opts.Meta, sys)
	sk := k.streamKey()
	enc, meta, done := encrypting(&sealReader{src: data, meta: opts.Meta, keys: k, streamKey: sk, sys: sys}, sio.Config{Key: sk, Cipher: k.cipher})
	opts.Meta = meta
	info, err := l.Backend.PutObject(ctx, bucket, key, enc, opts)
	done()
	if err != nil {
		return info, err
	}
	return plainInfo(info)
}

// storedETag turns the ETag a client knows (If-Match) into the one the
// backend compares, which differs for encrypted objects on backends that
// answer ETags of their own.
func (l *Layer) storedETag(ctx context.Context, bucket, key, etag string) (string, error) {
	if etag == "" || etag == "*" {
		return etag, nil
	}
	cur, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil {
		if backends.Is(err, backends.NoSuchKey) {
			return etag, nil
		}
		return "", err
	}
	if e := cur.Sys[sysETag]; e != "" {
		if e == strings.Trim(etag, `"`) {
			return cur.ETag, nil
		}
		return "strata-sse-no-such-etag", nil
	}
	return etag, nil
}

func clearSys(m *backends.Meta) {
	for n := range m.Sys {
		if strings.HasPrefix(n, gateway.SysSSE) {
			delete(m.Sys, n)
		}
	}
}

func setSys(m *backends.Meta, sys map[string]string) {
	if m.Sys == nil {
		m.Sys = make(map[string]string, len(sys))
	}
	for n, v := range sys {
		m.Sys[n] = v
	}
}

// plainInfo turns the stored description of an object into the client's:
// plaintext sizes of the object and its parts.
func plainInfo(info backends.ObjectInfo) (backends.ObjectInfo, error) {
	if !encrypted(info.Meta) || info.DeleteMarker {
		return info, nil
	}
	size, err := plainSize(info.Meta)
	if err != nil {
		return info, err
	}
	info.Size = size
	if e := info.Sys[sysETag]; e != "" {
		info.ETag = e
	}
	if len(info.Parts) > 0 {
		parts := make([]backends.PartInfo, len(info.Parts))
		copy(parts, info.Parts)
		for i := range parts {
			n, err := sio.DecryptedSize(parts[i].Size)
			if err != nil {
				return info, backends.Wrap(backends.Internal, err, "a part of the encrypted object has a size no encryption makes")
			}
			parts[i].Size = n
			if e := parts[i].Sys[sysETag]; e != "" {
				parts[i].ETag = e
			}
		}
		info.Parts = parts
	}
	return info, nil
}

func plainSize(m backends.Meta) (int64, error) {
	if len(m.Parts) > 0 {
		var total int64
		for _, p := range m.Parts {
			n, err := sio.DecryptedSize(p.Size)
			if err != nil {
				return 0, backends.Wrap(backends.Internal, err, "a part of the encrypted object has a size no encryption makes")
			}
			total += n
		}
		return total, nil
	}
	n, err := sio.DecryptedSize(m.Size)
	if err != nil {
		return 0, backends.Wrap(backends.Internal, err, "the encrypted object has a size no encryption makes (truncated?)")
	}
	if s := m.Sys[sysSize]; s != "" && s != strconv.FormatInt(n, 10) {
		return 0, backends.Errorf(backends.Internal, "the encrypted object's size does not match its record")
	}
	return n, nil
}

// ---- reads ---------------------------------------------------------------

// segment is the piece of one encrypted stream (the object, or a part) that
// a read needs.
type segment struct {
	key    []byte
	encLen int64
	seq    uint32
	skip   int64
	take   int64
	final  bool // the stored bytes end with the stream's final package
}

// plan maps the plaintext range [off, off+n) of an object to the stored
// range to read and the segments to decrypt from it.
func plan(m backends.Meta, k objectKeys, off, n int64) (encStart, encLen int64, segs []segment, err error) {
	type stream struct {
		key             []byte
		encSize, pSize  int64
		encOff, plainOf int64
	}
	var streams []stream
	if len(m.Parts) == 0 {
		ps, err := sio.DecryptedSize(m.Size)
		if err != nil {
			return 0, 0, nil, backends.Wrap(backends.Internal, err, "the encrypted object is damaged")
		}
		streams = []stream{{key: k.streamKey(), encSize: m.Size, pSize: ps}}
	} else {
		var eo, po int64
		for _, p := range m.Parts {
			ps, err := sio.DecryptedSize(p.Size)
			if err != nil {
				return 0, 0, nil, backends.Wrap(backends.Internal, err, "the encrypted object is damaged")
			}
			streams = append(streams, stream{key: k.partKey(p.Number), encSize: p.Size, pSize: ps, encOff: eo, plainOf: po})
			eo += p.Size
			po += ps
		}
	}
	end := off + n
	encStart = -1
	for _, s := range streams {
		lo, hi := max(off, s.plainOf), min(end, s.plainOf+s.pSize)
		if lo >= hi && !(n == 0 && s.pSize == 0 && lo == s.plainOf) {
			continue
		}
		var eOff, eLen, skip int64
		var seq uint32
		if s.pSize == 0 {
			eLen = s.encSize // the one empty final package
		} else {
			eOff, eLen, seq, skip = sio.Range(lo-s.plainOf, hi-lo, s.pSize)
		}
		if encStart < 0 {
			encStart = s.encOff + eOff
		}
		encLen = s.encOff + eOff + eLen - encStart
		segs = append(segs, segment{key: s.key, encLen: eLen, seq: seq, skip: skip, take: hi - lo, final: hi == s.plainOf+s.pSize})
	}
	if encStart < 0 {
		encStart = 0
	}
	return encStart, encLen, segs, nil
}

// decryptReader decrypts the segments of a stored range in turn.
type decryptReader struct {
	body   io.ReadCloser
	cipher sio.Cipher
	segs   []segment
	lr     *io.LimitedReader // the current segment's stored bytes
	cur    io.Reader         // its plaintext, skip done, take bytes long
	par    *batches          // the current segment's decrypter, when parallel
}

func (r *decryptReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.par != nil {
				r.par.Close()
				r.par = nil
			}
			if r.lr != nil && r.lr.N > 0 {
				// Whatever of the last package the decrypter left.
				if _, err := io.Copy(io.Discard, r.lr); err != nil {
					return 0, err
				}
			}
			if len(r.segs) == 0 {
				return 0, io.EOF
			}
			s := r.segs[0]
			r.segs = r.segs[1:]
			r.lr = &io.LimitedReader{R: r.body, N: s.encLen}
			var dr io.Reader
			if parallelWorth(s.encLen) {
				r.par = newParallelDecrypt(r.lr, s.key, r.cipher, s.seq, s.encLen, s.final)
				dr = r.par
			} else {
				d, err := sio.DecryptReader(r.lr, sio.Config{Key: s.key, Cipher: r.cipher, SeqNum: s.seq})
				if err != nil {
					return 0, decryptErr(err)
				}
				dr = d
			}
			if s.take == 0 {
				// An empty stream: its one package is still checked.
				if _, err := io.Copy(io.Discard, dr); err != nil {
					return 0, decryptErr(err)
				}
				continue
			}
			if s.skip > 0 {
				if _, err := io.CopyN(io.Discard, dr, s.skip); err != nil {
					return 0, decryptErr(err)
				}
			}
			r.cur = &exactReader{r: dr, n: s.take}
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			err = decryptErr(err)
		}
		return n, err
	}
}

func (r *decryptReader) Close() error {
	if r.par != nil {
		r.par.Close() // first: it may be reading the body
	}
	return r.body.Close()
}

// exactReader reads exactly n bytes from r: ending early is an error.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		return n, io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func decryptErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sio.ErrAuth) {
		return backends.Wrap(backends.Internal, err, "the encrypted object failed authentication: its stored data was changed or truncated")
	}
	return err
}

func (l *Layer) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	req := gateway.OptionsFrom(ctx).SSE
	if rng == nil {
		body, info, err := l.Backend.GetObject(ctx, bucket, key, nil)
		if err != nil || !encrypted(info.Meta) || info.DeleteMarker {
			if err == nil && req != nil && req.Type == gateway.SSEC {
				body.Close()
				return nil, backends.ObjectInfo{}, backends.Errorf(backends.InvalidRequest, "The encryption parameters are not applicable to this object.")
			}
			return body, info, err
		}
		r, plain, err := l.open(ctx, bucket, key, info, body, nil, req)
		if err != nil {
			body.Close()
			return nil, backends.ObjectInfo{}, err
		}
		return r, plain, nil
	}
	for attempt := 0; ; attempt++ {
		info, err := l.Backend.HeadObject(ctx, bucket, key)
		if err != nil {
			return nil, info, err
		}
		if !encrypted(info.Meta) || info.DeleteMarker {
			if req != nil && req.Type == gateway.SSEC {
				return nil, backends.ObjectInfo{}, backends.Errorf(backends.InvalidRequest, "The encryption parameters are not applicable to this object.")
			}
			return l.Backend.GetObject(ctx, bucket, key, rng)
		}
		r, plain, err := l.open(ctx, bucket, key, info, nil, rng, req)
		if errors.Is(err, errChanged) && attempt < 3 {
			continue
		}
		return r, plain, err
	}
}

var errChanged = errors.New("sse: the object changed while it was opened")

// open returns the decrypting reader of the range rng of the object info
// describes; body, when not nil, is the whole stored object already open.
func (l *Layer) open(ctx context.Context, bucket, key string, info backends.ObjectInfo, body io.ReadCloser, rng *backends.Range, req *gateway.SSE) (io.ReadCloser, backends.ObjectInfo, error) {
	k, err := l.keysOf(ctx, bucket, key, info.Meta, req)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	plain, err := plainInfo(info)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	off, n, err := rng.Resolve(plain.Size)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	encStart, encLen, segs, err := plan(info.Meta, k, off, n)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	if body == nil {
		var cur backends.ObjectInfo
		stored := &backends.Range{Start: encStart, End: encStart + encLen - 1}
		if encLen == 0 {
			stored = &backends.Range{Start: 0, End: 0}
		}
		body, cur, err = l.Backend.GetObject(ctx, bucket, key, stored)
		if err != nil {
			return nil, backends.ObjectInfo{}, err
		}
		if cur.ETag != info.ETag || cur.Sys[sysDataKey] != info.Sys[sysDataKey] || cur.Sys[sysSealed] != info.Sys[sysSealed] {
			body.Close()
			return nil, backends.ObjectInfo{}, errChanged
		}
		if encLen == 0 {
			body.Close()
			body = io.NopCloser(strings.NewReader(""))
		}
	}
	if encLen > prefetchChunk {
		body = newPrefetch(body)
	}
	return &decryptReader{body: body, cipher: k.cipher, segs: segs}, plain, nil
}

func (l *Layer) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	info, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil || info.DeleteMarker {
		return info, err
	}
	if !encrypted(info.Meta) {
		if req := gateway.OptionsFrom(ctx).SSE; req != nil && req.Type == gateway.SSEC {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidRequest, "The encryption parameters are not applicable to this object.")
		}
		return info, nil
	}
	// A customer key sent with HEAD must be the object's; whether one is
	// required is for the caller to say (tagging, retention and the like
	// read metadata without it).
	if req := gateway.OptionsFrom(ctx).SSE; req != nil && req.Type == gateway.SSEC {
		if _, err := l.keysOf(ctx, bucket, key, info.Meta, req); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	return plainInfo(info)
}

func (l *Layer) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	cur, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil {
		return cur, err
	}
	clearSys(&meta)
	for n, v := range cur.Sys {
		if strings.HasPrefix(n, gateway.SysSSE) {
			if meta.Sys == nil {
				meta.Sys = map[string]string{}
			}
			meta.Sys[n] = v
		}
	}
	info, err := l.Backend.UpdateMeta(ctx, bucket, key, meta)
	if err != nil {
		return info, err
	}
	return plainInfo(info)
}

func (l *Layer) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	res, err := l.Backend.ListObjects(ctx, bucket, opts)
	if err != nil {
		return res, err
	}
	if err := l.fixSizes(ctx, bucket, res.Objects); err != nil {
		return res, err
	}
	return res, nil
}

// fixSizes replaces the stored sizes of encrypted objects in a listing by
// their plaintext sizes. Where the backend does not list Meta.Sys and the
// bucket ever held encrypted objects, each object is looked at.
func (l *Layer) fixSizes(ctx context.Context, bucket string, objs []backends.ObjectInfo) error {
	look := false
	if !l.Forward.ListsSys(bucket) && len(objs) > 0 {
		_, err := l.Backend.GetBucketConfig(ctx, bucket, docUsed)
		switch {
		case err == nil:
			look = true
		case !backends.Is(err, backends.NotFound):
			return err
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 16)
	for i := range objs {
		o := &objs[i]
		if o.DeleteMarker {
			continue
		}
		if encrypted(o.Meta) {
			if p, err := plainInfo(*o); err == nil {
				o.Size, o.ETag = p.Size, p.ETag
			}
			continue
		}
		if !look {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			hctx := ctx
			if o.VersionID != "" {
				hctx = gateway.WithOptions(ctx, &gateway.Options{VersionID: o.VersionID})
			}
			h, err := l.Backend.HeadObject(hctx, bucket, o.Key)
			if err != nil {
				if !backends.Is(err, backends.NoSuchKey) {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				return
			}
			if p, err := plainInfo(h); err == nil && encrypted(h.Meta) {
				o.Size, o.ETag = p.Size, p.ETag
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// ListObjectVersions forwards to the versioning layer below, with
// plaintext sizes.
func (l *Layer) ListObjectVersions(ctx context.Context, bucket string, opts gateway.VersionListOptions) (gateway.VersionList, error) {
	v, ok := l.Backend.(gateway.Versioner)
	if !ok {
		return gateway.VersionList{}, backends.Errorf(backends.NotImplemented, "versioning is not available")
	}
	res, err := v.ListObjectVersions(ctx, bucket, opts)
	if err != nil {
		return res, err
	}
	return res, l.fixSizes(ctx, bucket, res.Versions)
}

// ---- multipart -----------------------------------------------------------

func (l *Layer) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	clearSys(&meta)
	req, err := l.choose(ctx, bucket)
	if err != nil {
		return "", err
	}
	if req == nil {
		return l.Backend.CreateMultipartUpload(ctx, bucket, key, meta)
	}
	k, sys, err := l.newKeys(ctx, bucket, key, req)
	if err != nil {
		return "", err
	}
	if err := l.markUsed(ctx, bucket); err != nil {
		return "", err
	}
	setSys(&meta, sys)
	id, err := l.Backend.CreateMultipartUpload(ctx, bucket, key, meta)
	if err != nil {
		return "", err
	}
	u := &upload{sys: sys}
	if k.typ != "C" {
		u.key = k.key
	}
	l.rememberUpload(id, u)
	return id, nil
}

// maxUploads bounds the uploads whose encryption is remembered; past it,
// an upload's record is read again.
const maxUploads = 4096

// upload is what the layer remembers of a multipart upload: its Sys
// entries, and the unsealed key of SSE-S3 and SSE-KMS uploads.
type upload struct {
	sys map[string]string
	key []byte
}

func (l *Layer) rememberUpload(id string, u *upload) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.uploads) >= maxUploads {
		for k := range l.uploads {
			delete(l.uploads, k)
			break
		}
	}
	l.uploads[id] = u
}

func (l *Layer) forgetUpload(id string) {
	l.mu.Lock()
	delete(l.uploads, id)
	l.mu.Unlock()
}

// uploadKeys returns the keys of an upload, or enc=false for an upload
// that is not encrypted.
func (l *Layer) uploadKeys(ctx context.Context, bucket, key, uploadID string) (k objectKeys, enc bool, err error) {
	l.mu.Lock()
	u := l.uploads[uploadID]
	l.mu.Unlock()
	if u == nil {
		up, _, err := l.Backend.ListParts(ctx, bucket, key, uploadID)
		if err != nil {
			return k, false, err
		}
		u = &upload{sys: map[string]string{}}
		for n, v := range up.Meta.Sys {
			if strings.HasPrefix(n, gateway.SysSSE) {
				u.sys[n] = v
			}
		}
		l.rememberUpload(uploadID, u)
	}
	req := gateway.OptionsFrom(ctx).SSE
	m := backends.Meta{Sys: u.sys}
	if !encrypted(m) {
		if req != nil && req.Type == gateway.SSEC {
			return k, false, backends.Errorf(backends.InvalidRequest, "The multipart upload was not initiated with customer-provided encryption keys.")
		}
		return k, false, nil
	}
	if u.key != nil {
		c, err := sio.ParseCipher(u.sys[sysCipher])
		return objectKeys{key: u.key, cipher: c, typ: u.sys[sysType]}, true, err
	}
	k, err = l.keysOf(ctx, bucket, key, m, req)
	if err != nil {
		switch {
		case k.typ == "C" && backends.Is(err, backends.InvalidRequest):
			err = backends.Errorf(backends.InvalidRequest, "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.")
		case k.typ == "C" && backends.Is(err, backends.AccessDenied):
			// Another key than the upload's: a bad request, not a
			// refused read (400, as S3 answers).
			err = backends.Errorf(backends.InvalidRequest, "The provided encryption parameters did not match the ones used originally.")
		}
		return k, false, err
	}
	if k.typ != "C" {
		l.rememberUpload(uploadID, &upload{sys: u.sys, key: k.key})
	}
	return k, true, nil
}

func (l *Layer) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	k, enc, err := l.uploadKeys(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.PartInfo{}, err
	}
	if !enc {
		return l.Backend.UploadPart(ctx, bucket, key, uploadID, number, data, meta)
	}
	if meta == nil {
		meta = &backends.Meta{}
	}
	pk := k.partKey(number)
	r, inner, done := encrypting(&sealReader{src: data, meta: meta, keys: k, streamKey: pk, sys: map[string]string{}}, sio.Config{Key: pk, Cipher: k.cipher})
	p, err := l.Backend.UploadPart(ctx, bucket, key, uploadID, number, r, inner)
	done()
	if err != nil {
		return p, err
	}
	if e := meta.Sys[sysETag]; e != "" {
		p.ETag = e
	}
	n, err := sio.DecryptedSize(p.Size)
	if err != nil {
		return p, backends.Wrap(backends.Internal, err, "the stored part has a size no encryption makes")
	}
	p.Size = n
	return p, nil
}

func (l *Layer) ListParts(ctx context.Context, bucket, key, uploadID string) (backends.Upload, []backends.PartInfo, error) {
	up, parts, err := l.Backend.ListParts(ctx, bucket, key, uploadID)
	if err != nil || !encrypted(up.Meta) {
		return up, parts, err
	}
	for i := range parts {
		n, err := sio.DecryptedSize(parts[i].Size)
		if err != nil {
			return up, nil, backends.Wrap(backends.Internal, err, "a stored part has a size no encryption makes")
		}
		parts[i].Size = n
		if e := parts[i].Sys[sysETag]; e != "" {
			parts[i].ETag = e
		}
	}
	return up, parts, nil
}

func (l *Layer) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	up, stored, err := l.Backend.ListParts(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if opts.IfMatch, err = l.storedETag(ctx, bucket, key, opts.IfMatch); err != nil {
		return backends.ObjectInfo{}, err
	}
	meta := opts.MetaValue()
	clearSys(&meta)
	if encrypted(up.Meta) {
		sys := map[string]string{}
		for n, v := range up.Meta.Sys {
			if strings.HasPrefix(n, gateway.SysSSE) {
				sys[n] = v
			}
		}
		// The object's part list holds the stored sizes: reads find
		// each part's packages by them.
		byNum := make(map[int]backends.PartInfo, len(stored))
		for _, p := range stored {
			byNum[p.Number] = p
		}
		given := make(map[int]backends.PartInfo, len(meta.Parts))
		for _, p := range meta.Parts {
			given[p.Number] = p
		}
		var total int64
		list := make([]backends.PartInfo, 0, len(parts))
		for _, n := range parts {
			sp, ok := byNum[n]
			if !ok {
				return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPart, "One or more of the specified parts could not be found.")
			}
			ps, err := sio.DecryptedSize(sp.Size)
			if err != nil {
				return backends.ObjectInfo{}, backends.Wrap(backends.Internal, err, "a stored part has a size no encryption makes")
			}
			total += ps
			if g, ok := given[n]; ok {
				g.Size = sp.Size
				sp = g
			}
			list = append(list, sp)
		}
		meta.Parts = list
		sys[sysSize] = strconv.FormatInt(total, 10)
		if meta.ETag != "" {
			sys[sysETag] = meta.ETag
		}
		setSys(&meta, sys)
	}
	opts.Meta = &meta
	info, err := l.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, opts)
	if err != nil {
		return info, err
	}
	l.forgetUpload(uploadID)
	return plainInfo(info)
}

func (l *Layer) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	l.forgetUpload(uploadID)
	return l.Backend.AbortMultipartUpload(ctx, bucket, key, uploadID)
}

// ServerSideEncryption tells s3api that encryption headers are honoured.
func (l *Layer) ServerSideEncryption() bool { return true }
