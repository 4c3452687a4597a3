//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/config"
	"github.com/strata-storage/strata/mount"
)

// readyFDEnv names the descriptor on which a daemonized mount tells its
// parent that it is ready ("ok") or why it failed.
const readyFDEnv = "STRATA_MOUNT_READY_FD"

type mountFlags struct {
	endpoint    string
	region      string
	profile     string
	virtualHost bool
	config      string

	readOnly   bool
	allowOther bool
	uid, gid   int
	fileMode   string
	dirMode    string
	posixAttrs bool
	foreground bool
	cacheDir   string
	cacheSize  string
	attrTTL    time.Duration
	dirTTL     time.Duration
	timeout    time.Duration
	partSize   string
	uploads    int
	logLevel   string
	logFile    string
	debugFUSE  bool
}

func mountCmd() *cobra.Command {
	var f mountFlags
	cmd := &cobra.Command{
		Use:   "mount [flags] BUCKET[/PREFIX] MOUNTPOINT",
		Short: "Show a bucket as a directory through FUSE (Linux)",
		Long: `Mount a bucket, or a prefix of one, as a directory tree through FUSE.

With --endpoint (or AWS_ENDPOINT_URL) it talks S3 to Strata or any S3
service, with credentials from the usual AWS environment variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), AWS_PROFILE or --profile. With
--config it opens the backends of a Strata configuration file in this
process: no server, no HTTP.

Files are objects; directories are key prefixes ending in "/" (mkdir
writes an empty marker object). Files written from start to end stream out
as multipart uploads while they are written; other writes go through a
cache file under --cache-dir and are uploaded on close or fsync, which
return once the data is stored. Renaming a directory copies and deletes
every object below it. See docs/mount.md.

Without --foreground the mount runs in the background: the command
returns once the file system is ready, and the process stays until the
file system is unmounted (umount, fusermount3 -u). With --foreground,
Ctrl-C or SIGTERM unmounts, after pending uploads finish.`,
		Example: `  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... strata mount --endpoint http://127.0.0.1:9000 photos /mnt/photos
  strata mount --endpoint http://127.0.0.1:9000 --read-only photos/2024 /mnt/2024
  strata mount --config strata.yaml photos /mnt/photos
  fusermount3 -u /mnt/photos`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMount(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL, else AWS)")
	fl.StringVar(&f.region, "region", "", "S3 region (default: AWS_REGION, the profile's, else us-east-1)")
	fl.StringVar(&f.profile, "profile", "", "AWS profile of the shared config files")
	fl.BoolVar(&f.virtualHost, "virtual-host", false, "address the bucket as BUCKET.endpoint instead of endpoint/BUCKET")
	fl.StringVar(&f.config, "config", "", "Strata configuration file: open its backends in this process instead of talking S3")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount read-only")
	fl.BoolVar(&f.allowOther, "allow-other", false, "let other users use the mount (non-root needs user_allow_other in /etc/fuse.conf)")
	fl.IntVar(&f.uid, "uid", -1, "owner of the files (default: the user who mounts)")
	fl.IntVar(&f.gid, "gid", -1, "group of the files (default: the user's group)")
	fl.StringVar(&f.fileMode, "file-mode", "0644", "permissions of files (unless --posix-attrs finds some)")
	fl.StringVar(&f.dirMode, "dir-mode", "0755", "permissions of directories (unless --posix-attrs finds some)")
	fl.BoolVar(&f.posixAttrs, "posix-attrs", false, "keep mode, uid, gid and mtime in object metadata (x-amz-meta-mode/uid/gid/mtime, as s3fs)")
	fl.BoolVarP(&f.foreground, "foreground", "f", false, "stay in the foreground (Ctrl-C unmounts) instead of running in the background")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "where the write-back cache files go (default: $XDG_CACHE_HOME/strata or ~/.cache/strata, else the temp dir)")
	fl.StringVar(&f.cacheSize, "cache-size", "4GiB", "limit of the write-back cache; a write past it fails with ENOSPC")
	fl.DurationVar(&f.attrTTL, "attr-ttl", time.Minute, "how long file attributes are cached (0: not cached)")
	fl.DurationVar(&f.dirTTL, "dir-ttl", time.Minute, "how long directory listings and missing names are cached (0: not cached)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "a store call silent for this long fails with EIO")
	fl.StringVar(&f.partSize, "part-size", "8MiB", "multipart upload part size (at least 5MiB)")
	fl.IntVar(&f.uploads, "uploads", 4, "parts of one file uploaded at once")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFile, "log-file", "", "write logs to this file (default: stderr; nowhere once in the background)")
	fl.BoolVar(&f.debugFUSE, "debug-fuse", false, "log every FUSE request (very verbose)")
	return cmd
}

