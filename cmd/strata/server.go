package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/config"
	"github.com/strata-storage/strata/erasure"
	"github.com/strata-storage/strata/gateway/objectlock"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/admin"
)

// Default credentials, for a first start only: the server warns about them.
const (
	defaultUser     = "strataadmin"
	defaultPassword = "strataadmin"
)

const serverEnvHelp = `  STRATA_ROOT_USER               access key of the root user (default strataadmin)
  STRATA_ROOT_PASSWORD           secret key of the root user (default strataadmin)
  STRATA_DOMAIN                  like --domain, when the flag is not given
  STRATA_SIGV2                   like --sigv2 (on or off), when the flag is not given
  STRATA_WORM                    like --worm (on or off), when the flag is not given
  STRATA_USERS_FILE              like --users, when the flag is not given
  STRATA_STORAGE_CLASS_STANDARD  EC:N, parity of the STANDARD storage class (like --parity)
  STRATA_STORAGE_CLASS_RRS       EC:N, parity of REDUCED_REDUNDANCY objects
  STRATA_HEAL_INTERVAL           like --heal-interval, when the flag is not given
  STRATA_DRIVE_TIMEOUT           like --drive-timeout, when the flag is not given
`

type serverFlags struct {
	address         string
	config          string
	domains         []string
	certsDir        string
	region          string
	logLevel        string
	logJSON         bool
	shutdownTimeout time.Duration
	parity          int
	sigv2           string
	autoEncrypt     string
	ssecHTTP        string
	worm            string
	users           string
	healInterval    string
	driveTimeout    string
}

func serverCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server [flags] PATH | DRIVE... | --config FILE",
		Short: "Serve the S3 API over a directory",
		Long: `Serve the S3 API over the directory PATH: each top-level folder is a bucket and
each file an object at its path. Files already there are served as they are;
what clients write lands as plain files. Strata keeps its own state in
PATH/.strata.sys, which no listing shows.

Several PATHs, or a pattern such as /mnt/disk{1...8}, make Strata a native
object store over those drives: objects are erasure-coded across them with
bitrot protection (see docs/erasure.md). The drives must exist; they are
formatted on first start.

With --config FILE instead of PATH, Strata serves the backends and buckets
of a configuration file: directories, S3-compatible services, Azure Blob and
Google Cloud Storage behind one endpoint (see docs/config.md).

Credentials come from STRATA_ROOT_USER and STRATA_ROOT_PASSWORD (default
strataadmin / strataadmin: change them). HTTPS is served when --certs-dir
holds public.crt and private.key. GET /health/live and /health/ready answer
200 without authentication. SIGTERM or SIGINT stops accepting connections,
lets requests in flight finish and exits 0.`,
		Example: `  strata server ./data
  STRATA_ROOT_USER=admin STRATA_ROOT_PASSWORD=change-me-now strata server --address :9000 /mnt/nas`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServer(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.address, "address", "127.0.0.1:9000", "HOST:PORT to listen on (\":9000\" for every interface)")
	fl.IntVar(&f.parity, "parity", 0, "parity drives per erasure set when serving several drives (default by set size: 2 for 4-5 drives, 4 for 8-16; at most half); env STRATA_STORAGE_CLASS_STANDARD=EC:N")
	fl.StringVar(&f.healInterval, "heal-interval", "", "erasure-coded store: how often the background heal scanner checks every object (for example 12h; off to turn it off; default 24h); env STRATA_HEAL_INTERVAL")
	fl.StringVar(&f.driveTimeout, "drive-timeout", "", "erasure-coded store: deadline of every call on a drive; a drive that passes it is offline until it answers a probe again (default 30s); env STRATA_DRIVE_TIMEOUT")
	fl.StringVar(&f.config, "config", "", "configuration file of backends and buckets (see docs/config.md), instead of PATH")
	fl.StringSliceVar(&f.domains, "domain", nil, "domain name for virtual-host-style requests (bucket.DOMAIN); repeat or comma-separate for several; env STRATA_DOMAIN")
	fl.StringVar(&f.certsDir, "certs-dir", "", "directory with public.crt and private.key: serve HTTPS with them")
	fl.StringVar(&f.region, "region", "us-east-1", "region that GetBucketLocation reports (signatures for any region are accepted)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug (logs every request), info, warn or error")
	fl.BoolVar(&f.logJSON, "log-json", false, "write logs as JSON lines instead of text")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 5*time.Minute, "how long to wait for requests in flight after SIGTERM/SIGINT")
	fl.StringVar(&f.sigv2, "sigv2", "", "accept AWS Signature Version 2 (default presigned URLs of boto3 and aws CLI v1): on (default) or off; env STRATA_SIGV2")
	fl.Lookup("sigv2").NoOptDefVal = "on"
	fl.StringVar(&f.autoEncrypt, "auto-encryption", "", "encrypt every new object with SSE-S3 unless the request or bucket asks otherwise: on or off (default); needs a KMS (docs/kms.md); env STRATA_AUTO_ENCRYPTION")
	fl.Lookup("auto-encryption").NoOptDefVal = "on"
	fl.StringVar(&f.ssecHTTP, "sse-c-over-http", "", "accept SSE-C keys over plain HTTP (behind a TLS proxy): on or off (default); env STRATA_SSE_C_OVER_HTTP")
	fl.Lookup("sse-c-over-http").NoOptDefVal = "on"
	fl.StringVar(&f.worm, "worm", "", "write-once mode for every bucket: objects that exist can never be overwritten, changed or deleted; new keys can be written (on or off); env STRATA_WORM")
	fl.Lookup("worm").NoOptDefVal = "on"
	fl.StringVar(&f.users, "users", "", "YAML file of S3 users besides the root user (access_key, secret_key, bypass_governance; see docs/object-lock.md); env STRATA_USERS_FILE")
	return cmd
}

