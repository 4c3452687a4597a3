package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway/bitrot"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/sio"
	"github.com/strata-storage/strata/gateway/stack"
)

// services are the settings of the data-service layers.
type services struct {
	kms         kms.KMS
	autoEncrypt bool
	cipher      sio.Cipher
	worm        bool // every bucket write-once (--worm)
	log         *slog.Logger
	// layers, when not nil, receives the layers the admin API drives.
	layers *serviceLayers
}

// serviceLayers are the layers of a stack that the admin API talks to.
type serviceLayers struct {
	bitrot *bitrot.Layer
}

// servicesFromEnv reads the settings of the data services from the flags
// in f and the environment.
func servicesFromEnv(f serverFlags) (services, error) {
	var s services
	k, err := kms.FromEnv(os.Getenv)
	if err != nil {
		return s, err
	}
	s.kms = k
	if s.autoEncrypt, err = onOff(f.autoEncrypt, "--auto-encryption", "STRATA_AUTO_ENCRYPTION", false); err != nil {
		return s, err
	}
	if s.autoEncrypt && s.kms == nil {
		return s, fmt.Errorf("auto-encryption needs a KMS: set STRATA_KMS_SECRET_KEY or a Vault (see docs/kms.md)")
	}
	if c := os.Getenv("STRATA_SSE_CIPHER"); c != "" {
		if s.cipher, err = sio.ParseCipher(c); err != nil {
			return s, fmt.Errorf("STRATA_SSE_CIPHER: %w", err)
		}
	}
	if s.worm, err = onOff(f.worm, "--worm", "STRATA_WORM", false); err != nil {
		return s, err
	}
	return s, nil
}

// dataServices wraps b in the data-service layers (gateway/stack).
func dataServices(b backends.Backend, s services) (backends.Backend, error) {
	st := stack.New(b, stack.Options{KMS: s.kms, AutoEncrypt: s.autoEncrypt, Cipher: s.cipher, WORM: s.worm, Logger: s.log})
	if s.layers != nil {
		s.layers.bitrot = st.Bitrot
	}
	return st.Backend, nil
}
