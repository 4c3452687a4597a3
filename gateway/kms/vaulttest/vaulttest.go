// Package vaulttest is an in-process stand-in for HashiCorp Vault's HTTP API,
// as far as Strata uses it: the transit secrets engine (keys, rotate,
// config, datakey, encrypt, decrypt) and AppRole login, with tokens that
// expire. It follows Vault's documented paths, methods, JSON fields, status
// codes and error shapes ({"errors":[...]}), so the Vault client can be
// tested where no Vault server can be installed.
package vaulttest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	Mount     string // transit mount path; default "transit"
	RootToken string // a token that never expires; default "root"
	Namespace string // if set, requests must carry it in X-Vault-Namespace
}

// Server is a fake Vault.
type Server struct {
	*httptest.Server
	opts Options

	mu     sync.Mutex
	keys   map[string]*key
	tokens map[string]time.Time // token -> expiry; zero: never
	roles  map[string]role      // role_id -> role
	logins int
	stall  chan struct{} // non-nil while stalled; closed to release
	reqs   int
}

type key struct {
	derived    bool
	versions   map[int][]byte
	created    map[int]int64
	latest     int
	minDecrypt int
}

type role struct {
	secretID string
	ttl      time.Duration
}

// New starts a fake Vault; Close stops it.
func New(opts Options) *Server {
	if opts.Mount == "" {
		opts.Mount = "transit"
	}
	if opts.RootToken == "" {
		opts.RootToken = "root"
	}
	s := &Server{opts: opts, keys: map[string]*key{}, tokens: map[string]time.Time{opts.RootToken: {}}, roles: map[string]role{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AddAppRole adds an AppRole whose logins give tokens valid for ttl.
func (s *Server) AddAppRole(roleID, secretID string, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleID] = role{secretID: secretID, ttl: ttl}
}

// CreateKey creates an aes256-gcm96 transit key, as POST keys/:name does.
func (s *Server) CreateKey(name string, derived bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[name] == nil {
		s.keys[name] = newKey(derived)
	}
}

// RotateKey adds a version to a key, as POST keys/:name/rotate does.
func (s *Server) RotateKey(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].rotate()
}

// ExpireTokens makes every token but the root token expire now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		if t != s.opts.RootToken {
			s.tokens[t] = time.Now().Add(-time.Second)
		}
	}
}

// Logins is the number of successful AppRole logins.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Requests is the number of requests served.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

// Stall makes the server hold every request until its client gives up (a
// hung server), or serve again.
func (s *Server) Stall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.stall == nil:
		s.stall = make(chan struct{})
	case !on && s.stall != nil:
		close(s.stall)
		s.stall = nil
	}
}

// Close releases stalled requests and stops the server.
func (s *Server) Close() {
	s.Stall(false)
	s.Server.Close()
}

func newKey(derived bool) *key {
	k := &key{derived: derived, versions: map[int][]byte{}, created: map[int]int64{}, minDecrypt: 1}
	k.rotate()
	return k
}

func (k *key) rotate() {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	k.latest++
	k.versions[k.latest] = b
	k.created[k.latest] = time.Now().Unix()
}

// aead is the cipher of a key version, derived from the context for a
// derived key (HKDF-SHA256, as Vault's hkdf_sha256 KDF).
func (k *key) aead(ver int, context []byte) (cipher.AEAD, string) {
	raw := k.versions[ver]
	if k.derived {
		if len(context) == 0 {
			return nil, "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
		}
		d, err := hkdf.Key(sha256.New, raw, nil, string(context), 32)
		if err != nil {
			return nil, err.Error()
		}
		raw = d
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err.Error()
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err.Error()
	}
	return g, ""
}

func (k *key) encrypt(context, plain []byte) (string, string) {
	g, msg := k.aead(k.latest, context)
	if g == nil {
		return "", msg
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err.Error()
	}
	out := g.Seal(nonce, nonce, plain, nil)
	return "vault:v" + strconv.Itoa(k.latest) + ":" + base64.StdEncoding.EncodeToString(out), ""
}

