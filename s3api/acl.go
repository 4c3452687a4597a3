package s3api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/s3api/s3err"
)

// Strata's buckets work as AWS's do by default since 2023: Object
// Ownership is BucketOwnerEnforced, so ACLs are disabled. The owner has
// full control of the bucket and of every object in it; ACLs can be read
// (that one grant) and set only to say the same; anything else is
// AccessControlListNotSupported, as on AWS.

const ownershipEnforced = "BucketOwnerEnforced"

var (
	errACLNotSupported = &s3err.APIError{Code: "AccessControlListNotSupported", Status: 400,
		Message: "The bucket does not allow ACLs."}
	errBucketACLWithOwnership = &s3err.APIError{Code: "InvalidBucketAclWithObjectOwnership", Status: 400,
		Message: "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"}
	errMalformedACL = &s3err.APIError{Code: "MalformedACLError", Status: 400,
		Message: "The XML you provided was not well-formed or did not validate against our published schema"}
	errACLHeaderAndBody = &s3err.APIError{Code: "UnexpectedContent", Status: 400,
		Message: "This request does not support content"}
	errOwnershipNotSupported = s3err.ErrNotImplemented.WithMessage("Object Ownership on Strata is always BucketOwnerEnforced (ACLs disabled).")
)

// cannedACLs are the values of x-amz-acl; ownerOnly marks those that grant
// nothing beyond the owner's full control, which BucketOwnerEnforced
// accepts.
var cannedACLs = map[string]bool{
	"private": true, "bucket-owner-full-control": true,
	"public-read": false, "public-read-write": false, "authenticated-read": false,
	"aws-exec-read": false, "bucket-owner-read": false, "log-delivery-write": false,
}

var grantHeaders = []string{"x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control"}

// aclFromHeaders checks the x-amz-acl and x-amz-grant-* headers of a
// request. It reports whether there were any; an ACL that would grant
// anyone but the owner is errNotAllowed.
func aclFromHeaders(h http.Header, errNotAllowed error) (bool, error) {
	has := false
	if v := h.Get("x-amz-acl"); v != "" {
		ownerOnly, ok := cannedACLs[v]
		if !ok {
			return true, s3err.ErrInvalidArgument.WithMessage("").With("ArgumentName", "x-amz-acl", "ArgumentValue", v)
		}
		if !ownerOnly {
			return true, errNotAllowed
		}
		has = true
	}
	for _, name := range grantHeaders {
		if h.Get(name) != "" {
			if has {
				return true, s3err.ErrInvalidRequest.WithMessage("Specifying both Canned ACLs and Header Grants is not allowed")
			}
			return true, errNotAllowed
		}
	}
	return has, nil
}

// checkACLHeaders checks the ACL headers of a request that writes an
// object.
func checkACLHeaders(h http.Header) error {
	_, err := aclFromHeaders(h, errACLNotSupported)
	return err
}

// checkCreateBucketACL checks the ACL and Object Ownership headers of a
// CreateBucket.
func checkCreateBucketACL(h http.Header) error {
	switch v := h.Get("x-amz-object-ownership"); v {
	case "", ownershipEnforced:
	case "BucketOwnerPreferred", "ObjectWriter":
		return errOwnershipNotSupported
	default:
		return s3err.ErrInvalidArgument.WithMessage("Invalid x-amz-object-ownership header: " + v)
	}
	_, err := aclFromHeaders(h, errBucketACLWithOwnership)
	return err
}

// aclGrantee is what checkACLBody reads of a Grantee: its xsi:type and,
// for a CanonicalUser, its ID.
type aclGrantee struct {
	Type string `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
	ID   string `xml:"ID"`
}

type aclGrant struct {
	Grantee    *aclGrantee `xml:"Grantee"`
	Permission string      `xml:"Permission"`
}

// getACL answers the only ACL Strata has: the owner's full control.
func (s *Server) getACL(q *request, bucket bool) {
	if err := s.aclTarget(q, bucket); err != nil {
		q.fail(err)
		return
	}
	type grantee struct {
		XSI         string `xml:"xmlns:xsi,attr"`
		Type        string `xml:"xsi:type,attr"`
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName"`
	}
	type grant struct {
		Grantee    grantee `xml:"Grantee"`
		Permission string  `xml:"Permission"`
	}
	type result struct {
		XMLName xml.Name `xml:"AccessControlPolicy"`
		NS      string   `xml:"xmlns,attr"`
		Owner   owner    `xml:"Owner"`
		Grants  []grant  `xml:"AccessControlList>Grant"`
	}
	o := s.owner(q.info.AccessKey)
	writeXML(q.w, http.StatusOK, result{NS: s3NS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}})
}

// aclTarget checks that the bucket, or the object (version), of an ACL
// request exists.
func (s *Server) aclTarget(q *request, bucket bool) error {
	if bucket {
		_, err := s.gw.HeadBucket(q.ctx(), q.bucket())
		return err
	}
	if err := q.versionParam(); err != nil {
		return err
	}
	_, err := s.gw.HeadObject(q.ctx(), q.bucket(), q.key())
	return err
}

// putACL answers PutBucketAcl and PutObjectAcl: an ACL that grants the
// owner full control and nobody else anything is accepted (it is the ACL
// the resource has); any other is AccessControlListNotSupported.
func (s *Server) putACL(q *request, bucket bool) {
	if err := s.aclTarget(q, bucket); err != nil {
		q.fail(err)
		return
	}
	hasHeaders, err := aclFromHeaders(q.Header, errACLNotSupported)
	if err != nil {
		q.fail(err)
		return
	}
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		q.fail(err)
		return
	}
	hasBody := len(strings.TrimSpace(string(data))) > 0
	switch {
	case hasHeaders && hasBody:
		q.fail(errACLHeaderAndBody)
		return
	case !hasHeaders && !hasBody:
		q.fail(s3err.ErrMissingSecurityHeader)
		return
	}
	if hasBody {
		if err := s.checkACLBody(q, data); err != nil {
			q.fail(err)
			return
		}
	}
	q.w.WriteHeader(http.StatusOK)
}

