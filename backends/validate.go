package backends

import (
	"net"
	"strings"
	"unicode/utf8"
)

// ValidBucketName reports whether name follows the S3 bucket naming rules:
// 3-63 characters of lower-case letters, digits, dots and hyphens, starting
// and ending with a letter or digit, no two adjacent dots, not an IP address,
// and none of the reserved prefixes and suffixes.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if net.ParseIP(name) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// MaxKeyLen is the longest object key S3 accepts, in bytes.
const MaxKeyLen = 1024

// CheckKey returns an error for a key no backend may store: empty, too long,
// not UTF-8, or holding a NUL byte. Backends on file systems check more
// (see backends/fsutil).
func CheckKey(key string) error {
	switch {
	case key == "":
		return Errorf(InvalidKey, "object key is empty")
	case len(key) > MaxKeyLen:
		return Errorf(KeyTooLong, "your key is too long")
	case !utf8.ValidString(key):
		return Errorf(InvalidKey, "object key is not valid UTF-8")
	case strings.IndexByte(key, 0) >= 0:
		return Errorf(InvalidKey, "object key holds a NUL byte")
	}
	return nil
}