// parseSize reads a byte count: 123, 64KiB, 8MiB, 4GiB, 1TiB (also K, M,
// G, T and KB, MB, GB, TB as powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (for example 512MiB, 4GiB)", s)
	}
	return int64(n * float64(mult)), nil
}

func parseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("%q is not an octal mode (for example 0644)", s)
	}
	return uint32(m), nil
}

// ttl turns a flag's 0 ("not cached") into the negative the library takes.
func ttl(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "strata")
	}
	return os.TempDir()
}

func runMount(ctx context.Context, f mountFlags, args []string) error {
	if !f.foreground && os.Getenv(readyFDEnv) == "" {
		return daemonize()
	}
	err := serveMount(ctx, f, args)
	if err != nil {
		ready(err)
	}
	return err
}

// ready tells a waiting parent that the mount is ready (err nil) or why
// it failed; nothing when there is no parent waiting.
func ready(err error) {
	fdv := os.Getenv(readyFDEnv)
	if fdv == "" {
		return
	}
	os.Unsetenv(readyFDEnv)
	fd, perr := strconv.Atoi(fdv)
	if perr != nil {
		return
	}
	w := os.NewFile(uintptr(fd), "ready")
	if err == nil {
		fmt.Fprintln(w, "ok")
	} else {
		fmt.Fprintln(w, err.Error())
	}
	w.Close()
}

// daemonize runs this command again with --foreground, detached in a
// session of its own, and returns once that process reports the mount
// ready (or fails).
func daemonize() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return fmt.Errorf("mount: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(exe, append(os.Args[1:], "--foreground")...)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("mount: %w", err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	line, rerr := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "ok" {
		return nil
	}
	if line != "" {
		return errors.New(line)
	}
	// The pipe closed without a word: the process died.
	select {
	case err := <-exited:
		return fmt.Errorf("mount: the background process exited (%v) before the file system was ready; run with --foreground to see why", err)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("mount: no word from the background process (%v)", rerr)
	}
}

func newMountLogger(f mountFlags) (*slog.Logger, io.Closer, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %w", err)
	}
	var out io.Writer = os.Stderr
	var closer io.Closer = io.NopCloser(nil)
	if f.logFile != "" {
		lf, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		out, closer = lf, lf
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})), closer, nil
}

