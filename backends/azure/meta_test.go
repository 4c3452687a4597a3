package azure

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/strata-storage/strata/backends"
)

// azureName is what Azure accepts as a metadata name: a C# identifier.
var azureName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// asAzurite returns metadata as Azurite gives it back: names capitalised.
func asAzurite(md map[string]*string) map[string]*string {
	out := map[string]*string{}
	for k, v := range md {
		out[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return out
}

func checkAzureEntry(t *testing.T, name, value string) {
	t.Helper()
	if !azureName.MatchString(name) {
		t.Fatalf("Azure name %q is not a C# identifier", name)
	}
	if !plainValue(value) {
		t.Fatalf("Azure value %q of %q is not a plain header value", value, name)
	}
}

func TestUserEntryRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		azName      string // "" to only check the round trip
	}{
		{"color", "blue", "color"},
		{"a_b_9", "x y", "a_b_9"},
		{"_lead", "v", "_lead"},
		{"9lives", "v", "strata_x_396c69766573"},
		{"content-type", "v", "strata_x_636f6e74656e742d74797065"},
		{"Upper", "v", "strata_x_5570706572"},
		{"strata_meta", "v", "strata_x_7374726174615f6d657461"},
		{"strata_x_41", "v", "strata_x_7374726174615f785f3431"},
		{"strata", "v", "strata"},
		{"empty", "", "strata_b_656d707479"},
		{"unicode", "ü€", "strata_b_756e69636f6465"},
		{"space", " lead", "strata_b_7370616365"},
		{"trail", "trail ", "strata_b_747261696c"},
		{"ctl", "a\nb", "strata_b_63746c"},
		{"ü", "ü", "strata_b_c3bc"},
		{"dots.and-dashes", "=eq=", ""},
		{"x", "=", ""},
		{"x", strings.Repeat("z", 2000), ""},
	} {
		an, av := encodeUserEntry(tc.name, tc.value)
		checkAzureEntry(t, an, av)
		if tc.azName != "" && an != tc.azName {
			t.Errorf("%q: Azure name %q, want %q", tc.name, an, tc.azName)
		}
		for _, stored := range []string{an, strings.ToUpper(an), strings.ToUpper(an[:1]) + an[1:]} {
			n, v, ok := decodeUserEntry(stored, av)
			if !ok || n != tc.name || v != tc.value {
				t.Errorf("%q=%q stored as %q=%q reads back as %q=%q (%v)", tc.name, tc.value, stored, av, n, v, ok)
			}
		}
	}
	// Names of blobs written by others are kept, lower-cased; the reserved
	// entry is not user metadata.
	for _, tc := range [][3]string{
		{"Author", "me", "author"},
		{"strata_x_zz", "v", "strata_x_zz"}, // not hex: as it is
		{"strata_b_41", "no-equals", "strata_b_41"},
		{"strata_other", "v", "strata_other"},
	} {
		if n, v, ok := decodeUserEntry(tc[0], tc[1]); !ok || n != tc[2] || v != tc[1] {
			t.Errorf("foreign %q=%q reads as %q=%q (%v), want %q", tc[0], tc[1], n, v, ok, tc[2])
		}
	}
	if _, _, ok := decodeUserEntry("Strata_meta", "{}"); ok {
		t.Error("the reserved entry reads as user metadata")
	}
}

// randomString draws from an alphabet that covers every branch of the
// encoding.
func randomString(r *rand.Rand, n int) string {
	alphabet := []rune("abcxyzABCZ_0189-.:/ =+\t\n\x00\x7fü€日\U0001F600\uFFFDstrata_")
	var sb strings.Builder
	for range n {
		sb.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

func TestUserEntryRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		name, value := randomString(r, 1+r.IntN(12)), randomString(r, r.IntN(12))
		if r.IntN(4) == 0 {
			name = "strata_" + name
		}
		an, av := encodeUserEntry(name, value)
		checkAzureEntry(t, an, av)
		n, v, ok := decodeUserEntry(strings.ToUpper(an[:1])+an[1:], av)
		if !ok || n != name || v != value {
			t.Fatalf("%q=%q -> %q=%q -> %q=%q", name, value, an, av, n, v)
		}
	}
}

