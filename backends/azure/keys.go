package azure

import (
	"strings"
	"unicode/utf8"

	"github.com/strata-storage/strata/backends"
)

// sysPrefix is the reserved folder of every container: bucket documents
// and multipart records. Listings never show it and no key may enter it.
const sysPrefix = ".strata.sys/"

// maxSegments is Azure's limit on the "/"-separated segments of a name.
const maxSegments = 254

// checkKey returns an error for a key that cannot be stored as a blob of
// the same name. Besides what no backend stores (backends.CheckKey):
//
//   - keys in the reserved folder .strata.sys/;
//   - a backslash, which Azure turns into "/";
//   - a segment ending in "." (so also "." and ".."): Azure resolves dot
//     segments and drops trailing dots of URL paths;
//   - C0 control characters and U+FFFE/U+FFFF, which List Blobs cannot
//     return in XML as they are;
//   - more than 254 segments.
//
// A key that fails only these checks cannot name an existing blob either,
// so reads of it answer NoSuchKey (see readable).
func checkKey(key string) error {
	if err := backends.CheckKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, sysPrefix) {
		return backends.Errorf(backends.InvalidKey, "the key %q is in Strata's reserved folder %s", key, sysPrefix)
	}
	if reason := azureUnsafe(key); reason != "" {
		return backends.Errorf(backends.InvalidKey, "the key %q cannot be an Azure blob name: %s", key, reason)
	}
	return nil
}

func azureUnsafe(key string) string {
	segments := 1
	for i, r := range key {
		switch {
		case r == '\\':
			return "Azure turns a backslash into /"
		case r < 0x20 || r == 0xfffe || r == 0xffff:
			return "it holds a control character"
		case r == '/':
			segments++
			if i > 0 && key[i-1] == '.' {
				return "a segment ends in a dot"
			}
		}
	}
	if strings.HasSuffix(key, ".") {
		return "it ends in a dot"
	}
	if segments > maxSegments {
		return "it has more than 254 segments"
	}
	return ""
}

// readable reports whether a read of key should go to Azure: false when
// no blob of that name can exist, or it is Strata's own.
func readable(key string) (bool, error) {
	if err := backends.CheckKey(key); err != nil {
		return false, err
	}
	return !strings.HasPrefix(key, sysPrefix) && azureUnsafe(key) == "", nil
}

// Azure lists blobs in the order of their names in UTF-16 code units, as
// Azurite does: it differs from S3's byte order only where a character
// above U+FFFF meets one in U+E000..U+FFFF at the same place (UTF-16 puts
// the first before). Listings keep Azure's order and compare markers in
// it, so that paging never loses or repeats a key.

// compareKeys compares a and b in Azure's order.
func compareKeys(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b) // one is a prefix of the other
	}
	// Back to the start of the rune that differs.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	ka, kb := utf16Rank(ra), utf16Rank(rb)
	switch {
	case ka < kb:
		return -1
	case ka > kb:
		return 1
	}
	return strings.Compare(a[i:], b[i:])
}

// utf16Rank orders runes as their first UTF-16 code units do, and among
// runes above U+FFFF by value.
func utf16Rank(r rune) int64 {
	switch {
	case r < 0xd800:
		return int64(r)
	case r > 0xffff:
		return 0xd800 + int64(r-0x10000)>>10<<16 + int64(r&0x3ff) // high then low surrogate
	default: // U+E000..U+FFFF, after every surrogate
		return 0xd800 + 0x400<<16 + int64(r)
	}
}
