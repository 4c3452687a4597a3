// Package tagging holds object and bucket tag sets as AWS S3 documents
// them: the Tagging XML body of Put/GetObjectTagging and
// Put/GetBucketTagging, and the x-amz-tagging header.
package tagging

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/s3xml"
)

// Namespace is the S3 XML namespace.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// Limits, as AWS documents them.
const (
	MaxBodySize   = 64 << 10 // bytes of a Tagging XML body
	MaxObjectTags = 10
	MaxBucketTags = 50
	MaxKeyLen     = 128 // Unicode characters
	MaxValueLen   = 256 // Unicode characters
)

// Tagging is the XML body of the tagging operations.
type Tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	TagSet  []Tag    `xml:"TagSet>Tag"`
}

// Tag is one key and value.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

var (
	errDuplicate  = s3err.ErrInvalidTag.WithMessage("Cannot provide multiple Tags with the same key")
	errSystemTag  = s3err.ErrInvalidTag.WithMessage("System tags cannot be added/updated by requester")
	errKeyInvalid = s3err.ErrInvalidTag.WithMessage("The TagKey you have provided is invalid")
	errValInvalid = s3err.ErrInvalidTag.WithMessage("The TagValue you have provided is invalid")
	// AWS answers too many tags with the generic BadRequest code.
	errObjectCount = &s3err.APIError{Code: "BadRequest", Status: http.StatusBadRequest, Message: "Object tags cannot be greater than 10"}
	errBucketCount = &s3err.APIError{Code: "BadRequest", Status: http.StatusBadRequest, Message: "Bucket tag count cannot be greater than 50"}
	errHeader      = s3err.ErrInvalidArgument.WithMessage("The header 'x-amz-tagging' shall be encoded as UTF-8 " +
		"then URLEncoded URL query parameters without tag name duplicates.")
)

// wireTagging is what ParseXML decodes: pointers tell a missing element
// (which the schema refuses) from an empty one.
type wireTagging struct {
	XMLName xml.Name `xml:"Tagging"`
	TagSet  *struct {
		Tags []struct {
			Key   *string `xml:"Key"`
			Value *string `xml:"Value"`
		} `xml:"Tag"`
	} `xml:"TagSet"`
}

// ParseXML reads and validates a Tagging body: object rules, or bucket rules
// when forBucket. An empty TagSet gives an empty, non-nil map. Errors are
// *s3err.APIError values, except a failure to read body, which is returned
// as it is.
func ParseXML(body io.Reader, forBucket bool) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBodySize {
		return nil, s3err.ErrMalformedXML.WithMessage("The tagging document must not be larger than 64 KB.")
	}
	var w wireTagging
	if err := s3xml.DecodeDocument(data, &w); err != nil {
		return nil, s3err.ErrMalformedXML
	}
	if (w.XMLName.Space != "" && w.XMLName.Space != Namespace) || w.TagSet == nil {
		return nil, s3err.ErrMalformedXML
	}
	tags := make([]Tag, 0, len(w.TagSet.Tags))
	for _, t := range w.TagSet.Tags {
		if t.Key == nil || t.Value == nil {
			return nil, s3err.ErrMalformedXML
		}
		tags = append(tags, Tag{Key: *t.Key, Value: *t.Value})
	}
	return Check(tags, forBucket)
}

// Check validates a tag list given in another document (the Tags of a
// CreateBucketConfiguration) with the object rules, or the bucket rules
// when forBucket, and returns it as a map.
func Check(tags []Tag, forBucket bool) (map[string]string, error) {
	if forBucket {
		return build(tags, MaxBucketTags)
	}
	return build(tags, MaxObjectTags)
}

// ParseHeader parses and validates an x-amz-tagging header, a URL query
// string such as "k1=v1&k2=v2", with the object rules. An empty header gives
// an empty map.
func ParseHeader(v string) (map[string]string, error) {
	var tags []Tag
	for part := range strings.SplitSeq(v, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, errHeader
		}
		value, err := url.QueryUnescape(val)
		if err != nil {
			return nil, errHeader
		}
		if !utf8.ValidString(key) || !utf8.ValidString(value) || key == "" {
			return nil, errHeader
		}
		tags = append(tags, Tag{Key: key, Value: value})
	}
	m, err := build(tags, MaxObjectTags)
	if err == errDuplicate {
		// The header's own rule: "without tag name duplicates".
		err = errHeader
	}
	return m, err
}

// build validates tags in order and returns them as a map.
func build(tags []Tag, limit int) (map[string]string, error) {
	if len(tags) > limit {
		if limit == MaxBucketTags {
			return nil, errBucketCount
		}
		return nil, errObjectCount
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if err := validate(t.Key, t.Value); err != nil {
			return nil, err
		}
		if _, dup := m[t.Key]; dup {
			return nil, errDuplicate
		}
		m[t.Key] = t.Value
	}
	return m, nil
}

func validate(key, value string) error {
	if key == "" || !validChars(key) {
		return errKeyInvalid
	}
	if utf8.RuneCountInString(key) > MaxKeyLen {
		return errKeyInvalid
	}
	// AWS reserves the aws: prefix in any letter case.
	if len(key) >= 4 && strings.EqualFold(key[:4], "aws:") {
		return errSystemTag
	}
	if !validChars(value) {
		return errValInvalid
	}
	if utf8.RuneCountInString(value) > MaxValueLen {
		return errValInvalid
	}
	return nil
}

// validChars reports whether s is valid UTF-8 of only what AWS allows in
// tags: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$.
func validChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.IsNumber(r), unicode.Is(unicode.Z, r):
		case strings.ContainsRune("_.:/=+-@", r):
		default:
			return false
		}
	}
	return true
}

// wireOut is what MarshalXML writes: a TagSet element even when it is
// empty, as GetObjectTagging answers for an object without tags.
type wireOut struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Tagging"`
	TagSet  struct {
		Tags []Tag `xml:"Tag"`
	} `xml:"TagSet"`
}

// MarshalXML returns tags as a Tagging body, sorted by key, in the S3
// namespace.
func MarshalXML(tags map[string]string) []byte {
	var out wireOut
	out.TagSet.Tags = make([]Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out.TagSet.Tags = append(out.TagSet.Tags, Tag{Key: k, Value: tags[k]})
	}
	b, err := xml.Marshal(&out)
	if err != nil {
		// Strings always marshal.
		panic("tagging: marshal: " + err.Error())
	}
	return append([]byte(xml.Header), b...)
}

// Encode returns tags in the x-amz-tagging form, sorted by key, with spaces
// as %20 so that both query and path decoders read it back.
func Encode(tags map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(tags) {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(k))
		b.WriteByte('=')
		b.WriteString(escape(tags[k]))
	}
	return b.String()
}

// escape is url.QueryEscape with %20 for space; QueryEscape writes a
// literal '+' as %2B, so every '+' it leaves is a space.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