func FuzzUserEntry(f *testing.F) {
	f.Add("color", "blue")
	f.Add("strata_meta", "")
	f.Add("ü", "\x00")
	f.Fuzz(func(t *testing.T, name, value string) {
		if name == "" {
			return
		}
		an, av := encodeUserEntry(name, value)
		checkAzureEntry(t, an, av)
		if n, v, ok := decodeUserEntry(strings.ToUpper(an), av); !ok || n != name || v != value {
			t.Fatalf("%q=%q -> %q=%q -> %q=%q", name, value, an, av, n, v)
		}
	})
}

func TestMetaRoundTrip(t *testing.T) {
	mt := time.Date(2025, 3, 4, 5, 6, 7, 891011, time.UTC)
	m := backends.Meta{
		Size: 5, ETag: "0123456789abcdef0123456789abcdef-3", ModTime: mt,
		ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: `attachment; filename="ü.txt"`,
		ContentLanguage: "de-CH", CacheControl: " padded", Expires: "Wed, 21 Oct 2037 07:28:00 GMT", StorageClass: "STANDARD_IA",
		User:      map[string]string{"color": "blue", "Ünï": "\x01", "empty": ""},
		Tags:      map[string]string{"k": "v", "日本": "語 \U0001F600"},
		Checksums: map[string]string{"CRC32": "AAAAAA=="}, ChecksumType: "COMPOSITE", ChecksumAlgorithm: "CRC32",
		Parts: []backends.PartInfo{{Number: 1, Size: 2, ETag: "aa"}, {Number: 3, Size: 3, ETag: "bb", Checksums: map[string]string{"CRC32": "x"}}},
	}
	enc, err := encodeMeta(&m, m.ETag, true)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range enc.metadata {
		checkAzureEntry(t, k, *v)
	}
	for _, h := range []string{enc.ct, enc.ce, enc.cd, enc.cl, enc.cc} {
		if h != "" && !plainValue(h) {
			t.Fatalf("header %q is not plain", h)
		}
	}
	if enc.cd != "" || enc.cc != "" || enc.ct != "text/plain" {
		t.Fatalf("headers: %+v", enc)
	}
	info := objectInfo("k", blobProps{size: 5, etag: `"0x1"`, modTime: mt.Add(time.Hour), metadata: asAzurite(enc.metadata),
		ct: enc.ct, ce: enc.ce, cd: enc.cd, cl: enc.cl, cc: enc.cc})
	got := info.Meta
	if got.ETag != m.ETag || !got.ModTime.Equal(mt) || got.ContentDisposition != m.ContentDisposition ||
		got.CacheControl != m.CacheControl || got.Expires != m.Expires || got.StorageClass != m.StorageClass ||
		!maps.Equal(got.User, m.User) || !maps.Equal(got.Tags, m.Tags) || !maps.Equal(got.Checksums, m.Checksums) ||
		got.ChecksumType != m.ChecksumType || got.ChecksumAlgorithm != m.ChecksumAlgorithm ||
		len(got.Parts) != 2 || got.Parts[1].Checksums["CRC32"] != "x" || got.Parts[0].ETag != "aa" {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, m)
	}
	// Without a kept ModTime, the blob's Last-Modified counts.
	enc, _ = encodeMeta(&m, m.ETag, false)
	if info := objectInfo("k", blobProps{modTime: mt.Add(time.Hour), metadata: enc.metadata}); !info.ModTime.Equal(mt.Add(time.Hour)) {
		t.Fatalf("ModTime %v", info.ModTime)
	}
}

