package s3api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/s3api/checksum"
	"github.com/strata-storage/strata/s3api/cors"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/tagging"
)

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// maxXMLBody bounds the XML bodies Strata reads (DeleteObjects with 1000
// keys of 1024 bytes fits).
const maxXMLBody = 2 << 20

// writeXML answers 200 with v as an XML document.
func writeXML(w http.ResponseWriter, status int, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(out)
}

// readXML decodes an XML request body, checked against its Content-MD5 or
// checksum header, into v; a body that does not parse is MalformedXML.
func readXML(q *request, v any) error {
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		return err
	}
	return decodeXML(data, v)
}

func decodeXML(data []byte, v any) error {
	if err := xml.Unmarshal(data, v); err != nil {
		return s3err.ErrMalformedXML
	}
	return nil
}

// readBody reads a small request body whole (XML documents only), through
// the payload verification and the check of its Content-MD5 or
// x-amz-checksum-* header, when it has one.
func readBody(q *request, limit int64) ([]byte, error) {
	exp, err := checksum.FromHeaders(q.Header)
	if err != nil {
		return nil, err
	}
	return readLimited(checksum.NewReader(q.body.Body, exp, q.body.Size, q.body.Trailer), limit)
}

// readLimited reads r whole, up to limit bytes; more is MalformedXML.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, s3err.ErrMalformedXML
	}
	return data, nil
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func (s *Server) owner(accessKey string) owner {
	h := sha256.Sum256([]byte("strata-owner:" + accessKey))
	return owner{ID: hex.EncodeToString(h[:]), DisplayName: accessKey}
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// listBuckets answers ListBuckets, with the paging AWS added in 2024:
// max-buckets (1 to 10,000) and continuation-token (opaque: the last name
// given, base64), and the prefix filter.
func (s *Server) listBuckets(q *request) {
	maxBuckets := 10000
	if v := q.query("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			q.fail(s3err.ErrInvalidArgument.WithMessage("Argument max-buckets must be an integer between 1 and 10000."))
			return
		}
		maxBuckets = n
	}
	after := ""
	if v := q.query("continuation-token"); v != "" {
		var err error
		if after, err = decodeToken(v); err != nil {
			q.fail(err)
			return
		}
	}
	list, err := s.gw.ListBuckets(q.ctx())
	if err != nil {
		q.fail(err)
		return
	}
	type bucket struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion,omitempty"`
	}
	type result struct {
		XMLName           xml.Name `xml:"ListAllMyBucketsResult"`
		NS                string   `xml:"xmlns,attr"`
		Owner             owner    `xml:"Owner"`
		Buckets           []bucket `xml:"Buckets>Bucket"`
		ContinuationToken string   `xml:"ContinuationToken,omitempty"`
		Prefix            string   `xml:"Prefix,omitempty"`
	}
	res := result{NS: s3NS, Owner: s.owner(q.info.AccessKey), Buckets: []bucket{}}
	prefix := q.query("prefix")
	slices.SortFunc(list, func(a, b backends.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	for _, b := range list {
		if prefix != "" && !hasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if len(res.Buckets) == maxBuckets {
			res.ContinuationToken = encodeToken(res.Buckets[len(res.Buckets)-1].Name)
			break
		}
		res.Buckets = append(res.Buckets, bucket{Name: b.Name, CreationDate: s3Time(b.Created), BucketRegion: s.cfg.Region})
	}
	res.Prefix = prefix
	writeXML(q.w, http.StatusOK, res)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func (s *Server) createBucket(q *request) {
	if err := checkCreateBucketACL(q.Header); err != nil {
		q.fail(err)
		return
	}
	lock := false
	switch v := strings.ToLower(strings.TrimSpace(q.Header.Get("x-amz-bucket-object-lock-enabled"))); v {
	case "", "false":
	case "true":
		if _, ok := s.versioner(); !ok {
			q.fail(errLockNotImplemented)
			return
		}
		lock = true
	default:
		q.fail(s3err.ErrInvalidArgument.WithMessage("Invalid x-amz-bucket-object-lock-enabled header: " + v))
		return
	}
	// An optional CreateBucketConfiguration names a location: the region,
	// or a configured backend to create the bucket on.
	location := ""
	var tags map[string]string
	if q.ContentLength != 0 {
		var cfg struct {
			XMLName            xml.Name       `xml:"CreateBucketConfiguration"`
			LocationConstraint string         `xml:"LocationConstraint"`
			Tags               *[]tagging.Tag `xml:"Tags>Tag"`
		}
		data, err := readBody(q, 64<<10)
		if err != nil {
			q.fail(err)
			return
		}
		if len(data) > 0 {
			if err := xml.Unmarshal(data, &cfg); err != nil {
				q.fail(s3err.ErrMalformedXML)
				return
			}
			if lc := cfg.LocationConstraint; lc != "" && lc != s.cfg.Region {
				if p, ok := s.gw.Backend.(placer); !ok || !p.IsBackend(lc) {
					q.fail(s3err.ErrInvalidLocationConstraint)
					return
				}
				location = lc
			}
			if cfg.Tags != nil {
				// Tags given at creation: the bucket's first tag set.
				if tags, err = tagging.Check(*cfg.Tags, true); err != nil {
					q.fail(err)
					return
				}
			}
		}
	}
	var err error
	if location != "" {
		err = s.gw.Backend.(placer).CreateBucketAt(q.ctx(), q.bucket(), location)
	} else {
		err = s.gw.CreateBucket(q.ctx(), q.bucket())
	}
	if backends.Is(err, backends.BucketExists) && s.cfg.Region == "us-east-1" && location == "" && !lock && tags == nil {
		// S3 in us-east-1, "for legacy compatibility", answers 200 OK to
		// the owner creating a bucket again (other regions: 409
		// BucketAlreadyOwnedByYou). Nothing changes.
		s.createdBucket(q)
		return
	}
	if err != nil {
		q.fail(err)
		return
	}
	if tags != nil {
		if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docTagging, tagging.MarshalXML(tags)); err != nil {
			q.fail(err)
			return
		}
	}
	if lock {
		// Object Lock turns versioning on, for good.
		if err := s.enableObjectLock(q.ctx(), q.bucket()); err != nil {
			q.fail(err)
			return
		}
	}
	s.createdBucket(q)
}

// createdBucket answers a CreateBucket: the bucket's path and its ARN.
func (s *Server) createdBucket(q *request) {
	q.w.Header().Set("Location", "/"+q.bucket())
	q.w.Header().Set("x-amz-bucket-arn", "arn:aws:s3:::"+q.bucket())
	q.w.WriteHeader(http.StatusOK)
}

// placer is a backend that can create a bucket on one of several places
// (the namespace of a configuration file).
type placer interface {
	IsBackend(name string) bool
	CreateBucketAt(ctx context.Context, bucket, location string) error
}

func (s *Server) headBucket(q *request) {
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("x-amz-bucket-region", s.cfg.Region)
	q.w.WriteHeader(http.StatusOK)
}

func (s *Server) deleteBucket(q *request) {
	if err := s.gw.DeleteBucket(q.ctx(), q.bucket()); err != nil {
		if backends.Is(err, backends.NotEmpty) {
			err = s3err.ErrBucketNotEmpty
			if st, _ := s.versioningStatus(q.ctx(), q.bucket()); st != "" {
				err = s3err.ErrBucketNotEmpty.WithMessage("The bucket you tried to delete is not empty. You must delete all versions in the bucket.")
			}
		}
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getBucketLocation(q *request) {
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	type result struct {
		XMLName  xml.Name `xml:"LocationConstraint"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:",chardata"`
	}
	loc := s.cfg.Region
	if loc == "us-east-1" {
		loc = "" // as AWS answers for us-east-1
	}
	writeXML(q.w, http.StatusOK, result{NS: s3NS, Location: loc})
}

// Bucket documents kept by the backend.
const (
	docCORS    = "cors.xml"
	docTagging = "tagging.xml"
)

func (s *Server) putBucketCors(q *request) {
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		q.fail(err)
		return
	}
	cfg, err := cors.Parse(bytes.NewReader(data))
	if err != nil {
		q.fail(err)
		return
	}
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docCORS, cfg.Marshal()); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusOK)
}