// openBackend opens what the server serves: the namespace of a
// configuration file, or one directory. where describes it for the banner.
func openBackend(ctx context.Context, f serverFlags, args []string) (b backends.Backend, where string, err error) {
	if f.config != "" {
		if len(args) > 0 {
			return nil, "", errors.New("give either --config or a PATH, not both")
		}
		ns, err := config.Open(ctx, f.config)
		if err != nil {
			return nil, "", err
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := ns.Discover(dctx); err != nil {
			slog.Warn("some backends could not be searched for buckets created on them", "err", err)
		}
		return ns, "configuration " + f.config, nil
	}
	if len(args) == 0 {
		return nil, "", errors.New("PATH is missing (for example: strata server ./data, or strata server --config strata.yaml)")
	}
	for _, a := range args {
		if a == "on" || a == "off" {
			if _, err := os.Stat(a); err != nil {
				// `--worm on`: the on/off flags take their value after '='.
				return nil, "", fmt.Errorf("%q is not a PATH: give an on/off flag its value with '=' (for example --auto-encryption=%s)", a, a)
			}
		}
	}
	drives, err := expandDrives(args)
	if err != nil {
		return nil, "", err
	}
	if len(drives) > 1 {
		opts, err := erasureOptions(f)
		if err != nil {
			return nil, "", err
		}
		st, err := erasure.Open(drives, opts)
		if err != nil {
			return nil, "", err
		}
		sets, per := st.Sets()
		return st, fmt.Sprintf("erasure-coded store on %d drives (%d sets of %d)", len(drives), sets, per), nil
	}
	root := args[0]
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, "", err
	}
	d, err := dir.Open(root, dir.Options{})
	if err != nil {
		return nil, "", err
	}
	abs, _ := filepath.Abs(root)
	return d, abs, nil
}

// sigV2Off reads --sigv2, or STRATA_SIGV2 when the flag is not given:
// whether to refuse AWS Signature Version 2.
func sigV2Off(flag string) (bool, error) {
	v, from := flag, "--sigv2"
	if v == "" {
		v, from = os.Getenv("STRATA_SIGV2"), "STRATA_SIGV2"
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "on", "true", "1", "yes":
		return false, nil
	case "off", "false", "0", "no":
		return true, nil
	}
	return false, fmt.Errorf("%s: %q is neither on nor off", from, v)
}

