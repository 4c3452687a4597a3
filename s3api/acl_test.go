package s3api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestACLsDisabled checks the BucketOwnerEnforced model: the owner's full
// control can be read and set again; any other ACL is refused, on buckets,
// objects and writes, and nothing is written.
func TestACLsDisabled(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/acl", nil), 200, "")
	e.want(e.do("PUT", "/acl/obj", []byte("x")), 200, "")

	r := e.do("GET", "/acl?acl", nil)
	e.want(r, 200, "")
	sum := sha256.Sum256([]byte("strata-owner:" + testAK))
	me := hex.EncodeToString(sum[:])
	if !bytes.Contains(r.body, []byte("<ID>"+me+"</ID>")) || !bytes.Contains(r.body, []byte("<Permission>FULL_CONTROL</Permission>")) {
		t.Fatalf("GetBucketAcl:\n%s", r.body)
	}
	e.want(e.do("GET", "/acl/obj?acl", nil), 200, "")
	e.want(e.do("GET", "/acl/none?acl", nil), 404, "NoSuchKey")
	e.want(e.do("GET", "/nobucket?acl", nil), 404, "NoSuchBucket")

	ownerOnly := `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>` + me + `</ID></Owner>` +
		`<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>` + me +
		`</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
	publicRead := strings.Replace(ownerOnly, "</AccessControlList>", `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">`+
		`<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList>`, 1)
	for _, target := range []string{"/acl?acl", "/acl/obj?acl"} {
		e.want(e.do("PUT", target, nil, "x-amz-acl: private"), 200, "")
		e.want(e.do("PUT", target, nil, "x-amz-acl: bucket-owner-full-control"), 200, "")
		e.want(e.do("PUT", target, []byte(ownerOnly)), 200, "")
		e.want(e.do("PUT", target, nil, "x-amz-acl: public-read"), 400, "AccessControlListNotSupported")
		e.want(e.do("PUT", target, nil, "x-amz-grant-read: uri=http://acs.amazonaws.com/groups/global/AllUsers"), 400, "AccessControlListNotSupported")
		e.want(e.do("PUT", target, []byte(publicRead)), 400, "AccessControlListNotSupported")
		noGrants := `<AccessControlPolicy><Owner><ID>` + me + `</ID></Owner><AccessControlList></AccessControlList></AccessControlPolicy>`
		e.want(e.do("PUT", target, []byte(noGrants)), 400, "AccessControlListNotSupported")
		e.want(e.do("PUT", target, nil, "x-amz-acl: no-such-acl"), 400, "InvalidArgument")
		e.want(e.do("PUT", target, []byte(ownerOnly), "x-amz-acl: private"), 400, "UnexpectedContent")
		e.want(e.do("PUT", target, nil), 400, "MissingSecurityHeader")
		e.want(e.do("PUT", target, []byte("<AccessControlPolicy><AccessControlList>")), 400, "MalformedACLError")
		e.want(e.do("PUT", target, []byte(strings.Replace(ownerOnly, "FULL_CONTROL", "EVERYTHING", 1))), 400, "MalformedACLError")
	}
	e.want(e.do("PUT", "/nobucket?acl", nil, "x-amz-acl: private"), 404, "NoSuchBucket")

	// Writes that ask for more than the owner's control write nothing.
	e.want(e.do("PUT", "/acl/public", []byte("x"), "x-amz-acl: public-read"), 400, "AccessControlListNotSupported")
	e.want(e.do("HEAD", "/acl/public", nil), 404, "")
	e.want(e.do("PUT", "/acl/copy", nil, "x-amz-copy-source: /acl/obj", "x-amz-grant-full-control: id=someone"), 400, "AccessControlListNotSupported")
	e.want(e.do("HEAD", "/acl/copy", nil), 404, "")
	e.want(e.do("POST", "/acl/mpu?uploads", nil, "x-amz-acl: public-read-write"), 400, "AccessControlListNotSupported")
	e.want(e.do("PUT", "/acl/private", []byte("x"), "x-amz-acl: private"), 200, "")
	e.want(e.do("PUT", "/acl-public", nil, "x-amz-acl: public-read"), 400, "InvalidBucketAclWithObjectOwnership")
	e.want(e.do("HEAD", "/acl-public", nil), 404, "")
	e.want(e.do("PUT", "/acl-writer", nil, "x-amz-object-ownership: ObjectWriter"), 501, "NotImplemented")
	e.want(e.do("PUT", "/acl-bad", nil, "x-amz-object-ownership: Nobody"), 400, "InvalidArgument")
	e.want(e.do("PUT", "/acl-enforced", nil, "x-amz-object-ownership: BucketOwnerEnforced"), 200, "")

	// Object Ownership is BucketOwnerEnforced, and stays so.
	r = e.do("GET", "/acl?ownershipControls", nil)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>")) {
		t.Fatalf("GetBucketOwnershipControls:\n%s", r.body)
	}
	e.want(e.do("GET", "/nobucket?ownershipControls", nil), 404, "NoSuchBucket")
	oc := func(v string) []byte {
		return []byte(`<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ObjectOwnership>` + v + `</ObjectOwnership></Rule></OwnershipControls>`)
	}
	e.want(e.do("PUT", "/acl?ownershipControls", oc("BucketOwnerEnforced")), 200, "")
	e.want(e.do("PUT", "/acl?ownershipControls", oc("ObjectWriter")), 501, "NotImplemented")
	e.want(e.do("PUT", "/acl?ownershipControls", oc("Anything")), 400, "MalformedXML")
	e.want(e.do("PUT", "/acl?ownershipControls", []byte(`<OwnershipControls></OwnershipControls>`)), 400, "MalformedXML")
	e.want(e.do("PUT", "/nobucket?ownershipControls", oc("BucketOwnerEnforced")), 404, "NoSuchBucket")
	e.want(e.do("DELETE", "/acl?ownershipControls", nil), 501, "NotImplemented")
}

