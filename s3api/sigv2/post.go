package sigv2

import (
	"crypto/hmac"

	"github.com/strata-storage/strata/s3api/s3err"
)

// IsPost reports whether a POST form (lower-cased field names) is signed
// with V2: it has AWSAccessKeyId or signature and none of SigV4's fields.
func IsPost(form map[string]string) bool {
	for _, f := range []string{"x-amz-signature", "x-amz-credential", "x-amz-algorithm"} {
		if _, ok := form[f]; ok {
			return false
		}
	}
	_, ak := form["awsaccesskeyid"]
	_, sig := form["signature"]
	return ak || sig
}

// PostExempt lists the V2 form fields that a POST policy need not cover,
// besides those SigV4 exempts.
var PostExempt = []string{"awsaccesskeyid", "signature"}

// VerifyPost authenticates a browser-based POST upload signed with V2:
// signature must be base64(HMAC-SHA1(secret, policy)), policy being the
// base64 policy document as sent. form maps lower-cased field names to
// values. It returns the access key. The policy's content is checked by
// sigv4.CheckPostPolicy.
func (v *Verifier) VerifyPost(form map[string]string) (accessKey string, err error) {
	accessKey = form["awsaccesskeyid"]
	if accessKey == "" {
		return "", s3err.PostFieldMissing("AWSAccessKeyId")
	}
	policy := form["policy"]
	if policy == "" {
		return "", s3err.PostFieldMissing("policy")
	}
	sig := form["signature"]
	if sig == "" {
		return "", s3err.PostFieldMissing("signature")
	}
	secret, ok := v.Lookup(accessKey)
	if !ok {
		return "", s3err.ErrInvalidAccessKeyID
	}
	if !hmac.Equal([]byte(Sign(secret, policy)), []byte(sig)) {
		return "", s3err.SignatureMismatch(accessKey, policy, sig, "")
	}
	return accessKey, nil
}
