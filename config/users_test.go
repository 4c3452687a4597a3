package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseUsers(t *testing.T) {
	t.Setenv("STRATA_TEST_SECRET", "from-the-environment")
	users, err := ParseUsers("users.yaml", []byte(`users:
  - access_key: backup
    secret_key: ${STRATA_TEST_SECRET}
  - {access_key: officer, secret_key: officer-secret, bypass_governance: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0] != (User{"backup", "from-the-environment", false}) || users[1] != (User{"officer", "officer-secret", true}) {
		t.Fatalf("users: %+v", users)
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"empty", "", "users.yaml: the file is empty"},
		{"not a mapping", "- a\n", "users.yaml:1: expected a mapping"},
		{"unknown top key", "userz: []\n", `users.yaml:1: unknown key "userz"`},
		{"not a list", "users: {a: b}\n", "users.yaml:1: users: expected a list"},
		{"unknown user key", "users:\n  - access_key: abc\n    secret_key: 12345678\n    bypass: true\n", `users.yaml:4: user: unknown key "bypass"`},
		{"short secret", "users:\n  - access_key: abc\n    secret_key: short\n", "users.yaml:2: user \"abc\": secret_key needs at least 8"},
		{"bad access key", "users:\n  - access_key: a b c\n    secret_key: 12345678\n", "users.yaml:2: user \"a b c\": access_key"},
		{"duplicate", "users:\n  - {access_key: abc, secret_key: 12345678}\n  - {access_key: abc, secret_key: 87654321}\n", "users.yaml:3: user \"abc\" is defined twice (first on line 2)"},
		{"unset env", "users:\n  - access_key: abc\n    secret_key: ${STRATA_TEST_UNSET}\n", "users.yaml:3: environment variable STRATA_TEST_UNSET is not set"},
		{"bad bool", "users:\n  - {access_key: abc, secret_key: 12345678, bypass_governance: maybe}\n", "users.yaml:2"},
		{"missing users", "{}\n", "users is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseUsers("users.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "u.yaml")
	os.WriteFile(p, []byte("users:\n  - {access_key: abc, secret_key: 12345678}\n"), 0o600)
	if u, err := LoadUsers(p); err != nil || len(u) != 1 {
		t.Fatalf("LoadUsers: %+v %v", u, err)
	}
}