// Block Public Access starts all on (nothing can be public on Strata);
// a configuration set is answered as set, a deleted one is 404; a bucket
// has no policy, so no policy status.
func TestPublicAccessBlock(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/pab", nil), 200, "")
	r := e.do("GET", "/pab?publicAccessBlock", nil)
	e.want(r, 200, "")
	for _, f := range []string{"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"} {
		if !strings.Contains(string(r.body), "<"+f+">true</"+f+">") {
			t.Fatalf("default %s: %s", f, r.body)
		}
	}
	e.want(e.do("PUT", "/pab?publicAccessBlock", []byte(`<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><BlockPublicPolicy>false</BlockPublicPolicy></PublicAccessBlockConfiguration>`)), 200, "")
	r = e.do("GET", "/pab?publicAccessBlock", nil)
	if !strings.Contains(string(r.body), "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets>") {
		t.Fatalf("set: %s", r.body)
	}
	e.want(e.do("PUT", "/pab?publicAccessBlock", []byte(`<PublicAccessBlockConfiguration><BlockPublicAcls>maybe`)), 400, "MalformedXML")
	e.want(e.do("DELETE", "/pab?publicAccessBlock", nil), 204, "")
	e.want(e.do("GET", "/pab?publicAccessBlock", nil), 404, "NoSuchPublicAccessBlockConfiguration")
	e.want(e.do("GET", "/pab?policyStatus", nil), 404, "NoSuchBucketPolicy")
	e.want(e.do("GET", "/nobucket?publicAccessBlock", nil), 404, "NoSuchBucket")
	e.want(e.do("PUT", "/nobucket?publicAccessBlock", []byte(`<PublicAccessBlockConfiguration/>`)), 404, "NoSuchBucket")
	e.want(e.do("GET", "/nobucket?policyStatus", nil), 404, "NoSuchBucket")
}

// TestExpectedBucketOwner checks x-amz-expected-bucket-owner and
// x-amz-source-expected-bucket-owner: the owner's canonical ID or access
// key passes, anything else is AccessDenied and changes nothing.
func TestExpectedBucketOwner(t *testing.T) {
	e := newEnv(t)
	sum := sha256.Sum256([]byte("strata-owner:" + testAK))
	me := hex.EncodeToString(sum[:])
	e.want(e.do("PUT", "/owned", nil), 200, "")
	e.want(e.do("PUT", "/owned/obj", []byte("x"), "x-amz-expected-bucket-owner: "+me), 200, "")
	e.want(e.do("GET", "/owned?list-type=2", nil, "x-amz-expected-bucket-owner: "+me), 200, "")
	e.want(e.do("GET", "/owned?list-type=2", nil, "x-amz-expected-bucket-owner: "+testAK), 200, "")

	e.want(e.do("DELETE", "/owned/obj", nil, "x-amz-expected-bucket-owner: 111122223333"), 403, "AccessDenied")
	e.want(e.do("DELETE", "/owned", nil, "x-amz-expected-bucket-owner: "+me+"x"), 403, "AccessDenied")
	e.want(e.do("PUT", "/owned/copy", nil, "x-amz-copy-source: /owned/obj", "x-amz-source-expected-bucket-owner: someone"), 403, "AccessDenied")
	e.want(e.do("HEAD", "/owned/copy", nil), 404, "")
	e.want(e.do("PUT", "/owned/copy", nil, "x-amz-copy-source: /owned/obj", "x-amz-source-expected-bucket-owner: "+me), 200, "")
	e.want(e.do("HEAD", "/owned/obj", nil), 200, "")
}