// onOff reads an on/off flag, or its environment variable when the flag
// is not given; def when neither is.
func onOff(flag, name, env string, def bool) (bool, error) {
	v, from := flag, name
	if v == "" {
		v, from = os.Getenv(env), env
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is neither on nor off", from, v)
}

// loadUsers reads the users file of --users or STRATA_USERS_FILE, if any,
// into creds; it returns the access keys that may bypass governance
// retention.
func loadUsers(flag, root string, creds map[string]string) (map[string]bool, error) {
	path, from := flag, "--users"
	if path == "" {
		path, from = os.Getenv("STRATA_USERS_FILE"), "STRATA_USERS_FILE"
	}
	bypass := map[string]bool{root: true}
	if path == "" {
		return bypass, nil
	}
	users, err := config.LoadUsers(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	for _, u := range users {
		if _, dup := creds[u.AccessKey]; dup {
			return nil, fmt.Errorf("%s: %s: user %q is the root user", from, path, u.AccessKey)
		}
		creds[u.AccessKey] = u.SecretKey
		bypass[u.AccessKey] = u.BypassGovernance
	}
	return bypass, nil
}

func newLogger(f serverFlags) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.logJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}

func runServer(ctx context.Context, f serverFlags, args []string) error {
	log, err := newLogger(f)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	backend, where, err := openBackend(ctx, f, args)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if c, ok := backend.(io.Closer); ok {
		defer c.Close()
	}
	// The erasure store itself, before the data services wrap it: the
	// admin API heals it and reports its drives.
	var healer admin.Healer
	if es, ok := backend.(*erasure.Store); ok {
		healer = es
	}
	svc, err := servicesFromEnv(f)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	var layers serviceLayers
	svc.log, svc.layers = log, &layers
	backend, err = dataServices(backend, svc)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}

	user, pass := os.Getenv("STRATA_ROOT_USER"), os.Getenv("STRATA_ROOT_PASSWORD")
	defaults := user == "" && pass == ""
	if defaults {
		user, pass = defaultUser, defaultPassword
	}
	if user == "" || pass == "" {
		return errors.New("server: set both STRATA_ROOT_USER and STRATA_ROOT_PASSWORD, or neither")
	}
	if len(user) < 3 || len(pass) < 8 {
		return errors.New("server: STRATA_ROOT_USER needs at least 3 characters and STRATA_ROOT_PASSWORD at least 8")
	}
	domains := f.domains
	if v := os.Getenv("STRATA_DOMAIN"); v != "" && len(domains) == 0 {
		domains = strings.Split(v, ",")
	}

	noSigV2, err := sigV2Off(f.sigv2)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}

	allowSSECHTTP, err := onOff(f.ssecHTTP, "--sse-c-over-http", "STRATA_SSE_C_OVER_HTTP", false)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	creds := map[string]string{user: pass}
	bypass, err := loadUsers(f.users, user, creds)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}

	// The admin API (docs/admin.md); other parts of the server add their
	// routes with adminAPI.Handle.
	adminCfg := admin.Config{
		Lookup: func(ak string) (string, bool) {
			if ak != user {
				return "", false
			}
			return pass, true
		},
		IsAdmin: func(ak string) bool { return ak == user },
		Version: versionString(),
		Backend: func(context.Context) any { return map[string]string{"data": where} },
		EnableWORM: func(ctx context.Context, bucket string) error {
			if _, err := backend.HeadBucket(ctx, bucket); err != nil {
				return err
			}
			return objectlock.EnableWORM(ctx, backend, bucket)
		},
		Logger: log,
	}
	if layers.bitrot != nil {
		adminCfg.Bitrot = layers.bitrot
	}
	adminAPI := admin.New(adminCfg)
	adminAPI.HandleKMS(svc.kms)
	adminAPI.HandleHeal(healer)
	handler := s3api.New(s3api.Config{
		Admin:               adminAPI,
		AllowSSECOverHTTP:   allowSSECHTTP,
		Backend:             backend,
		Credentials:         creds,
		Domains:             domains,
		Region:              f.region,
		Logger:              log,
		DisableSigV2:        noSigV2,
		CanBypassGovernance: func(ak string) bool { return bypass[ak] },
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", f.address)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}

	scheme := "http"
	var certFile, keyFile string
	if f.certsDir != "" {
		certFile, keyFile = filepath.Join(f.certsDir, "public.crt"), filepath.Join(f.certsDir, "private.key")
		for _, p := range []string{certFile, keyFile} {
			if _, err := os.Stat(p); err != nil {
				ln.Close()
				return fmt.Errorf("server: --certs-dir: %w", err)
			}
		}
		scheme = "https"
	}
	endpoint := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(os.Stderr, "Strata %s\nS3 endpoint: %s\nData:        %s\nAccessKey:   %s\nSecretKey:   %s\n",
		versionString(), endpoint, where, user, pass)
	if defaults {
		fmt.Fprintln(os.Stderr, "WARNING: these are the default credentials; set STRATA_ROOT_USER and STRATA_ROOT_PASSWORD to change them.")
	}
	if svc.kms != nil {
		fmt.Fprintf(os.Stderr, "KMS:         default key %s (SSE-S3 and SSE-KMS on)\n", svc.kms.DefaultKey())
	}
	if svc.worm {
		fmt.Fprintln(os.Stderr, "WORM:        on (objects that exist can never be overwritten, changed or deleted)")
	}
	fmt.Fprintf(os.Stderr, "Try: aws --endpoint-url %s s3 ls\n", endpoint)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if scheme == "https" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for requests in flight", "timeout", f.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
