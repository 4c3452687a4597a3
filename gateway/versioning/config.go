package versioning

import (
	"bytes"
	"encoding/xml"
	"io"

	"github.com/strata-storage/strata/backends"
)

// Versioning states of a bucket, as GetBucketVersioning reports them
// (Unversioned: no Status at all).
const (
	Unversioned = ""
	Enabled     = "Enabled"
	Suspended   = "Suspended"
)

// Config is a VersioningConfiguration document, the bucket document
// gateway.DocVersioning.
type Config struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	NS        string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:"Status,omitempty"`
	MFADelete string   `xml:"MfaDelete,omitempty"`
}

// ParseConfig reads a VersioningConfiguration: an error of kind
// MalformedXML when it is not one, or when Status or MfaDelete hold a
// value S3 does not know.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&c); err != nil {
		return Config{}, backends.Errorf(backends.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
	}
	// Nothing but white space may follow the document.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Config{}, backends.Errorf(backends.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
			if _, ok := tok.(xml.Comment); !ok {
				return Config{}, backends.Errorf(backends.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
			}
		}
	}
	switch c.Status {
	case "", Enabled, Suspended:
	default:
		return Config{}, backends.Errorf(backends.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
	}
	switch c.MFADelete {
	case "", "Enabled", "Disabled":
	default:
		return Config{}, backends.Errorf(backends.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
	}
	return c, nil
}

// Marshal returns the document as stored and as GetBucketVersioning
// answers it.
func (c Config) Marshal() []byte {
	c.NS = "http://s3.amazonaws.com/doc/2006-03-01/"
	out, _ := xml.Marshal(c)
	return out
}

// StatusOf returns the versioning state that a stored document says ("" for
// none or one that does not parse).
func StatusOf(doc []byte) string {
	if len(doc) == 0 {
		return Unversioned
	}
	c, err := ParseConfig(doc)
	if err != nil {
		return Unversioned
	}
	return c.Status
}

// ConfigDoc returns the stored document for a state.
func ConfigDoc(status string) []byte { return Config{Status: status}.Marshal() }
