// Package s3xml holds what the XML request bodies of S3 share.
package s3xml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// ErrTrailingData is returned for a document with more than white space,
// comments and processing instructions after its root element.
var ErrTrailingData = errors.New("data after the root element")

// DecodeDocument decodes one XML document into v and refuses anything but
// white space, comments and processing instructions after its root element.
func DecodeDocument(data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return err
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return ErrTrailingData
			}
		case xml.Comment, xml.ProcInst:
		default:
			return ErrTrailingData
		}
	}
}
