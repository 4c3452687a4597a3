package sigv4

import (
	"errors"
	"strings"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	cred          credential
	signedHeaders []string // lower-case, as listed
	signature     string   // lower-case hex
}

// credential is a parsed Credential: AK/YYYYMMDD/region/s3/aws4_request.
type credential struct {
	accessKey, date, region string
}

func malformed(detail string) error {
	return s3err.ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; " + detail)
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AK/date/region/s3/aws4_request, SignedHeaders=a;b, Signature=hex
//
// The three components may be separated by commas, spaces or both, in any
// order, as SDKs and hand-written clients do. The errors are S3's: a
// header without exactly three components is refused as such; with three,
// each component must be name=value, and a component S3 does not know (a
// misspelt name) makes the one it replaces missing.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), Algorithm)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return a, malformed("the authorization mechanism is not AWS4-HMAC-SHA256.")
	}
	fields := strings.FieldsFunc(rest, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })
	if len(fields) != 3 {
		return a, malformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	var cred, signed, sig string
	var seen [3]bool
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return a, malformed("the authorization component \"" + truncate(f) + "\" is malformed.")
		}
		switch {
		case strings.EqualFold(k, "Credential"):
			seen[0], cred = true, v
		case strings.EqualFold(k, "SignedHeaders"):
			seen[1], signed = true, v
		case strings.EqualFold(k, "Signature"):
			seen[2], sig = true, v
		}
	}
	for i, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return a, malformed("missing " + name + ".")
		}
	}
	c, err := parseCredential(cred)
	if err != nil {
		return a, malformed(err.Error())
	}
	names, err := parseSignedHeaders(signed)
	if err != nil {
		return a, malformed(err.Error())
	}
	return authorization{cred: c, signedHeaders: names, signature: strings.ToLower(sig)}, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

var errCredential = errors.New(`the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)

// parseCredential parses AK/YYYYMMDD/region/service/aws4_request, checking
// the service, then the terminal, then the date, in S3's order. A
// credential of more than five fields is taken as an access key with a
// '/' in it when it ends in aws4_request, and is mal-formed otherwise.
func parseCredential(s string) (credential, error) {
	parts := strings.Split(s, "/")
	n := len(parts)
	if n < 5 || (n > 5 && parts[n-1] != terminator) {
		return credential{}, errCredential
	}
	c := credential{accessKey: strings.Join(parts[:n-4], "/"), date: parts[n-4], region: parts[n-3]}
	if c.accessKey == "" || c.region == "" {
		return credential{}, errCredential
	}
	if parts[n-2] != service {
		return credential{}, errors.New(`incorrect service "` + truncate(parts[n-2]) + `". This endpoint belongs to "s3".`)
	}
	if parts[n-1] != terminator {
		return credential{}, errors.New(`incorrect terminal "` + truncate(parts[n-1]) + `". This endpoint uses "` + terminator + `".`)
	}
	if _, err := time.Parse(yyyymmdd, c.date); err != nil || len(c.date) != 8 {
		return credential{}, errors.New(`incorrect date format "` + truncate(c.date) + `". This date in the credential must be in the format "yyyyMMdd".`)
	}
	return c, nil
}

// parseSignedHeaders splits a;b;c into lower-case names.
func parseSignedHeaders(s string) ([]string, error) {
	names := strings.Split(strings.ToLower(s), ";")
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t:") {
			return nil, errors.New("the SignedHeaders list is malformed.")
		}
	}
	return names, nil
}
