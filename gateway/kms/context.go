package kms

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Canonical is the encryption context as canonical JSON: an object with its
// names sorted, no spaces, Go's encoding/json string escaping; "{}" when
// empty. It is what a sealed key is bound to.
func (c Context) Canonical() []byte {
	if len(c) == 0 {
		return []byte("{}")
	}
	b, err := json.Marshal(map[string]string(c)) // maps marshal with sorted keys
	if err != nil {
		panic("kms: marshal context: " + err.Error()) // cannot happen for strings
	}
	return b
}

// keyName is what a master key may be named: 1 to 255 letters, digits,
// '-', '_' and '.', starting and ending with a letter, digit or '_' (the
// names Vault accepts in a path; ':' would clash with the name:key form).
var keyName = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9_])?$`)

// CheckKeyName returns an error if name cannot name a master key.
func CheckKeyName(name string) error {
	if !keyName.MatchString(name) {
		return fmt.Errorf("kms: invalid key name %q: want 1 to 255 letters, digits, '-', '_' or '.', starting and ending with a letter, digit or '_'", name)
	}
	return nil
}
