//go:build linux

package mount

import (
	"maps"
	"mime"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// With --posix-attrs, a file's mode, owner and modification time are kept
// in user metadata under the names s3fs uses, so that both read them.
const (
	metaMode  = "mode"  // decimal st_mode, with the file type bits
	metaUID   = "uid"   // decimal
	metaGID   = "gid"   // decimal
	metaMtime = "mtime" // seconds since 1970, optionally with a fraction
)

// attrs are the POSIX attributes of a file or directory.
type attrs struct {
	mode     uint32 // permission bits only (07777)
	uid, gid uint32
	mtime    time.Time
}

// parseAttrs overrides the fields of a that user metadata holds.
func parseAttrs(a attrs, user map[string]string) attrs {
	if v, ok := user[metaMode]; ok {
		if m, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.mode = uint32(m) & 0o7777
		}
	}
	if v, ok := user[metaUID]; ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.uid = uint32(n)
		}
	}
	if v, ok := user[metaGID]; ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.gid = uint32(n)
		}
	}
	if v, ok := user[metaMtime]; ok {
		if t, ok := parseUnixTime(v); ok {
			a.mtime = t
		}
	}
	return a
}

// parseUnixTime reads "1700000000" or "1700000000.123456789".
func parseUnixTime(v string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil || f < 0 {
			return time.Time{}, false
		}
		for i := len(frac); i < 9; i++ {
			f *= 10
		}
		ns = f
	}
	return time.Unix(s, ns), true
}

func formatUnixTime(t time.Time) string {
	if t.Nanosecond() == 0 {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return strconv.FormatInt(t.Unix(), 10) + "." + strings.TrimRight(strconv.FormatInt(int64(t.Nanosecond())+1e9, 10)[1:], "0")
}

// withAttrs returns user metadata holding a, on top of a copy of user.
func withAttrs(user map[string]string, a attrs, ftype uint32) map[string]string {
	m := maps.Clone(user)
	if m == nil {
		m = map[string]string{}
	}
	m[metaMode] = strconv.FormatUint(uint64(ftype|a.mode), 10)
	m[metaUID] = strconv.FormatUint(uint64(a.uid), 10)
	m[metaGID] = strconv.FormatUint(uint64(a.gid), 10)
	m[metaMtime] = formatUnixTime(a.mtime)
	return m
}

// hasAttrs reports whether user metadata holds any POSIX attribute.
func hasAttrs(user map[string]string) bool {
	for _, k := range []string{metaMode, metaUID, metaGID, metaMtime} {
		if _, ok := user[k]; ok {
			return true
		}
	}
	return false
}

// contentType is the Content-Type to store key with: the one given, or one
// guessed from the name's extension, or none.
func contentType(key string, meta Meta) *string {
	if meta.ContentType != "" {
		return aws.String(meta.ContentType)
	}
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return aws.String(t)
	}
	return nil
}

const (
	sIFREG = syscall.S_IFREG
	sIFDIR = syscall.S_IFDIR
)
