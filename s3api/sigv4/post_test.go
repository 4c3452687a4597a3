package sigv4

import (
	"encoding/base64"
	"maps"
	"testing"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// AWS's example "Browser-Based Upload using HTTP POST (Using AWS Signature
// Version 4)".
const (
	examplePolicy    = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
	examplePolicySig = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
)

// examplePostTime is within the hour after the example's x-amz-date.
var examplePostTime = time.Date(2015, 12, 29, 0, 30, 0, 0, time.UTC)

func examplePostForm() map[string]string {
	return map[string]string{
		"key":                          "user/user1/photo.jpg",
		"acl":                          "public-read",
		"success_action_redirect":      "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
		"content-type":                 "image/jpeg",
		"x-amz-meta-uuid":              "14365123651274",
		"x-amz-server-side-encryption": "AES256",
		"x-amz-credential":             "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
		"x-amz-algorithm":              "AWS4-HMAC-SHA256",
		"x-amz-date":                   "20151229T000000Z",
		"x-amz-meta-tag":               "",
		"policy":                       examplePolicy,
		"x-amz-signature":              examplePolicySig,
		"bucket":                       "sigv4examplebucket",
		"filename":                     "photo.jpg",
	}
}

func TestVerifyPostAWSExample(t *testing.T) {
	v := verifierAt(examplePostTime)
	ak, err := v.VerifyPost(examplePostForm())
	if err != nil || ak != exampleKey {
		t.Fatalf("%q, %v", ak, err)
	}
	cases := []struct {
		name   string
		change func(map[string]string)
		code   string
	}{
		{"policy changed", func(f map[string]string) { f["policy"] = examplePolicy[:len(examplePolicy)-4] + "fQ==" }, "SignatureDoesNotMatch"},
		{"signature changed", func(f map[string]string) { f["x-amz-signature"] = examplePolicySig[:63] + "f" }, "SignatureDoesNotMatch"},
		{"unknown key", func(f map[string]string) {
			f["x-amz-credential"] = "NOBODY/20151229/us-east-1/s3/aws4_request"
		}, "InvalidAccessKeyId"},
		{"other region", func(f map[string]string) {
			f["x-amz-credential"] = "AKIAIOSFODNN7EXAMPLE/20151229/us-west-1/s3/aws4_request"
		}, "SignatureDoesNotMatch"},
		{"credential date", func(f map[string]string) { f["x-amz-date"] = "20151230T000000Z" }, "InvalidArgument"},
		{"bad date", func(f map[string]string) { f["x-amz-date"] = "2015-12-29" }, "InvalidArgument"},
		{"bad algorithm", func(f map[string]string) { f["x-amz-algorithm"] = "AWS4-HMAC-SHA1" }, "InvalidArgument"},
		{"bad credential", func(f map[string]string) { f["x-amz-credential"] = "AK/20151229/us-east-1/sqs/aws4_request" }, "InvalidArgument"},
		{"no policy", func(f map[string]string) { delete(f, "policy") }, "InvalidArgument"},
		{"no signature", func(f map[string]string) { delete(f, "x-amz-signature") }, "InvalidArgument"},
		{"no date", func(f map[string]string) { delete(f, "x-amz-date") }, "InvalidArgument"},
		{"empty policy", func(f map[string]string) { f["policy"] = "" }, "SignatureDoesNotMatch"},
		{"empty algorithm", func(f map[string]string) { f["x-amz-algorithm"] = "" }, "InvalidArgument"},
		{"only a policy", func(f map[string]string) {
			for _, k := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-signature", "x-amz-date"} {
				f[k] = ""
			}
		}, "InvalidArgument"},
	}
	for _, c := range cases {
		f := examplePostForm()
		c.change(f)
		if _, err := v.VerifyPost(f); !isErr(err, c.code) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := verifierAt(examplePostTime.Add(31 * time.Minute)).VerifyPost(examplePostForm()); !isErr(err, "AccessDenied") ||
		errMessage(err) != "Invalid according to Policy: Policy expired." {
		t.Errorf("x-amz-date over an hour old: %v", err)
	}
	if ak, err := v.VerifyPost(map[string]string{"key": "k", "policy": "", "x-amz-signature": ""}); ak != "" || err != nil {
		t.Errorf("anonymous form: %q, %v", ak, err)
	}
	if _, err := v.VerifyPost(map[string]string{"key": "k", "awsaccesskeyid": "AK", "signature": "x", "policy": "p"}); err != s3err.ErrUnsupportedSignature {
		t.Errorf("V2 form: %v", err)
	}
}

// The errors of a POST's authentication fields, as S3 gives them
// (versitygw's PostObject tests, written against S3, check them).
func TestVerifyPostErrorElements(t *testing.T) {
	cases := []struct {
		name   string
		change func(map[string]string)
		code   string
		msg    string
		fields map[string]string
	}{
		{"algorithm", func(f map[string]string) { f["x-amz-algorithm"] = "invalid" }, "InvalidArgument",
			"Only AWS4-HMAC-SHA256 is supported", map[string]string{"ArgumentName": "X-Amz-Algorithm", "ArgumentValue": "invalid"}},
		{"date", func(f map[string]string) { f["x-amz-date"] = "invalid_date" }, "InvalidArgument",
			"X-Amz-Date must be formated via ISO8601 Long format", map[string]string{"ArgumentName": "X-Amz-Date", "ArgumentValue": "invalid_date"}},
		{"credential", func(f map[string]string) { f["x-amz-credential"] = "malformed-no-slashes" }, "InvalidArgument",
			`the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
			map[string]string{"ArgumentName": "x-amz-credential", "ArgumentValue": "malformed-no-slashes"}},
		{"service", func(f map[string]string) { f["x-amz-credential"] = "AK/20151229/us-east-1/sqs/aws4_request" }, "InvalidArgument",
			`incorrect service "sqs". This endpoint belongs to "s3".`, map[string]string{"ArgumentName": "x-amz-credential"}},
		{"unknown key", func(f map[string]string) { f["x-amz-credential"] = "NOBODY/20151229/us-east-1/s3/aws4_request" }, "InvalidAccessKeyId",
			"", map[string]string{"AWSAccessKeyId": "NOBODY"}},
		{"signature", func(f map[string]string) { f["x-amz-signature"] = "incorrect_signature" }, "SignatureDoesNotMatch", "",
			map[string]string{"AWSAccessKeyId": exampleKey, "StringToSign": examplePolicy, "SignatureProvided": "incorrect_signature",
				"StringToSignBytes": hexBytes(examplePolicy), "CanonicalRequest": ""}},
	}
	v := verifierAt(examplePostTime)
	for _, c := range cases {
		f := examplePostForm()
		c.change(f)
		_, err := v.VerifyPost(f)
		if !isErr(err, c.code) || (c.msg != "" && errMessage(err) != c.msg) {
			t.Errorf("%s: got %v, want %s: %s", c.name, err, c.code, c.msg)
			continue
		}
		got := errFields(err)
		for k, want := range c.fields {
			if got[k] != want {
				t.Errorf("%s: %s = %q, want %q", c.name, k, got[k], want)
			}
		}
	}
	if hexBytes("ey") != "65 79" {
		t.Errorf("hexBytes(%q) = %q", "ey", hexBytes("ey"))
	}
}

func policy(json string) string { return base64.StdEncoding.EncodeToString([]byte(json)) }

func TestCheckPostPolicy(t *testing.T) {
	p, err := CheckPostPolicy(examplePolicy, examplePostForm(), examplePostTime)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Expiration.Equal(time.Date(2015, 12, 30, 12, 0, 0, 0, time.UTC)) || p.HasLengthRange {
		t.Fatalf("%+v", p)
	}
	cases := []struct {
		name   string
		policy string
		change func(map[string]string)
		now    time.Time
		code   string
		msg    string
	}{
		{name: "expired", now: examplePostTime.Add(36 * time.Hour), code: "AccessDenied", msg: "Invalid according to Policy: Policy expired."},
		{name: "key prefix", change: func(f map[string]string) { f["key"] = "user/user2/photo.jpg" }, code: "AccessDenied",
			msg: `Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/user1/"]`},
		{name: "bucket", change: func(f map[string]string) { f["bucket"] = "other" }, code: "AccessDenied",
			msg: `Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "sigv4examplebucket"]`},
		{name: "eq", change: func(f map[string]string) { f["acl"] = "private" }, code: "AccessDenied"},
		{name: "content type", change: func(f map[string]string) { f["content-type"] = "text/html" }, code: "AccessDenied"},
		{name: "missing field", change: func(f map[string]string) { delete(f, "x-amz-meta-uuid") }, code: "AccessDenied"},
		{name: "extra field", change: func(f map[string]string) { f["x-amz-meta-other"] = "1" }, code: "AccessDenied",
			msg: "Invalid according to Policy: Extra input fields: x-amz-meta-other"},
		{name: "extra tagging", change: func(f map[string]string) { f["tagging"] = "<Tagging/>" }, code: "AccessDenied"},
		{name: "x-ignore- field", change: func(f map[string]string) { f["x-ignore-me"] = "1" }},
		{name: "not base64", policy: "{}", code: "InvalidPolicyDocument"},
		{name: "not JSON", policy: policy(`{"expiration": `), code: "InvalidPolicyDocument"},
		{name: "trailing JSON", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": []} {}`), code: "InvalidPolicyDocument"},
		{name: "no expiration", policy: policy(`{"conditions": []}`), code: "InvalidPolicyDocument"},
		{name: "bad expiration", policy: policy(`{"expiration": "tomorrow", "conditions": []}`), code: "InvalidPolicyDocument"},
		{name: "no conditions", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z"}`), code: "InvalidPolicyDocument"},
		{name: "unknown operator", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["ends-with", "$key", "x"]]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid Condition: unknown operation 'ends-with'."},
		{name: "short condition", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["eq", "$key"]]}`), code: "InvalidPolicyDocument"},
		{name: "field without $", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["eq","key","<k>"]]}`), code: "AccessDenied",
			msg: `Invalid according to Policy: Policy Condition failed: ["eq", "key", "<k>"]`},
		{name: "number as value", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [{"key": 1}]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid Simple-Condition: value must be a string."},
		{name: "two-field simple condition", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [{"key": "k", "acl": "private"}]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."},
		{name: "bad range", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["content-length-range", 10, 1]]}`), code: "InvalidPolicyDocument"},
		{name: "range not a number", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["content-length-range", 10, false]]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid JSON."},
		{name: "unexpected field", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [], "extra": 1}`), code: "InvalidPolicyDocument",
			msg: `Invalid Policy: Unexpected: "extra"`},
		{name: "conditions not a list", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": true}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid 'conditions' value: must be a List."},
		{name: "condition not a list", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [true]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid condition test: must be a List or Object."},
		{name: "empty condition", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [[]]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid Condition: missing operation identifier."},
		{name: "long condition", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["eq", "$key", "k", "x"]]}`), code: "InvalidPolicyDocument",
			msg: "Invalid Policy: Invalid eq: wrong number of arguments."},
		{name: "no bucket condition", policy: policy(`{"expiration": "2015-12-30T12:00:00.000Z", "conditions": [["eq", "$key", "k"]]}`),
			change: func(f map[string]string) { f["bucket"] = "b" }, code: "AccessDenied", msg: "Invalid according to Policy: Extra input fields: bucket"},
	}
	_, err = CheckPostPolicy("", map[string]string{"key": "k"}, examplePostTime)
	if !isErr(err, "InvalidPolicyDocument") || errMessage(err) != "Invalid Policy: Expecting '{' but found End-of-Input" {
		t.Errorf("empty policy: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := examplePostForm()
			if c.change != nil {
				c.change(f)
			}
			pol := examplePolicy
			if c.policy != "" {
				pol = c.policy
				f = map[string]string{"key": "k"}
				if c.change != nil {
					c.change(f)
				}
			}
			now := examplePostTime
			if !c.now.IsZero() {
				now = c.now
			}
			_, err := CheckPostPolicy(pol, f, now)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !isErr(err, c.code) {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if c.msg != "" && err.(*s3err.APIError).Message != c.msg {
				t.Fatalf("message %q\nwant    %q", err.(*s3err.APIError).Message, c.msg)
			}
		})
	}
}

func TestPostPolicyLengthRange(t *testing.T) {
	doc := `{"expiration": "2030-01-01T00:00:00Z", "conditions": [
		["content-length-range", 10, "100"], ["starts-with", "$Key", ""], {"x-amz-algorithm": "AWS4-HMAC-SHA256"}]}`
	form := map[string]string{"key": "anything", "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-signature": "s", "policy": "p", "file": ""}
	p, err := CheckPostPolicy(policy(doc), maps.Clone(form), examplePostTime)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasLengthRange || p.MinLength != 10 || p.MaxLength != 100 {
		t.Fatalf("%+v", p)
	}
	for n, code := range map[int64]string{9: "EntityTooSmall", 10: "", 100: "", 101: "EntityTooLarge"} {
		err := p.CheckSize(n)
		if (code == "" && err != nil) || (code != "" && !isErr(err, code)) {
			t.Errorf("CheckSize(%d) = %v, want %q", n, err, code)
		}
	}
	// S3 names the size and the bound.
	if f := errFields(p.CheckSize(9)); f["ProposedSize"] != "9" || f["MinSizeAllowed"] != "10" {
		t.Errorf("too small: %v", f)
	}
	if f := errFields(p.CheckSize(101)); f["ProposedSize"] != "101" || f["MaxSizeAllowed"] != "100" {
		t.Errorf("too large: %v", f)
	}
	if f := errFields(EntityTooLarge(-1, 100)); f["MaxSizeAllowed"] != "100" || f["ProposedSize"] != "" {
		t.Errorf("too large, size not known: %v", f)
	}
}
