package sigv4

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// maxPolicy bounds the base64 policy document that CheckPostPolicy decodes.
const maxPolicy = 64 << 10

var errInvalidPolicy = &s3err.APIError{Code: "InvalidPolicyDocument", Status: 400, Message: "The content of the form does not meet the conditions specified in the policy document."}

// postAuthFields are the form fields of a SigV4 POST, in the order they
// are checked.
var postAuthFields = []string{"x-amz-algorithm", "x-amz-credential", "x-amz-signature", "x-amz-date", "policy"}

// maxPostDateAge is how old the x-amz-date of a POST may be: S3 answers
// an older one as an expired policy, whatever the policy's expiration.
const maxPostDateAge = time.Hour

// VerifyPost authenticates a browser-based POST upload (SigV4 form fields).
// form maps lower-cased field names to values. It checks x-amz-algorithm,
// x-amz-credential, x-amz-date and that x-amz-signature is the hex
// HMAC-SHA256 of the policy field under the signing key. It returns the
// access key; "" and no error means a form without any authentication
// (anonymous). The policy's content is checked by CheckPostPolicy.
func (v *Verifier) VerifyPost(form map[string]string) (accessKey string, err error) {
	// An empty field counts as a missing one.
	has := func(name string) bool { return form[name] != "" }
	if !slices.ContainsFunc(postAuthFields[:4], has) && (has("awsaccesskeyid") || has("signature")) {
		return "", s3err.ErrUnsupportedSignature // a V2 form
	}
	if !slices.ContainsFunc(postAuthFields, has) {
		return "", nil
	}
	for _, f := range postAuthFields {
		if _, ok := form[f]; !has(f) && !(f == "policy" && ok) {
			// An empty policy is there, and no policy document:
			// CheckPostPolicy says so.
			return "", s3err.PostFieldMissing(f)
		}
	}
	sig := form["x-amz-signature"]
	if alg := form["x-amz-algorithm"]; alg != Algorithm {
		return "", s3err.ErrInvalidArgument.WithMessage("Only AWS4-HMAC-SHA256 is supported").
			With("ArgumentName", "X-Amz-Algorithm", "ArgumentValue", alg)
	}
	credField := form["x-amz-credential"]
	cred, err := parseCredential(credField)
	if err != nil {
		return "", s3err.ErrInvalidArgument.WithMessage(err.Error()).
			With("ArgumentName", "x-amz-credential", "ArgumentValue", credField)
	}
	date := form["x-amz-date"]
	t, err := time.Parse(iso8601Basic, date)
	if err != nil {
		return "", s3err.ErrInvalidArgument.WithMessage("X-Amz-Date must be formated via ISO8601 Long format").
			With("ArgumentName", "X-Amz-Date", "ArgumentValue", date)
	}
	if t.Format(yyyymmdd) != cred.date {
		return "", s3err.ErrInvalidArgument.WithMessage("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if v.now().Sub(t) > maxPostDateAge {
		return "", errPolicyExpired
	}
	policy := form["policy"]
	secret, ok := v.Lookup(cred.accessKey)
	if !ok {
		return "", invalidAccessKey(cred.accessKey)
	}
	want := hex.EncodeToString(hmacSHA256(SigningKey(secret, cred.date, cred.region, service), policy))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return "", signatureMismatch(cred.accessKey, policy, sig, "")
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
		return EntityTooSmall(n, p.MinLength)
	case n > p.MaxLength:
		return EntityTooLarge(n, p.MaxLength)
	}
	return nil
}

// EntityTooSmall is S3's EntityTooSmall for a POST upload of size bytes,
// under the policy's minimum.
func EntityTooSmall(size, min int64) error {
	return s3err.ErrEntityTooSmall.With("ProposedSize", strconv.FormatInt(size, 10), "MinSizeAllowed", strconv.FormatInt(min, 10))
}

// EntityTooLarge is S3's EntityTooLarge for a POST upload over max bytes:
// of size bytes, or of a size not known when size < 0.
func EntityTooLarge(size, max int64) error {
	if size < 0 {
		return s3err.ErrEntityTooLarge.With("MaxSizeAllowed", strconv.FormatInt(max, 10))
	}
	return s3err.ErrEntityTooLarge.With("ProposedSize", strconv.FormatInt(size, 10), "MaxSizeAllowed", strconv.FormatInt(max, 10))
}

// exemptPostField reports whether a form field may be absent from the
// policy's conditions. AWS exempts x-amz-signature, file, policy and
// x-ignore-*. filename is exempt too: the caller puts it in the form (the
// name of the file part, for ${filename} in the key). bucket is not: the
// caller sets it to the request's bucket, and AWS wants a condition on it.
func exemptPostField(name string) bool {
	switch name {
	case "x-amz-signature", "file", "policy", "filename":
		return true
	}
	return strings.HasPrefix(name, "x-ignore-")
}

func invalidPolicy(msg string) error { return errInvalidPolicy.WithMessage("Invalid Policy: " + msg) }

var (
	errPolicyJSON    = invalidPolicy("Invalid JSON.")
	errPolicyExpired = s3err.ErrAccessDenied.WithMessage("Invalid according to Policy: Policy expired.")
)

