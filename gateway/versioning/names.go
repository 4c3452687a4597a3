package versioning

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Prefix is the reserved key prefix of the version store: noncurrent
// versions and delete markers are objects of the same bucket below it.
// Listings through the layer never show it and clients cannot write there.
const Prefix = ".strata.versions/"

// A version-store entry is named
//
//	Prefix + chunks(hex(key)) + "/." + id [+ ".dm"]
//
// hex keeps the byte order of keys and is safe on every file system (no
// case, no reserved characters); chunks splits it into path elements of at
// most chunkLen characters with "/" so that no element passes NAME_MAX.
// The versions of a key are the files of one folder (on a file system), so
// finding them reads that folder only. '/' and '.' sort below every hex
// digit, so the entries of a key come before those of any longer key that
// starts with it, and names sort in S3 key order. id is the 32-hex-digit
// version ID, whose first 16 digits are MaxUint64 minus the creation time
// in Unix nanoseconds (newest first), or, for the null version, 16 such
// digits from its modification time followed by "null". ".dm" marks a
// delete marker. Everything after Prefix is made of [0-9a-f./] only:
// nameEnd sorts after all of it.
const (
	chunkLen  = 200
	idSep     = "/."
	nullTail  = "null"
	dmSuffix  = ".dm"
	nameEnd   = "g" // sorts after every character of a store name
	timeChars = 16
	idChars   = 32
)

// NullID is the ID of the null version.
const NullID = "null"

// hexChunks returns hex(s) with "/" after every chunkLen characters.
func hexChunks(s string) string {
	h := hex.EncodeToString([]byte(s))
	if len(h) <= chunkLen {
		return h
	}
	var b strings.Builder
	for len(h) > chunkLen {
		b.WriteString(h[:chunkLen])
		b.WriteByte('/')
		h = h[chunkLen:]
	}
	b.WriteString(h)
	return b.String()
}

// keyBase is the start of the store names of every version of key.
func keyBase(key string) string { return Prefix + hexChunks(key) }

// keyPrefix is the common prefix of the store names of key's versions (and
// of no other key's).
func keyPrefix(key string) string { return keyBase(key) + idSep }

// storeName is the name of version id of key ("null" ids are given as
// their 20-character name part, see nullPart).
func storeName(key, idPart string, marker bool) string {
	n := keyPrefix(key) + idPart
	if marker {
		n += dmSuffix
	}
	return n
}

// maxStoreName is the length of the longest store name of key.
func maxStoreName(key string) int {
	return len(keyPrefix(key)) + idChars + len(dmSuffix)
}

// checkKeyLen refuses keys whose store names would be longer than a
// backend accepts (about 483 bytes: hex doubles a key's length).
func checkKeyLen(key string) error {
	if maxStoreName(key) > backends.MaxKeyLen {
		return backends.Errorf(backends.KeyTooLong, "keys of a versioned bucket can be at most %d bytes long", MaxKeyLen)
	}
	return nil
}

// MaxKeyLen is the longest key a versioned bucket accepts.
var MaxKeyLen = func() int {
	n := 1
	for maxStoreName(strings.Repeat("k", n+1)) <= backends.MaxKeyLen {
		n++
	}
	return n
}()

// entry is one decoded version-store name.
type entry struct {
	name   string // the store object's key
	key    string // the object key it is a version of
	id     string // the version ID as clients see it ("null" for the null version)
	part   string // the 32-character name part (time + random or time + "null")
	marker bool
}

func (e entry) null() bool { return e.id == NullID }

// parseName decodes a store name; ok is false for anything else.
func parseName(name string) (entry, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return entry{}, false
	}
	e := entry{name: name}
	if r, ok := strings.CutSuffix(rest, dmSuffix); ok {
		rest, e.marker = r, true
	}
	dot := strings.LastIndex(rest, idSep)
	if dot < 0 {
		return entry{}, false
	}
	e.part = rest[dot+len(idSep):]
	switch {
	case len(e.part) == idChars && isHex(e.part):
		e.id = e.part
	case len(e.part) == timeChars+len(nullTail) && isHex(e.part[:timeChars]) && strings.HasSuffix(e.part, nullTail):
		e.id = NullID
	default:
		return entry{}, false
	}
	k, err := hex.DecodeString(strings.ReplaceAll(rest[:dot], "/", ""))
	if err != nil || len(k) == 0 {
		return entry{}, false
	}
	e.key = string(k)
	return e, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidID reports whether id can name a version: "null" or 32 lower-case
// hex digits.
func ValidID(id string) bool {
	return id == NullID || len(id) == idChars && isHex(id)
}

// timePart encodes t so that later times sort first.
func timePart(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	s := strconv.FormatUint(math.MaxUint64-uint64(n), 16)
	return strings.Repeat("0", timeChars-len(s)) + s
}

// partTime decodes the time of a name part (an ID or a null part).
func partTime(part string) (time.Time, bool) {
	if len(part) < timeChars {
		return time.Time{}, false
	}
	v, err := strconv.ParseUint(part[:timeChars], 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(math.MaxUint64-v)).UTC(), true
}

// nullPart is the name part of the null version last modified at t.
func nullPart(t time.Time) string { return timePart(t) + nullTail }

// clock hands out version times that never go backwards in this process,
// so that a new version sorts before every earlier one even if the wall
// clock steps back.
var clock struct {
	sync.Mutex
	last int64
}

// newID returns a new version ID created now, newer than after (the ID
// of the version it succeeds, "" for none).
func newID(after string) (string, time.Time) {
	clock.Lock()
	n := time.Now().UnixNano()
	if n <= clock.last {
		n = clock.last + 1
	}
	if t, ok := partTime(after); ok && n <= t.UnixNano() {
		n = t.UnixNano() + 1
	}
	clock.last = n
	clock.Unlock()
	t := time.Unix(0, n)
	var r [8]byte
	rand.Read(r[:])
	return timePart(t) + hex.EncodeToString(r[:]), t
}
