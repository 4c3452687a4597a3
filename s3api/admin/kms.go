package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/gateway/kms"
)

// HandleKMS adds the KMS routes: POST kms/key/create?key=NAME,
// GET kms/key/list and GET kms/status. k may be nil (no KMS configured):
// the routes then say so.
func (h *Handler) HandleKMS(k kms.KMS) {
	need := func() error {
		if k == nil {
			return Errorf(http.StatusNotImplemented, "NotImplemented", "no KMS is configured (set STRATA_KMS_SECRET_KEY or a Vault; see docs/kms.md)")
		}
		return nil
	}
	h.Handle(http.MethodPost, "kms/key/create", func(w http.ResponseWriter, r *http.Request) error {
		if err := need(); err != nil {
			return err
		}
		name := strings.TrimSpace(r.URL.Query().Get("key"))
		if err := kms.CheckKeyName(name); err != nil {
			return Errorf(http.StatusBadRequest, "InvalidArgument", "%v", err)
		}
		if err := k.CreateKey(r.Context(), name); err != nil {
			return kmsError(err)
		}
		WriteJSON(w, http.StatusOK, map[string]string{"key": name})
		return nil
	})
	h.Handle(http.MethodGet, "kms/key/list", func(w http.ResponseWriter, r *http.Request) error {
		if err := need(); err != nil {
			return err
		}
		keys, err := k.ListKeys(r.Context())
		if err != nil {
			return kmsError(err)
		}
		WriteJSON(w, http.StatusOK, map[string]any{"keys": keys, "default": k.DefaultKey()})
		return nil
	})
	h.Handle(http.MethodGet, "kms/status", func(w http.ResponseWriter, r *http.Request) error {
		if err := need(); err != nil {
			return err
		}
		st, err := k.Status(r.Context())
		if err != nil {
			return kmsError(err)
		}
		WriteJSON(w, http.StatusOK, st)
		return nil
	})
}

func kmsError(err error) error {
	switch {
	case errors.Is(err, kms.ErrNotAllowed):
		return Errorf(http.StatusNotImplemented, "NotImplemented", "this KMS cannot do that: %v (the built-in KMS takes its keys from STRATA_KMS_SECRET_KEY or its key file)", err)
	case errors.Is(err, kms.ErrKeyExists):
		return Errorf(http.StatusConflict, "KeyExists", "%v", err)
	case errors.Is(err, kms.ErrKeyNotFound):
		return Errorf(http.StatusNotFound, "KeyNotFound", "%v", err)
	}
	return Errorf(http.StatusServiceUnavailable, "KMSUnavailable", "%v", err)
}
