package sigv4

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// maxPolicy bounds the base64 policy document that CheckPostPolicy decodes.
const maxPolicy = 64 << 10

var errInvalidPolicy = &s3err.APIError{Code: "InvalidPolicyDocument", Status: 400, Message: "The content of the form does not meet the conditions specified in the policy document."}

func postFieldMissing(name string) error {
	return s3err.ErrInvalidArgument.WithMessage("Bucket POST must contain a field named '" + name + "'.  If it is specified, please check the order of the fields.")
}

// VerifyPost authenticates a browser-based POST upload (SigV4 form fields).
// form maps lower-cased field names to values. It checks x-amz-algorithm,
// x-amz-credential, x-amz-date and that x-amz-signature is the hex
// HMAC-SHA256 of the policy field under the signing key. It returns the
// access key; "" and no error means a form without any authentication
// (anonymous). The policy's content is checked by CheckPostPolicy.
func (v *Verifier) VerifyPost(form map[string]string) (accessKey string, err error) {
	sig, hasSig := form["x-amz-signature"]
	_, hasCred := form["x-amz-credential"]
	_, hasAlg := form["x-amz-algorithm"]
	switch {
	case !hasSig && !hasCred && !hasAlg:
		if _, v2 := form["awsaccesskeyid"]; v2 {
			return "", s3err.ErrUnsupportedSignature
		}
		if _, ok := form["signature"]; ok {
			return "", s3err.ErrUnsupportedSignature
		}
		return "", nil
	case !hasAlg:
		return "", postFieldMissing("x-amz-algorithm")
	case !hasCred:
		return "", postFieldMissing("x-amz-credential")
	case !hasSig:
		return "", postFieldMissing("x-amz-signature")
	}
	if form["x-amz-algorithm"] != Algorithm {
		return "", s3err.ErrInvalidArgument.WithMessage(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`)
	}
	cred, err := parseCredential(form["x-amz-credential"])
	if err != nil {
		return "", s3err.ErrInvalidArgument.WithMessage("Error parsing the X-Amz-Credential parameter; " + err.Error())
	}
	date, ok := form["x-amz-date"]
	if !ok {
		return "", postFieldMissing("x-amz-date")
	}
	t, err := time.Parse(iso8601Basic, date)
	if err != nil {
		return "", s3err.ErrInvalidArgument.WithMessage(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	if t.Format(yyyymmdd) != cred.date {
		return "", s3err.ErrInvalidArgument.WithMessage("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	policy, ok := form["policy"]
	if !ok || policy == "" {
		return "", postFieldMissing("policy")
	}
	secret, ok := v.Lookup(cred.accessKey)
	if !ok {
		return "", s3err.ErrInvalidAccessKeyID
	}
	want := hex.EncodeToString(hmacSHA256(SigningKey(secret, cred.date, cred.region, service), policy))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return "", s3err.ErrSignatureDoesNotMatch
	}
	return cred.accessKey, nil
}

// Policy is what a valid POST policy leaves for the caller to enforce.
type Policy struct {
	Expiration time.Time
	// HasLengthRange is set when the policy has a content-length-range
	// condition; MinLength and MaxLength are then its inclusive bounds on
	// the size of the uploaded file.
	HasLengthRange       bool
	MinLength, MaxLength int64
}

// CheckSize checks the size of the uploaded file against the policy's
// content-length-range.
func (p Policy) CheckSize(n int64) error {
	switch {
	case !p.HasLengthRange:
		return nil
	case n < p.MinLength:
		return s3err.ErrEntityTooSmall
	case n > p.MaxLength:
		return s3err.ErrEntityTooLarge
	}
	return nil
}

// exemptPostField reports whether a form field may be absent from the
// policy's conditions. AWS exempts x-amz-signature, file, policy and
// x-ignore-*. Two more are exempt because the caller, not the client, puts
// them in the form: bucket (taken from the request, there so that a bucket
// condition can be checked) and filename (the name of the file part, for
// ${filename} in the key).
func exemptPostField(name string) bool {
	switch name {
	case "x-amz-signature", "file", "policy", "bucket", "filename":
		return true
	}
	return strings.HasPrefix(name, "x-ignore-")
}

// CheckPostPolicy decodes a base64 POST policy document and checks it
// against the form (lower-cased field names to values, with "bucket" set by
// the caller to the target bucket and "key" after ${filename} substitution)
// at time now: the expiration, every condition (eq, starts-with, the
// {"field": "value"} form and content-length-range) and that every form
// field is covered by a condition. The content-length-range is returned in
// the Policy for the caller to enforce on the file.
func CheckPostPolicy(policyB64 string, form map[string]string, now time.Time) (Policy, error) {
	var p Policy
	if len(policyB64) > maxPolicy {
		return p, errInvalidPolicy.WithMessage("Invalid Policy: Policy document is too large.")
	}
	raw, err := base64.StdEncoding.DecodeString(policyB64)
	if err != nil {
		return p, errInvalidPolicy.WithMessage("Invalid Policy: Invalid 'Policy' value: it is not valid base64.")
	}
	var doc struct {
		Expiration *string           `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return p, errInvalidPolicy.WithMessage("Invalid Policy: Invalid JSON.")
	}
	if doc.Expiration == nil {
		return p, errInvalidPolicy.WithMessage("Invalid Policy: Policy missing expiration.")
	}
	exp, err := time.Parse(time.RFC3339Nano, *doc.Expiration)
	if err != nil {
		return p, errInvalidPolicy.WithMessage("Invalid Policy: Invalid 'expiration' value: '" + truncate(*doc.Expiration) + "'")
	}
	p.Expiration = exp
	if doc.Conditions == nil {
		return p, errInvalidPolicy.WithMessage("Invalid Policy: Policy missing conditions.")
	}
	if now.After(exp) {
		return p, s3err.ErrAccessDenied.WithMessage("Invalid according to Policy: Policy expired.")
	}
	covered := map[string]bool{}
	for _, c := range doc.Conditions {
		conds, err := parseCondition(c)
		if err != nil {
			return p, err
		}
		for _, cd := range conds {
			switch cd.op {
			case "content-length-range":
				p.HasLengthRange, p.MinLength, p.MaxLength = true, cd.min, cd.max
				continue
			case "eq":
				if form[cd.field] != cd.value {
					return p, cd.failed()
				}
			case "starts-with":
				if !strings.HasPrefix(form[cd.field], cd.value) {
					return p, cd.failed()
				}
			}
			covered[cd.field] = true
		}
	}
	var extra []string
	for name := range form {
		if !covered[name] && !exemptPostField(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return p, s3err.ErrAccessDenied.WithMessage("Invalid according to Policy: Extra input fields: " + strings.Join(extra, ", "))
	}
	return p, nil
}

// condition is one policy condition.
type condition struct {
	op       string // eq, starts-with, content-length-range
	field    string // lower-case, without the $
	value    string
	min, max int64
}

func (c condition) failed() error {
	return s3err.ErrAccessDenied.WithMessage(`Invalid according to Policy: Policy Condition failed: ["` + c.op + `", "$` + c.field + `", "` + truncate(c.value) + `"]`)
}

func invalidCondition(raw json.RawMessage) error {
	return errInvalidPolicy.WithMessage("Invalid Policy: Invalid Condition: " + truncate(string(raw)))
}

// parseCondition parses ["eq", "$f", "v"], ["starts-with", "$f", "v"],
// ["content-length-range", min, max] or {"f": "v", ...}.
func parseCondition(raw json.RawMessage) ([]condition, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, invalidCondition(raw)
		}
		conds := make([]condition, 0, len(m))
		for k, v := range m {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, invalidCondition(raw)
			}
			conds = append(conds, condition{op: "eq", field: strings.ToLower(strings.TrimPrefix(k, "$")), value: s})
		}
		return conds, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || len(a) != 3 {
		return nil, invalidCondition(raw)
	}
	var op string
	if err := json.Unmarshal(a[0], &op); err != nil {
		return nil, invalidCondition(raw)
	}
	switch op = strings.ToLower(op); op {
	case "eq", "starts-with":
		var field, value string
		if json.Unmarshal(a[1], &field) != nil || json.Unmarshal(a[2], &value) != nil || !strings.HasPrefix(field, "$") || len(field) < 2 {
			return nil, invalidCondition(raw)
		}
		return []condition{{op: op, field: strings.ToLower(field[1:]), value: value}}, nil
	case "content-length-range":
		lo, ok1 := jsonInt(a[1])
		hi, ok2 := jsonInt(a[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return nil, invalidCondition(raw)
		}
		return []condition{{op: op, min: lo, max: hi}}, nil
	}
	return nil, invalidCondition(raw)
}

// jsonInt reads a non-negative integer written as a JSON number or string.
func jsonInt(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}
