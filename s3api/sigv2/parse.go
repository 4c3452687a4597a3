package sigv2

import "strings"

// ParseHeader parses a V2 Authorization header, "AWS AccessKey:Signature".
// Spaces around the access key and the signature are ignored; neither may
// be empty or hold a colon, a space or a control character.
func ParseHeader(h string) (accessKey, signature string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "AWS")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", "", errHeaderInvalid
	}
	ak, sig, ok := strings.Cut(rest, ":")
	ak, sig = strings.TrimSpace(ak), strings.TrimSpace(sig)
	if !ok || !validToken(ak) || !validToken(sig) {
		return "", "", errHeaderInvalid
	}
	return ak, sig, nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == ':' || c == 0x7f {
			return false
		}
	}
	return true
}