func TestMetaLimit(t *testing.T) {
	m := backends.Meta{ETag: "e-2", User: map[string]string{"big": strings.Repeat("v", 6000)}}
	for i := range 200 {
		m.Parts = append(m.Parts, backends.PartInfo{Number: i + 1, Size: 5 << 20, ETag: strings.Repeat("a", 32)})
	}
	enc, err := encodeMeta(&m, m.ETag, false)
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for k, v := range enc.metadata {
		size += len(k) + len(*v)
	}
	if size > maxMetaBytes {
		t.Fatalf("%d bytes of metadata", size)
	}
	if info := objectInfo("k", blobProps{metadata: enc.metadata}); info.Parts != nil || info.ETag != "e-2" || info.User["big"] == "" {
		t.Fatalf("parts kept or metadata lost: %d parts, %+v", len(info.Parts), info.ETag)
	}
	// The parts list is a blob of its own, named in the entry.
	var ps []sysPart
	if ref := partsRef(enc.metadata); ref == "" || ref != enc.sideName || json.Unmarshal(enc.side, &ps) != nil || len(ps) != 200 {
		t.Fatalf("parts list out of the entry: %q (%s), %d parts", ref, enc.sideName, len(ps))
	}
	m.User["big"] = strings.Repeat("v", 9000)
	if _, err := encodeMeta(&m, m.ETag, false); !backends.Is(err, backends.InvalidArgument) {
		t.Fatalf("too large: %v", err)
	}
}

func TestASCIIJSON(t *testing.T) {
	v := map[string]string{"k": "ü€\U0001F600<&>\x01\"\\"}
	b := asciiJSON(v)
	if !isASCII(b) || strings.ContainsAny(string(b), "\n\r") {
		t.Fatalf("not ASCII: %q", b)
	}
	var back map[string]string
	if err := json.Unmarshal(b, &back); err != nil || !maps.Equal(back, v) {
		t.Fatalf("%q -> %q, %v", v, back, err)
	}
}

func TestDerivedETag(t *testing.T) {
	if e := derivedETag(`"0x8DC5A1B2C3D4E5F"`, nil); e != "8dc5a1b2c3d4e5f" {
		t.Fatal(e)
	}
	md5 := []byte{0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e}
	if e := derivedETag(`"0x1"`, md5); e != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatal(e)
	}
}

func TestCheckKey(t *testing.T) {
	for _, k := range []string{"a", "a/b", "dir/", "//", "/abs", "a//b", "a..b", "...x", ".hidden", "x.y/z", "ü", "\U0001F600", "a\x7fb", ".strata.sys", ".strata.sysx/y"} {
		if err := checkKey(k); err != nil {
			t.Errorf("checkKey(%q): %v", k, err)
		}
		if ok, err := readable(k); !ok || err != nil {
			t.Errorf("readable(%q): %v %v", k, ok, err)
		}
	}
	for _, k := range []string{".", "..", "a/..", "../x", "a/./b", "./a", "a.", "a./b", "x\\y", "a\tb", "a\x01", "a\uFFFE", ".strata.sys/config/cors", strings.Repeat("a/", 254) + "b"} {
		if err := checkKey(k); !backends.Is(err, backends.InvalidKey) {
			t.Errorf("checkKey(%q): %v, want InvalidKey", k, err)
		}
		if ok, err := readable(k); ok || err != nil {
			t.Errorf("readable(%q): %v %v, want false", k, ok, err)
		}
	}
	if err := checkKey(strings.Repeat("a/", 253) + "b"); err != nil {
		t.Errorf("254 segments: %v", err)
	}
	if err := checkKey(""); !backends.Is(err, backends.InvalidKey) {
		t.Errorf("empty key: %v", err)
	}
}

// utf16Compare is the reference order: by UTF-16 code units.
func utf16Compare(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func sign(n int) int { return min(max(n, -1), 1) }

func TestCompareKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune{'a', 'b', '/', 0x7f, 0xe9, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff}
	gen := func() string {
		var sb strings.Builder
		for range r.IntN(5) {
			sb.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for range 50000 {
		a, b := gen(), gen()
		if r.IntN(3) == 0 {
			b = a + b
		}
		if got, want := sign(compareKeys(a, b)), sign(utf16Compare(a, b)); got != want {
			t.Fatalf("compareKeys(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
	// Where the orders differ: S3's puts U+FFFD first.
	if compareKeys("\U0001F600", "\uFFFD") >= 0 || strings.Compare("\U0001F600", "\uFFFD") <= 0 {
		t.Fatal("U+1F600 and U+FFFD")
	}
	if !utf8.ValidString("\U0010FFFF") || compareKeys("é", "\U0010FFFF") >= 0 {
		t.Fatal("é and U+10FFFF")
	}
}