func (s *Server) getBucketCors(q *request) {
	data, err := s.gw.GetBucketConfig(q.ctx(), q.bucket(), docCORS)
	if backends.Is(err, backends.NotFound) {
		err = s3err.ErrNoSuchCORSConfiguration
	}
	if err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Write(data)
}

func (s *Server) deleteBucketCors(q *request) {
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docCORS, nil); err != nil && !backends.Is(err, backends.NotFound) {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) bucketCORS(r *http.Request, bucket string) (*cors.Config, error) {
	data, err := s.gw.GetBucketConfig(r.Context(), bucket, docCORS)
	if err != nil {
		return nil, err
	}
	return cors.Parse(bytesReader(data))
}

// preflight answers a CORS OPTIONS request, which carries no signature.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, bucket string) {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if bucket == "" || origin == "" || method == "" {
		writeError(w, r, &s3err.APIError{Code: "BadRequest", Status: 400,
			Message: "Insufficient information. Origin request header needed."})
		return
	}
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead:
	default:
		writeError(w, r, &s3err.APIError{Code: "BadRequest", Status: 400, Message: "Invalid Access-Control-Request-Method: " + method})
		return
	}
	reqHeaders := splitList(r.Header.Get("Access-Control-Request-Headers"))
	for _, h := range reqHeaders {
		if !cors.IsToken(h) {
			writeError(w, r, &s3err.APIError{Code: "BadRequest", Status: 400,
				Message: `Access-Control-Request-Headers "` + h + `" contains invalid character.`})
			return
		}
	}
	cfg, err := s.bucketCORS(r, bucket)
	if backends.Is(err, backends.NotFound) {
		writeError(w, r, s3err.ErrCORSForbidden.WithMessage("CORSResponse: CORS is not enabled for this bucket."))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	hdrs, ok := cfg.Preflight(origin, method, reqHeaders)
	if !ok {
		writeError(w, r, cors.ErrForbidden)
		return
	}
	for k, v := range hdrs {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusOK)
}

// corsActual adds the CORS headers of a matching rule to a normal request
// that came with an Origin.
func (s *Server) corsActual(w http.ResponseWriter, r *http.Request, bucket, origin string) {
	cfg, err := s.bucketCORS(r, bucket)
	if err != nil {
		return
	}
	for k, v := range cfg.Actual(origin, r.Method) {
		w.Header()[k] = v
	}
}

func (s *Server) putBucketTagging(q *request) {
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		q.fail(err)
		return
	}
	tags, err := tagging.ParseXML(bytes.NewReader(data), true)
	if err != nil {
		q.fail(err)
		return
	}
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docTagging, tagging.MarshalXML(tags)); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getBucketTagging(q *request) {
	data, err := s.gw.GetBucketConfig(q.ctx(), q.bucket(), docTagging)
	if backends.Is(err, backends.NotFound) {
		err = s3err.ErrNoSuchTagSet
	}
	if err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Write(data)
}

func (s *Server) deleteBucketTagging(q *request) {
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docTagging, nil); err != nil && !backends.Is(err, backends.NotFound) {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}