// decrypt follows transit's checks and their messages.
func (k *key) decrypt(context []byte, value string) ([]byte, string) {
	if !strings.HasPrefix(value, "vault:v") {
		return nil, "invalid ciphertext: no prefix"
	}
	parts := strings.SplitN(strings.TrimPrefix(value, "vault:v"), ":", 2)
	if len(parts) != 2 {
		return nil, "invalid ciphertext: wrong number of fields"
	}
	ver, err := strconv.Atoi(parts[0])
	if err != nil {
		return nil, "invalid ciphertext: version number could not be decoded"
	}
	if ver == 0 {
		ver = 1
	}
	if ver > k.latest {
		return nil, "invalid ciphertext: version is too new"
	}
	if ver < k.minDecrypt {
		return nil, "ciphertext or signature version is disallowed by policy (too old)"
	}
	raw, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, "invalid ciphertext: could not decode base64"
	}
	g, msg := k.aead(ver, context)
	if g == nil {
		return nil, msg
	}
	if len(raw) < g.NonceSize() {
		return nil, "invalid ciphertext length"
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return nil, "cipher: message authentication failed"
	}
	return plain, ""
}

func (k *key) info(name string) map[string]any {
	keys := map[string]int64{}
	for v, t := range k.created {
		if v >= k.minDecrypt {
			keys[strconv.Itoa(v)] = t
		}
	}
	d := map[string]any{
		"name": name, "type": "aes256-gcm96", "derived": k.derived, "deletion_allowed": false,
		"exportable": false, "allow_plaintext_backup": false, "keys": keys,
		"latest_version": k.latest, "min_available_version": 0, "min_decryption_version": k.minDecrypt,
		"min_encryption_version": 0, "supports_encryption": true, "supports_decryption": true,
		"supports_derivation": true, "supports_signing": false, "auto_rotate_period": 0, "imported_key": false,
	}
	if k.derived {
		d["kdf"] = "hkdf_sha256"
		d["convergent_encryption"] = false
	}
	return d
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func fail(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	reply(w, status, map[string]any{"errors": msgs})
}

func data(w http.ResponseWriter, d map[string]any, warnings ...string) {
	body := map[string]any{
		"request_id": newID(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": d, "wrap_info": nil, "warnings": nil, "auth": nil,
	}
	if warnings != nil {
		body["warnings"] = warnings
	}
	reply(w, http.StatusOK, body)
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs++
	stall := s.stall
	s.mu.Unlock()
	if stall != nil {
		// Read the request so that the server notices the client
		// going away, then hold it.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stall:
		}
		return
	}
	if s.opts.Namespace != "" && strings.Trim(r.Header.Get("X-Vault-Namespace"), "/") != s.opts.Namespace {
		fail(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", strings.TrimPrefix(r.URL.Path, "/v1/")))
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		fail(w, http.StatusNotFound)
		return
	}
	method := r.Method
	if method == http.MethodPut {
		method = http.MethodPost // Vault treats PUT and POST alike
	}
	if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	var body map[string]any
	if method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			fail(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	str := func(name string) string { v, _ := body[name].(string); return v }

	s.mu.Lock()
	defer s.mu.Unlock()

	if path == "auth/approle/login" && method == http.MethodPost {
		ro, ok := s.roles[str("role_id")]
		if !ok || str("secret_id") != ro.secretID {
			fail(w, http.StatusBadRequest, "invalid role or secret ID")
			return
		}
		tok := "hvs." + newID()
		s.tokens[tok] = time.Now().Add(ro.ttl)
		s.logins++
		reply(w, http.StatusOK, map[string]any{
			"request_id": newID(), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil, "warnings": nil,
			"auth": map[string]any{
				"client_token": tok, "accessor": newID(), "policies": []string{"default", "strata"},
				"token_policies": []string{"default", "strata"}, "metadata": map[string]string{"role_name": "strata"},
				"lease_duration": int(ro.ttl.Seconds()), "renewable": true, "entity_id": newID(),
				"token_type": "service", "orphan": true,
			},
		})
		return
	}

	exp, ok := s.tokens[r.Header.Get("X-Vault-Token")]
	if !ok || (!exp.IsZero() && time.Now().After(exp)) {
		fail(w, http.StatusForbidden, "permission denied")
		return
	}

	rest, ok := strings.CutPrefix(path, s.opts.Mount+"/")
	if !ok {
		fail(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", path))
		return
	}
	seg := strings.Split(rest, "/")
	context, err := base64.StdEncoding.DecodeString(str("context"))
	if err != nil {
		fail(w, http.StatusBadRequest, "failed to base64-decode context")
		return
	}
	switch {
	case method == "LIST" && (rest == "keys" || rest == "keys/"):
		if len(s.keys) == 0 {
			fail(w, http.StatusNotFound)
			return
		}
		var names []string
		for n := range s.keys {
			names = append(names, n)
		}
		slices.Sort(names)
		data(w, map[string]any{"keys": names})

	case len(seg) == 2 && seg[0] == "keys" && method == http.MethodGet:
		k := s.keys[seg[1]]
		if k == nil {
			fail(w, http.StatusNotFound)
			return
		}
		data(w, k.info(seg[1]))

	case len(seg) == 2 && seg[0] == "keys" && method == http.MethodPost:
		if t := str("type"); t != "" && t != "aes256-gcm96" {
			fail(w, http.StatusBadRequest, "unknown key type "+t)
			return
		}
		k := s.keys[seg[1]]
		if k != nil {
			data(w, k.info(seg[1]), fmt.Sprintf("key %s already existed", seg[1]))
			return
		}
		derived, _ := body["derived"].(bool)
		k = newKey(derived)
		s.keys[seg[1]] = k
		data(w, k.info(seg[1]))

	case len(seg) == 3 && seg[0] == "keys" && seg[2] == "rotate" && method == http.MethodPost:
		k := s.keys[seg[1]]
		if k == nil {
			fail(w, http.StatusBadRequest, "key not found")
			return
		}
		k.rotate()
		data(w, k.info(seg[1]))

	case len(seg) == 3 && seg[0] == "keys" && seg[2] == "config" && method == http.MethodPost:
		k := s.keys[seg[1]]
		if k == nil {
			fail(w, http.StatusBadRequest, "no existing key named "+seg[1]+" could be found")
			return
		}
		if v, ok := body["min_decryption_version"].(float64); ok {
			if int(v) > k.latest {
				fail(w, http.StatusBadRequest, "cannot set min decryption version to a value greater than the latest version")
				return
			}
			k.minDecrypt = max(int(v), 1)
		}
		data(w, k.info(seg[1]))

	case len(seg) == 3 && seg[0] == "datakey" && method == http.MethodPost:
		if seg[1] != "plaintext" && seg[1] != "wrapped" {
			fail(w, http.StatusBadRequest, "Invalid path, must be 'plaintext' or 'wrapped'")
			return
		}
		k := s.keys[seg[2]]
		if k == nil {
			fail(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		bits := 256
		if v, ok := body["bits"].(float64); ok {
			bits = int(v)
		}
		if bits != 128 && bits != 256 && bits != 512 {
			fail(w, http.StatusBadRequest, "invalid bit length")
			return
		}
		dk := make([]byte, bits/8)
		_, _ = rand.Read(dk)
		ct, msg := k.encrypt(context, dk)
		if msg != "" {
			fail(w, http.StatusBadRequest, msg)
			return
		}
		d := map[string]any{"ciphertext": ct, "key_version": k.latest}
		if seg[1] == "plaintext" {
			d["plaintext"] = base64.StdEncoding.EncodeToString(dk)
		}
		data(w, d)

	case len(seg) == 2 && seg[0] == "encrypt" && method == http.MethodPost:
		k := s.keys[seg[1]]
		if k == nil {
			fail(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		plain, err := base64.StdEncoding.DecodeString(str("plaintext"))
		if err != nil {
			fail(w, http.StatusBadRequest, "failed to base64-decode plaintext")
			return
		}
		ct, msg := k.encrypt(context, plain)
		if msg != "" {
			fail(w, http.StatusBadRequest, msg)
			return
		}
		data(w, map[string]any{"ciphertext": ct, "key_version": k.latest})

	case len(seg) == 2 && seg[0] == "decrypt" && method == http.MethodPost:
		k := s.keys[seg[1]]
		if k == nil {
			fail(w, http.StatusBadRequest, "encryption key not found")
			return
		}
		if str("ciphertext") == "" {
			fail(w, http.StatusBadRequest, "missing ciphertext to decrypt")
			return
		}
		plain, msg := k.decrypt(context, str("ciphertext"))
		if msg != "" {
			fail(w, http.StatusBadRequest, msg)
			return
		}
		data(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)})

	default:
		fail(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}
