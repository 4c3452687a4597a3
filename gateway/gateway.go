// Package gateway is Strata's object layer: what sits between the S3 API and
// a backend. It holds the S3 semantics that are built from the Backend
// primitives once for every backend (multipart completion rules, copies),
// and it is where the namespace and the data services (versioning, object
// lock, encryption, bitrot) wrap a backend as layers with the same
// interface.
package gateway

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/strata-storage/strata/backends"
)

// Gateway is the object layer over one backend.
type Gateway struct {
	backends.Backend
}

// New returns the object layer over b.
func New(b backends.Backend) *Gateway { return &Gateway{Backend: b} }

// MinPartSize is the smallest size of a part that is not the last one.
const MinPartSize = 5 << 20

// MaxPartNumber is the highest part number S3 accepts.
const MaxPartNumber = 10000

// CompletedPart is one entry of a CompleteMultipartUpload request.
type CompletedPart struct {
	Number int
	ETag   string // quotes allowed
}

// SelectParts checks a completion request against the uploaded parts, as
// S3 does: ascending part numbers (InvalidPartOrder), each uploaded with the
// given ETag (InvalidPart), every part but the last at least MinPartSize
// (EntityTooSmall). It returns the chosen parts in order.
func SelectParts(uploaded []backends.PartInfo, req []CompletedPart) ([]backends.PartInfo, error) {
	if len(req) == 0 {
		return nil, backends.Errorf(backends.InvalidArgument, "You must specify at least one part")
	}
	byNum := make(map[int]backends.PartInfo, len(uploaded))
	for _, p := range uploaded {
		byNum[p.Number] = p
	}
	out := make([]backends.PartInfo, 0, len(req))
	for i, r := range req {
		if i > 0 && r.Number <= req[i-1].Number {
			return nil, backends.Errorf(backends.InvalidPartOrder, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		p, ok := byNum[r.Number]
		if !ok || strings.Trim(r.ETag, "\"") != p.ETag {
			return nil, backends.Errorf(backends.InvalidPart, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
		}
		out = append(out, p)
	}
	for _, p := range out[:len(out)-1] {
		if p.Size < MinPartSize {
			return nil, backends.Errorf(backends.EntityTooSmall, "Your proposed upload is smaller than the minimum allowed object size.")
		}
	}
	return out, nil
}

// MultipartETag is the ETag of a multipart object: the MD5 of the parts'
// binary MD5s, a dash and the number of parts.
func MultipartETag(parts []backends.PartInfo) string {
	h := md5.New()
	for _, p := range parts {
		b, err := hex.DecodeString(p.ETag)
		if err != nil {
			// A part ETag that is not an MD5 still counts, by its bytes.
			b = []byte(p.ETag)
		}
		h.Write(b)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(parts))
}
