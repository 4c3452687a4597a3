package config

import (
	"fmt"
	"os"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// User is an S3 user besides the root user, from a users file
// (strata server --users FILE):
//
//	users:
//	  - access_key: backup
//	    secret_key: ${BACKUP_SECRET}
//	  - access_key: compliance-officer
//	    secret_key: change-me-please
//	    bypass_governance: true
//
// Values may take ${VAR} from the environment, as in the configuration
// file. docs/config.md documents the keys.
type User struct {
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// BypassGovernance lets the user delete versions and shorten retention
	// under GOVERNANCE Object Lock, with x-amz-bypass-governance-retention.
	BypassGovernance bool `yaml:"bypass_governance"`
}

// LoadUsers reads the users file at path.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseUsers(path, data)
}

// ParseUsers reads a users file from data; path names it in errors, which
// give the line.
func ParseUsers(path string, data []byte) ([]User, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty", path)
	}
	root := doc.Content[0]
	if err := expandEnv(path, root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, lineError(path, root, "expected a mapping with users")
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "users" {
			return nil, lineError(path, k, "unknown key %q (expected users)", k.Value)
		}
		list = v
	}
	if list == nil {
		return nil, fmt.Errorf("%s: users is missing", path)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, lineError(path, list, "users: expected a list of users")
	}
	var users []User
	seen := map[string]int{}
	for _, n := range list.Content {
		var u User
		if n.Kind != yaml.MappingNode {
			return nil, lineError(path, n, "user: expected a mapping with access_key and secret_key")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "access_key", "secret_key", "bypass_governance":
			default:
				return nil, lineError(path, k, "user: unknown key %q (known: access_key, secret_key, bypass_governance)", k.Value)
			}
		}
		if err := n.Decode(&u); err != nil {
			return nil, fmt.Errorf("%s:%d: user: %w", path, n.Line, err)
		}
		switch {
		case len(u.AccessKey) < 3 || len(u.AccessKey) > 128 || strings.ContainsFunc(u.AccessKey, notKeyRune):
			return nil, lineError(path, n, "user %q: access_key needs 3 to 128 printable characters without spaces", u.AccessKey)
		case len(u.SecretKey) < 8:
			return nil, lineError(path, n, "user %q: secret_key needs at least 8 characters", u.AccessKey)
		}
		if line, dup := seen[u.AccessKey]; dup {
			return nil, lineError(path, n, "user %q is defined twice (first on line %d)", u.AccessKey, line)
		}
		seen[u.AccessKey] = n.Line
		users = append(users, u)
	}
	return users, nil
}

func notKeyRune(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }
