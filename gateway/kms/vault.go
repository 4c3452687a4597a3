package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/gateway/sio"
)

// VaultConfig configures a client of HashiCorp Vault's transit secrets
// engine.
type VaultConfig struct {
	Endpoint   string // https://vault.example.com:8200
	Mount      string // transit engine's mount path; default "transit"
	DefaultKey string // transit key used when a request names none

	// Token authenticates when no AppRole is given.
	Token string
	// AppRoleID and AppRoleSecret log in with AppRole, again whenever the
	// token expires or is refused.
	AppRoleID     string
	AppRoleSecret string
	AppRoleMount  string // AppRole auth mount path; default "approle"

	Namespace string // Vault Enterprise namespace (X-Vault-Namespace)

	CAPath             string // PEM file, or directory of PEM files, of CAs to trust besides the system's
	InsecureSkipVerify bool   // do not verify the server's certificate (tests only)
	HTTPClient         *http.Client
	Timeout            time.Duration // per request; default 10s
}

// Vault is a KMS backed by Vault's transit engine. Vault makes each data key
// and seals it under a transit key; Strata never sees the transit key.
//
// The encryption context is bound twice. It is sent to Vault as the
// transit "context" (base64 of Context.Canonical), which Vault uses to
// derive the key for keys created with derived=true (CreateKey makes such
// keys) and ignores for other keys. And Strata binds it itself, so that it
// holds for any transit key: the key Vault returns is not used as the data
// key but seals a random data key with AES-256-GCM (sio.Seal) whose
// associated data is the context. See docs/formats.md, "Sealed keys".
type Vault struct {
	cfg    VaultConfig
	base   string
	client *http.Client

	mu      sync.Mutex
	token   string
	renewAt time.Time // zero: never
}

// NewVault returns a Vault client. It does not contact Vault: Status does.
func NewVault(cfg VaultConfig) (*Vault, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("kms: vault: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.Mount == "" {
		cfg.Mount = "transit"
	}
	cfg.Mount = strings.Trim(cfg.Mount, "/")
	if cfg.AppRoleMount == "" {
		cfg.AppRoleMount = "approle"
	}
	cfg.AppRoleMount = strings.Trim(cfg.AppRoleMount, "/")
	if cfg.DefaultKey == "" {
		return nil, errors.New("kms: vault: no default key (STRATA_KMS_VAULT_KEY)")
	}
	if err := CheckKeyName(cfg.DefaultKey); err != nil {
		return nil, err
	}
	if (cfg.AppRoleID == "") != (cfg.AppRoleSecret == "") {
		return nil, errors.New("kms: vault: AppRole needs both a role ID and a secret ID")
	}
	if cfg.Token == "" && cfg.AppRoleID == "" {
		return nil, errors.New("kms: vault: no token and no AppRole to log in with")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	v := &Vault{cfg: cfg, base: strings.TrimRight(cfg.Endpoint, "/"), client: cfg.HTTPClient}
	if v.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAPath != "" || cfg.InsecureSkipVerify {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
			if cfg.CAPath != "" {
				if tc.RootCAs, err = loadCAs(cfg.CAPath); err != nil {
					return nil, err
				}
			}
			tr.TLSClientConfig = tc
		}
		v.client = &http.Client{Transport: tr}
	}
	if cfg.AppRoleID == "" {
		v.token = cfg.Token
	}
	return v, nil
}

// loadCAs returns the system's CAs and those of a PEM file or of the PEM
// files in a directory.
func loadCAs(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	files := []string{path}
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("kms: vault: CA path: %w", err)
	} else if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("kms: vault: CA path: %w", err)
		}
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	n := 0
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("kms: vault: CA path: %w", err)
		}
		if pool.AppendCertsFromPEM(pem) {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("kms: vault: no PEM certificate in %s", path)
	}
	return pool, nil
}

// vaultError is an error response of Vault.
type vaultError struct {
	op     string
	status int
	errs   []string
	kind   error // ErrKeyNotFound, ErrDecrypt, ... or nil
}

func (e *vaultError) Error() string {
	msg := strings.Join(e.errs, "; ")
	if msg == "" {
		msg = http.StatusText(e.status)
	}
	s := fmt.Sprintf("kms: vault: %s: %d: %s", e.op, e.status, msg)
	if e.kind != nil {
		s = e.kind.Error() + " (" + s + ")"
	}
	return s
}

func (e *vaultError) Unwrap() error { return e.kind }

func (e *vaultError) has(s string) bool {
	for _, m := range e.errs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// response is the envelope of Vault's responses.
type response struct {
	Data     json.RawMessage `json:"data"`
	Warnings []string        `json:"warnings"`
	Auth     *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int64  `json:"lease_duration"`
	} `json:"auth"`
	Errors []string `json:"errors"`
}

// send makes one request with token tok ("" for none).
func (v *Vault) send(ctx context.Context, op, method, path string, in any, tok string) (*response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, v.base+"/v1/"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("X-Vault-Token", tok)
	}
	if v.cfg.Namespace != "" {
		req.Header.Set("X-Vault-Namespace", v.cfg.Namespace)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kms: vault: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("kms: vault: %s: %w", op, err)
	}
	var r response
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil && resp.StatusCode < 300 {
			return nil, fmt.Errorf("kms: vault: %s: bad response: %v", op, err)
		}
	}
	if resp.StatusCode >= 300 {
		return nil, &vaultError{op: op, status: resp.StatusCode, errs: r.Errors}
	}
	return &r, nil
}

// currentToken returns the token to use, logging in with AppRole first if
// there is none or it is due for renewal.
func (v *Vault) currentToken(ctx context.Context) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cfg.AppRoleID == "" {
		return v.token, nil
	}
	if v.token != "" && (v.renewAt.IsZero() || time.Now().Before(v.renewAt)) {
		return v.token, nil
	}
	return v.login(ctx)
}

// relogin drops the token tok, which Vault refused, and logs in again
// unless another request did already.
func (v *Vault) relogin(ctx context.Context, tok string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.token != tok && v.token != "" {
		return v.token, nil
	}
	return v.login(ctx)
}

// login logs in with AppRole; v.mu is held.
func (v *Vault) login(ctx context.Context) (string, error) {
	v.token = ""
	start := time.Now()
	r, err := v.send(ctx, "AppRole login", http.MethodPost, "auth/"+v.cfg.AppRoleMount+"/login",
		map[string]string{"role_id": v.cfg.AppRoleID, "secret_id": v.cfg.AppRoleSecret}, "")
	if err != nil {
		return "", err
	}
	if r.Auth == nil || r.Auth.ClientToken == "" {
		return "", errors.New("kms: vault: AppRole login: no client token in the response")
	}
	v.token = r.Auth.ClientToken
	v.renewAt = time.Time{}
	if r.Auth.LeaseDuration > 0 {
		// Log in again when two thirds of the lease have passed.
		v.renewAt = start.Add(time.Duration(r.Auth.LeaseDuration) * time.Second * 2 / 3)
	}
	return v.token, nil
}

// do makes a request with the current token; if Vault refuses the token
// (403) and AppRole is configured, it logs in again and retries once.
func (v *Vault) do(ctx context.Context, op, method, path string, in, out any) (*response, error) {
	tok, err := v.currentToken(ctx)
	if err != nil {
		return nil, err
	}
	r, err := v.send(ctx, op, method, path, in, tok)
	var ve *vaultError
	if errors.As(err, &ve) && ve.status == http.StatusForbidden && v.cfg.AppRoleID != "" {
		if tok, err = v.relogin(ctx, tok); err != nil {
			return nil, err
		}
		r, err = v.send(ctx, op, method, path, in, tok)
	}
	if err != nil {
		return nil, err
	}
	if out != nil {
		if len(r.Data) == 0 || string(r.Data) == "null" {
			return nil, fmt.Errorf("kms: vault: %s: no data in the response", op)
		}
		if err := json.Unmarshal(r.Data, out); err != nil {
			return nil, fmt.Errorf("kms: vault: %s: bad response: %v", op, err)
		}
	}
	return r, nil
}

func (v *Vault) keyPath(parts ...string) string {
	p := v.cfg.Mount
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

func (v *Vault) name(keyID string) (string, error) {
	if keyID == "" {
		return v.cfg.DefaultKey, nil
	}
	if err := CheckKeyName(keyID); err != nil {
		return "", fmt.Errorf("%w: %v", ErrKeyNotFound, err)
	}
	return keyID, nil
}

// notFound marks Vault's "encryption key not found" as ErrKeyNotFound.
func notFound(err error, name string) error {
	var ve *vaultError
	if errors.As(err, &ve) && ve.kind == nil && ve.has("key not found") {
		ve.kind = ErrKeyNotFound
		ve.errs = append(ve.errs, "key "+name)
	}
	return err
}

// The sealed form of a Vault data key: version (1), name length, name,
// ciphertext length (uint16, big endian), Vault's ciphertext
// ("vault:vN:..."), then sio.Seal of the data key under the key Vault made,
// with the bytes before it and the canonical context as associated data.
const vaultSealVersion = 1

// GenerateKey returns a new data key sealed with the transit key keyID
// ("" is the default key), bound to encCtx.
func (v *Vault) GenerateKey(ctx context.Context, keyID string, encCtx Context) (DataKey, error) {
	dk, _, err := v.generate(ctx, keyID, encCtx)
	return dk, err
}

func (v *Vault) generate(ctx context.Context, keyID string, encCtx Context) (DataKey, int, error) {
	name, err := v.name(keyID)
	if err != nil {
		return DataKey{}, 0, err
	}
	canon := encCtx.Canonical()
	var out struct {
		Plaintext  string `json:"plaintext"`
		Ciphertext string `json:"ciphertext"`
		KeyVersion int    `json:"key_version"`
	}
	_, err = v.do(ctx, "generate data key", http.MethodPost, v.keyPath("datakey", "plaintext", name),
		map[string]any{"context": base64.StdEncoding.EncodeToString(canon)}, &out)
	if err != nil {
		return DataKey{}, 0, notFound(err, name)
	}
	kek, err := base64.StdEncoding.DecodeString(out.Plaintext)
	if err != nil || len(kek) != sio.KeySize {
		return DataKey{}, 0, errors.New("kms: vault: generate data key: the plaintext is not 32 bytes of base64")
	}
	if !strings.HasPrefix(out.Ciphertext, "vault:v") || len(out.Ciphertext) > 0xffff {
		return DataKey{}, 0, fmt.Errorf("kms: vault: generate data key: unexpected ciphertext %.20q", out.Ciphertext)
	}
	plain := make([]byte, sio.KeySize)
	if _, err := rand.Read(plain); err != nil {
		return DataKey{}, 0, err
	}
	head := append([]byte{vaultSealVersion, byte(len(name))}, name...)
	head = binary.BigEndian.AppendUint16(head, uint16(len(out.Ciphertext)))
	head = append(head, out.Ciphertext...)
	seal, err := sio.Seal(kek, plain, append(slices.Clip(head), canon...))
	if err != nil {
		return DataKey{}, 0, err
	}
	return DataKey{KeyID: name, Plaintext: plain, Sealed: append(head, seal...)}, out.KeyVersion, nil
}

// Decrypt unseals a data key that GenerateKey made: Vault decrypts the key
// that sealed it, with any version of the transit key that Vault still
// allows. The sealed key names its transit key; keyID, if not "", must be
// that name.
func (v *Vault) Decrypt(ctx context.Context, keyID string, sealed []byte, encCtx Context) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != vaultSealVersion {
		return nil, fmt.Errorf("%w: not a sealed key of the Vault KMS", ErrDecrypt)
	}
	n := 2 + int(sealed[1])
	if len(sealed) < n+2 {
		return nil, fmt.Errorf("%w: sealed key is truncated", ErrDecrypt)
	}
	name := string(sealed[2:n])
	m := n + 2 + int(binary.BigEndian.Uint16(sealed[n:]))
	if len(sealed) != m+sio.SealedSize {
		return nil, fmt.Errorf("%w: sealed key has a bad length", ErrDecrypt)
	}
	if keyID != "" && keyID != name {
		return nil, fmt.Errorf("%w: sealed by key %q, not %q", ErrDecrypt, name, keyID)
	}
	if err := CheckKeyName(name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	canon := encCtx.Canonical()
	var out struct {
		Plaintext string `json:"plaintext"`
	}
	_, err := v.do(ctx, "decrypt", http.MethodPost, v.keyPath("decrypt", name), map[string]any{
		"ciphertext": string(sealed[n+2 : m]),
		"context":    base64.StdEncoding.EncodeToString(canon),
	}, &out)
	if err != nil {
		var ve *vaultError
		if errors.As(err, &ve) && ve.status == http.StatusBadRequest && !ve.has("key not found") {
			ve.kind = ErrDecrypt // bad ciphertext, wrong context, version too old
		}
		return nil, notFound(err, name)
	}
	kek, err := base64.StdEncoding.DecodeString(out.Plaintext)
	if err != nil || len(kek) != sio.KeySize {
		return nil, fmt.Errorf("%w: Vault's plaintext is not a 32-byte key", ErrDecrypt)
	}
	plain, err := sio.Unseal(kek, sealed[m:], append(slices.Clip(sealed[:m]), canon...))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q", ErrDecrypt, name)
	}
	return plain, nil
}

// CreateKey creates the transit key keyID (aes256-gcm96, derived).
func (v *Vault) CreateKey(ctx context.Context, keyID string) error {
	if err := CheckKeyName(keyID); err != nil {
		return err
	}
	r, err := v.do(ctx, "create key", http.MethodPost, v.keyPath("keys", keyID),
		map[string]any{"type": "aes256-gcm96", "derived": true}, nil)
	if err != nil {
		return err
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, "already existed") {
			return fmt.Errorf("%w: %q", ErrKeyExists, keyID)
		}
	}
	return nil
}

// ListKeys lists the transit keys.
func (v *Vault) ListKeys(ctx context.Context) ([]string, error) {
	var out struct {
		Keys []string `json:"keys"`
	}
	_, err := v.do(ctx, "list keys", http.MethodGet, v.cfg.Mount+"/keys?list=true", nil, &out)
	var ve *vaultError
	if errors.As(err, &ve) && ve.status == http.StatusNotFound && len(ve.errs) == 0 {
		return []string{}, nil // Vault answers 404 when there is no key
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(out.Keys)
	return out.Keys, nil
}

// Status makes a data key with the default key and unseals it: it works
// when Vault is reachable, the credentials are good and the policy allows
// what the encryption layer does. Failures are reported as Online false,
// with the reason in Detail, not as an error.
func (v *Vault) Status(ctx context.Context) (Status, error) {
	st := Status{Name: "vault", Endpoint: v.cfg.Endpoint, DefaultKey: v.cfg.DefaultKey}
	probe := Context{"strata-kms": "status"}
	dk, ver, err := v.generate(ctx, "", probe)
	if err == nil {
		var plain []byte
		plain, err = v.Decrypt(ctx, "", dk.Sealed, probe)
		if err == nil && !bytes.Equal(plain, dk.Plaintext) {
			err = errors.New("kms: vault: the data key does not round-trip")
		}
	}
	if err != nil {
		st.Detail = err.Error()
		return st, nil
	}
	st.Online = true
	st.Detail = fmt.Sprintf("transit key %q version %d at mount %q", v.cfg.DefaultKey, ver, v.cfg.Mount)
	return st, nil
}

// DefaultKey is the transit key used when a request names none.
func (v *Vault) DefaultKey() string { return v.cfg.DefaultKey }

var _ KMS = (*Vault)(nil)
