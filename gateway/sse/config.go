package sse

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// BucketConfig is a bucket's default encryption
// (PutBucketEncryption's ServerSideEncryptionConfiguration).
type BucketConfig struct {
	XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Rules   []Rule   `xml:"Rule"`
}

// Rule is one rule of a BucketConfig; S3 allows exactly one.
type Rule struct {
	Default struct {
		SSEAlgorithm   string `xml:"SSEAlgorithm"`
		KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
	} `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled bool `xml:"BucketKeyEnabled,omitempty"`
}

// ErrMalformed is wrapped by ParseBucketConfig's error for a document that
// is not the XML it should be.
var ErrMalformed = errors.New("sse: malformed ServerSideEncryptionConfiguration")

// ParseBucketConfig parses and checks a ServerSideEncryptionConfiguration
// document as S3 does: one rule, algorithm AES256 or aws:kms, a key ID only
// with aws:kms.
func ParseBucketConfig(data []byte) (*BucketConfig, error) {
	var c BucketConfig
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, backends.Wrap(backends.InvalidArgument, ErrMalformed, "The XML you provided was not well-formed or did not validate against our published schema")
	}
	if len(c.Rules) != 1 {
		return nil, backends.Errorf(backends.InvalidArgument, "The server side encryption configuration must contain exactly one rule")
	}
	d := &c.Rules[0].Default
	d.SSEAlgorithm = strings.TrimSpace(d.SSEAlgorithm)
	d.KMSMasterKeyID = strings.TrimSpace(d.KMSMasterKeyID)
	switch d.SSEAlgorithm {
	case gateway.SSES3:
		if d.KMSMasterKeyID != "" {
			return nil, backends.Errorf(backends.InvalidArgument, "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms")
		}
	case gateway.SSEKMS:
	default:
		return nil, backends.Errorf(backends.InvalidArgument, "The server side encryption algorithm %q is not supported (AES256 or aws:kms)", d.SSEAlgorithm)
	}
	c.Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"
	return &c, nil
}

// Marshal returns the canonical document.
func (c *BucketConfig) Marshal() []byte {
	b, _ := xml.Marshal(c)
	return append([]byte(xml.Header), b...)
}

// request returns the encryption a new object of the bucket gets.
func (c *BucketConfig) request() *gateway.SSE {
	r := c.Rules[0]
	return &gateway.SSE{Type: r.Default.SSEAlgorithm, KMSKeyID: r.Default.KMSMasterKeyID, BucketKey: r.BucketKeyEnabled}
}