// openStore opens the bucket: in this process through a configuration
// file, or over S3.
func openStore(ctx context.Context, f mountFlags, bucket string) (mount.Store, func(), error) {
	if f.config != "" {
		if f.endpoint != "" {
			return nil, nil, errors.New("give either --config or --endpoint, not both")
		}
		ns, err := config.Open(ctx, f.config)
		if err != nil {
			return nil, nil, err
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := ns.Discover(dctx); err != nil {
			slog.Warn("some backends could not be searched for buckets created on them", "err", err)
		}
		var b backends.Backend = ns
		closer := func() {
			if c, ok := b.(io.Closer); ok {
				c.Close()
			}
		}
		return mount.NewBackendStore(b, bucket), closer, nil
	}
	s, err := mount.NewS3Store(ctx, bucket, mount.S3Options{
		Endpoint: f.endpoint, Region: f.region, Profile: f.profile, VirtualHost: f.virtualHost,
	})
	if err != nil {
		return nil, nil, err
	}
	return s, func() {}, nil
}

func serveMount(ctx context.Context, f mountFlags, args []string) error {
	log, logCloser, err := newMountLogger(f)
	if err != nil {
		return err
	}
	defer logCloser.Close()

	bucket, prefix, _ := strings.Cut(strings.Trim(args[0], "/"), "/")
	if !backends.ValidBucketName(bucket) {
		return fmt.Errorf("mount: %q is not a valid bucket name", bucket)
	}
	if prefix != "" {
		prefix = strings.TrimSuffix(prefix, "/") + "/"
	}
	mnt, err := filepath.Abs(args[1])
	if err != nil {
		return err
	}
	if fi, err := os.Stat(mnt); err != nil || !fi.IsDir() {
		return fmt.Errorf("mount: the mount point %s is not a directory", mnt)
	}
	opt := mount.Options{
		Prefix: prefix, ReadOnly: f.readOnly, AllowOther: f.allowOther,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		AttrTTL: ttl(f.attrTTL), DirTTL: ttl(f.dirTTL), PosixAttrs: f.posixAttrs,
		Uploads: f.uploads, Name: "strata:" + strings.Trim(args[0], "/"),
		Debug: f.debugFUSE, Logger: log,
	}
	if f.uid >= 0 {
		opt.UID = uint32(f.uid)
	}
	if f.gid >= 0 {
		opt.GID = uint32(f.gid)
	}
	if opt.FileMode, err = parseMode(f.fileMode); err != nil {
		return fmt.Errorf("--file-mode: %w", err)
	}
	if opt.DirMode, err = parseMode(f.dirMode); err != nil {
		return fmt.Errorf("--dir-mode: %w", err)
	}
	if opt.CacheSize, err = parseSize(f.cacheSize); err != nil {
		return fmt.Errorf("--cache-size: %w", err)
	}
	if opt.PartSize, err = parseSize(f.partSize); err != nil {
		return fmt.Errorf("--part-size: %w", err)
	}
	if opt.PartSize < 5<<20 {
		return errors.New("--part-size: S3 takes parts of at least 5MiB")
	}
	opt.CacheDir = f.cacheDir
	if opt.CacheDir == "" {
		opt.CacheDir = defaultCacheDir()
	}
	if opt.CacheDir, err = filepath.Abs(opt.CacheDir); err != nil {
		return err
	}

	store, closeStore, err := openStore(ctx, f, bucket)
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	defer closeStore()
	store = mount.WithTimeout(store, f.timeout)
	if err := mount.CheckBucket(ctx, store, prefix); err != nil {
		return fmt.Errorf("mount: cannot list %s: %w", args[0], err)
	}
	fsys, err := mount.Mount(mnt, store, opt)
	if err != nil {
		return err
	}
	log.Info("mounted", "bucket", bucket, "prefix", prefix, "at", mnt)
	if os.Getenv(readyFDEnv) != "" {
		// In the background: hold no directory busy.
		os.Chdir("/")
	}
	ready(nil)

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		fsys.Wait()
		close(done)
	}()
	tries := 0
	for {
		select {
		case <-done:
			log.Info("unmounted", "at", mnt)
			return nil
		case <-sigs:
			tries++
			if tries > 1 {
				// Asked again: detach now; the files still open keep
				// working until closed, then the process exits.
				log.Warn("lazy unmount", "at", mnt)
				fsys.Sync()
				if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
					exec.Command("fusermount3", "-u", "-z", mnt).Run()
				}
				continue
			}
			if err := fsys.Unmount(); err != nil {
				fmt.Fprintf(os.Stderr, "strata mount: cannot unmount %s (%v): files are open in it; close them, or press Ctrl-C again to detach it\n", mnt, err)
			}
		}
	}
}