// checkACLBody checks an AccessControlPolicy document.
func (s *Server) checkACLBody(q *request, data []byte) error {
	var doc struct {
		XMLName xml.Name    `xml:"AccessControlPolicy"`
		Owner   *owner      `xml:"Owner"`
		Grants  []*aclGrant `xml:"AccessControlList>Grant"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Owner == nil || doc.Owner.ID == "" {
		return errMalformedACL
	}
	me := s.owner(q.info.AccessKey)
	if doc.Owner.ID != me.ID {
		return s3err.ErrAccessDenied
	}
	for _, g := range doc.Grants {
		if g.Grantee == nil {
			return errMalformedACL
		}
		switch g.Permission {
		case "FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP":
		default:
			return errMalformedACL
		}
		switch g.Grantee.Type {
		case "CanonicalUser":
			if g.Grantee.ID == "" {
				return errMalformedACL
			}
		case "Group", "AmazonCustomerByEmail":
			return errACLNotSupported
		default:
			return errMalformedACL
		}
		if g.Grantee.ID != me.ID || g.Permission != "FULL_CONTROL" {
			return errACLNotSupported
		}
	}
	if len(doc.Grants) == 0 {
		// No grant at all would take the owner's full control away.
		return errACLNotSupported
	}
	return nil
}

type ownershipControls struct {
	XMLName xml.Name `xml:"OwnershipControls"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

func (s *Server) getBucketOwnershipControls(q *request) {
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	out := ownershipControls{NS: s3NS}
	out.Rules = append(out.Rules, struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	}{ownershipEnforced})
	writeXML(q.w, http.StatusOK, out)
}

// putBucketOwnershipControls accepts BucketOwnerEnforced, what every
// Strata bucket has.
func (s *Server) putBucketOwnershipControls(q *request) {
	var doc ownershipControls
	if err := readXML(q, &doc); err != nil {
		q.fail(err)
		return
	}
	if len(doc.Rules) != 1 {
		q.fail(s3err.ErrMalformedXML)
		return
	}
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	switch doc.Rules[0].ObjectOwnership {
	case ownershipEnforced:
		q.w.WriteHeader(http.StatusOK)
	case "BucketOwnerPreferred", "ObjectWriter":
		q.fail(errOwnershipNotSupported)
	default:
		q.fail(s3err.ErrMalformedXML)
	}
}

// Block Public Access. Nothing on Strata can be public (no ACL grants
// beyond the owner, no bucket policies), so a bucket starts as S3 creates
// buckets since 2023: all four settings on. The configuration can be set
// (kept and answered, changing nothing, since there is nothing public to
// allow) and deleted (then GetPublicAccessBlock is 404, as on S3).

const docPublicAccessBlock = "public-access-block.xml"

// publicAccessDeleted is stored when the configuration was deleted, to
// tell that from a bucket that never had one set (all on).
var publicAccessDeleted = []byte("deleted")

type publicAccessBlock struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	NS                    string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

var errNoPublicAccessBlock = notConfigured("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found")

func (s *Server) getPublicAccessBlock(q *request) {
	data, err := s.gw.GetBucketConfig(q.ctx(), q.bucket(), docPublicAccessBlock)
	if backends.Is(err, backends.NotFound) {
		// Never set (all on), unless the bucket itself is missing.
		_, err = s.gw.HeadBucket(q.ctx(), q.bucket())
	}
	cfg := publicAccessBlock{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
	switch {
	case err != nil:
		q.fail(err)
		return
	case bytes.Equal(data, publicAccessDeleted):
		q.fail(errNoPublicAccessBlock)
		return
	case data != nil:
		if err := xml.Unmarshal(data, &cfg); err != nil {
			q.fail(err)
			return
		}
	}
	cfg.NS = s3NS
	writeXML(q.w, http.StatusOK, cfg)
}

func (s *Server) putPublicAccessBlock(q *request) {
	data, err := readBody(q, maxXMLBody)
	if err != nil {
		q.fail(err)
		return
	}
	var cfg publicAccessBlock
	if err := xml.Unmarshal(data, &cfg); err != nil {
		q.fail(s3err.ErrMalformedXML)
		return
	}
	cfg.NS = ""
	doc, _ := xml.Marshal(cfg)
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docPublicAccessBlock, doc); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusOK)
}

func (s *Server) deletePublicAccessBlock(q *request) {
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), docPublicAccessBlock, publicAccessDeleted); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

// checkExpectedOwner answers x-amz-expected-bucket-owner and, for copies,
// x-amz-source-expected-bucket-owner: a value that does not name the
// bucket's owner is AccessDenied, as on AWS. Every bucket a user reaches
// is owned by that user, named by the canonical ID (the Owner ID of
// ListBuckets and of the ACLs) or, as Strata has no separate account IDs,
// by the access key.
func (s *Server) checkExpectedOwner(h http.Header, accessKey string) error {
	for _, name := range []string{"x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner"} {
		if v := h.Get(name); v != "" && v != accessKey && v != s.owner(accessKey).ID {
			return s3err.ErrAccessDenied
		}
	}
	return nil
}
