package kms

import (
	"errors"
	"fmt"
)

// FromEnv returns the KMS that the environment configures (docs/kms.md), or
// nil and no error when it configures none:
//
//	STRATA_KMS_SECRET_KEY        built-in KMS with one master key, "name:base64"
//	STRATA_KMS_SECRET_KEY_FILE   built-in KMS with the master keys of a file
//	STRATA_KMS_VAULT_ENDPOINT    Vault transit, with STRATA_KMS_VAULT_MOUNT,
//	    _KEY, _TOKEN, _APPROLE_ID, _APPROLE_SECRET, _NAMESPACE, _CAPATH
//
// Configuring more than one of the three is an error.
func FromEnv(getenv func(string) string) (KMS, error) {
	secret := getenv("STRATA_KMS_SECRET_KEY")
	file := getenv("STRATA_KMS_SECRET_KEY_FILE")
	endpoint := getenv("STRATA_KMS_VAULT_ENDPOINT")
	n := 0
	for _, s := range []string{secret, file, endpoint} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("kms: set only one of STRATA_KMS_SECRET_KEY, STRATA_KMS_SECRET_KEY_FILE and STRATA_KMS_VAULT_ENDPOINT")
	case secret != "":
		name, key, err := ParseSecretKey(secret)
		if err != nil {
			return nil, fmt.Errorf("STRATA_KMS_SECRET_KEY: %w", err)
		}
		return orNil(NewBuiltin(map[string][]byte{name: key}, name))
	case file != "":
		return orNil(LoadBuiltinFile(file))
	case endpoint != "":
		return orNil(NewVault(VaultConfig{
			Endpoint:      endpoint,
			Mount:         getenv("STRATA_KMS_VAULT_MOUNT"),
			DefaultKey:    getenv("STRATA_KMS_VAULT_KEY"),
			Token:         getenv("STRATA_KMS_VAULT_TOKEN"),
			AppRoleID:     getenv("STRATA_KMS_VAULT_APPROLE_ID"),
			AppRoleSecret: getenv("STRATA_KMS_VAULT_APPROLE_SECRET"),
			Namespace:     getenv("STRATA_KMS_VAULT_NAMESPACE"),
			CAPath:        getenv("STRATA_KMS_VAULT_CAPATH"),
		}))
	}
	for _, k := range []string{"STRATA_KMS_VAULT_KEY", "STRATA_KMS_VAULT_TOKEN", "STRATA_KMS_VAULT_APPROLE_ID", "STRATA_KMS_VAULT_MOUNT"} {
		if getenv(k) != "" {
			return nil, fmt.Errorf("kms: %s is set but STRATA_KMS_VAULT_ENDPOINT is not", k)
		}
	}
	return nil, nil
}

// orNil keeps a failed constructor's nil pointer out of the interface.
func orNil[T KMS](k T, err error) (KMS, error) {
	if err != nil {
		return nil, err
	}
	return k, nil
}