// CheckPostPolicy decodes a base64 POST policy document and checks it
// against the form (lower-cased field names to values, with "bucket" set by
// the caller to the target bucket and "key" after ${filename} substitution)
// at time now: the expiration, every condition (eq, starts-with, the
// {"field": "value"} form and content-length-range) and that every form
// field is covered by a condition. The content-length-range is returned in
// the Policy for the caller to enforce on the file. The messages are AWS's.
func CheckPostPolicy(policyB64 string, form map[string]string, now time.Time) (Policy, error) {
	var p Policy
	if len(policyB64) > maxPolicy {
		return p, invalidPolicy("Policy document is too large.")
	}
	if policyB64 == "" {
		return p, invalidPolicy("Expecting '{' but found End-of-Input")
	}
	raw, err := base64.StdEncoding.DecodeString(policyB64)
	if err != nil {
		return p, invalidPolicy("invalid Base64 encoding.")
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil || dec.More() || doc == nil {
		return p, errPolicyJSON
	}
	for name := range doc {
		if name != "expiration" && name != "conditions" {
			return p, invalidPolicy(fmt.Sprintf("Unexpected: %q", name))
		}
	}
	expRaw, ok := doc["expiration"]
	if !ok {
		return p, invalidPolicy("Policy missing expiration.")
	}
	var expStr string
	if json.Unmarshal(expRaw, &expStr) != nil {
		return p, errPolicyJSON
	}
	exp, err := time.Parse(time.RFC3339Nano, expStr)
	if err != nil {
		return p, invalidPolicy("Invalid 'expiration' value: '" + truncate(expStr) + "'")
	}
	p.Expiration = exp
	condRaw, ok := doc["conditions"]
	if !ok {
		return p, invalidPolicy("Policy missing conditions.")
	}
	var conditions []json.RawMessage
	if json.Unmarshal(condRaw, &conditions) != nil {
		return p, invalidPolicy("Invalid 'conditions' value: must be a List.")
	}
	var conds []condition
	for _, c := range conditions {
		cd, err := parseCondition(c)
		if err != nil {
			return p, err
		}
		conds = append(conds, cd)
	}
	if now.After(exp) {
		return p, errPolicyExpired
	}
	covered := map[string]bool{}
	for _, cd := range conds {
		switch cd.op {
		case "content-length-range":
			p.HasLengthRange, p.MinLength, p.MaxLength = true, cd.min, cd.max
			continue
		case "eq":
			if !cd.ok || form[cd.field] != cd.value {
				return p, cd.failed()
			}
		case "starts-with":
			if !cd.ok || !cd.startsWith(form[cd.field]) {
				return p, cd.failed()
			}
		}
		covered[cd.field] = true
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
	// ok is false for a field named without its $: the condition then
	// fails, as it does on S3.
	ok bool
	// text is the condition as S3 quotes it in its error, whatever the
	// spacing of the policy: ["eq", "$key", "value"].
	text string
}

func (c condition) failed() error {
	return s3err.ErrAccessDenied.WithMessage("Invalid according to Policy: Policy Condition failed: " + truncate(c.text))
}

// startsWith reports whether a starts-with condition holds for v. A
// Content-Type may be a comma-separated list: each one must start so.
func (c condition) startsWith(v string) bool {
	if c.field != "content-type" {
		return strings.HasPrefix(v, c.value)
	}
	for t := range strings.SplitSeq(v, ",") {
		if !strings.HasPrefix(strings.TrimSpace(t), c.value) {
			return false
		}
	}
	return true
}

// parseCondition parses ["eq", "$f", "v"], ["starts-with", "$f", "v"],
// ["content-length-range", min, max] or {"f": "v"}.
func parseCondition(raw json.RawMessage) (condition, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return condition{}, errPolicyJSON
		}
		if len(m) != 1 {
			return condition{}, invalidPolicy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
		}
		for k, v := range m {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return condition{}, invalidPolicy("Invalid Simple-Condition: value must be a string.")
			}
			name := strings.TrimPrefix(k, "$")
			return condition{op: "eq", field: strings.ToLower(name), value: s, ok: true,
				text: `["eq", "$` + name + `", "` + s + `"]`}, nil
		}
	}
	var a []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &a) != nil {
		return condition{}, invalidPolicy("Invalid condition test: must be a List or Object.")
	}
	if len(a) == 0 {
		return condition{}, invalidPolicy("Invalid Condition: missing operation identifier.")
	}
	var op string
	if err := json.Unmarshal(a[0], &op); err != nil {
		return condition{}, errPolicyJSON
	}
	switch lop := strings.ToLower(op); lop {
	case "eq", "starts-with":
		if len(a) != 3 {
			return condition{}, invalidPolicy("Invalid " + op + ": wrong number of arguments.")
		}
		var field, value string
		if json.Unmarshal(a[1], &field) != nil || json.Unmarshal(a[2], &value) != nil {
			return condition{}, errPolicyJSON
		}
		name, ok := strings.CutPrefix(field, "$")
		return condition{op: lop, field: strings.ToLower(name), value: value, ok: ok && name != "",
			text: `["` + op + `", "` + field + `", "` + value + `"]`}, nil
	case "content-length-range":
		if len(a) != 3 {
			return condition{}, invalidPolicy("Invalid " + op + ": wrong number of arguments.")
		}
		lo, ok1 := jsonInt(a[1])
		hi, ok2 := jsonInt(a[2])
		if !ok1 || !ok2 {
			return condition{}, errPolicyJSON
		}
		if hi < lo {
			return condition{}, invalidPolicy("Invalid content-length-range: the minimum is greater than the maximum.")
		}
		return condition{op: lop, min: lo, max: hi}, nil
	}
	return condition{}, invalidPolicy("Invalid Condition: unknown operation '" + op + "'.")
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
