// Package nfs is the backend that serves an NFSv3 export: Strata is the NFS
// client itself (no kernel mount), every bucket is a folder of the export
// and every object a plain file at its key. The object logic is
// backends/fsstore's; this package gives it the export as an fsstore.FS.
//
// Writes are sent UNSTABLE and made durable with COMMIT before fsstore
// publishes them by RENAME; a server that restarted in between (a new
// write verifier) makes the write fail rather than publish lost data.
package nfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends/fsstore"
	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// Config is the configuration of an NFS backend, e.g. in YAML
// `{type: nfs, host: filer1, export: /vol/data}`.
type Config struct {
	Host   string `yaml:"host"`
	Export string `yaml:"export"`
	// Path is an optional folder of the export (slash-separated,
	// relative to the export) that holds the buckets; it must exist.
	Path string `yaml:"path"`
	// UID and GID are sent as the AUTH_UNIX credential (default 0, which
	// an export with root squash maps to its anonymous user).
	UID uint32 `yaml:"uid"`
	GID uint32 `yaml:"gid"`
	// Port and MountPort are the TCP ports of the NFS and MOUNT services;
	// zero asks the portmapper on port 111.
	Port      int `yaml:"port"`
	MountPort int `yaml:"mount_port"`
	// ReservedPort connects from a source port below 1024, which exports
	// marked "secure" (the Linux default) require; it needs root or
	// CAP_NET_BIND_SERVICE.
	ReservedPort bool `yaml:"reserved_port"`
	// MaxConns bounds the connections to the server (default 8).
	MaxConns int `yaml:"max_conns"`
	// Timeout bounds every call, retries and reconnection included
	// (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// ReadGrace is how long a file that an overwrite or a delete
	// replaced stays readable (under a temporary name) for readers that
	// had opened it (default 5m; negative: not kept).
	ReadGrace time.Duration `yaml:"read_grace"`
	// TempMaxAge: leftover temporary files older than this are removed
	// at open (default one hour).
	TempMaxAge time.Duration `yaml:"temp_max_age"`
}

func (c *Config) defaults() error {
	if c.Host == "" {
		return errors.New("nfs: host is required")
	}
	if c.Export == "" {
		return errors.New("nfs: export is required")
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.ReadGrace == 0 {
		c.ReadGrace = 5 * time.Minute
	}
	return nil
}

// Open mounts the export and returns the backend that serves it.
func Open(ctx context.Context, cfg Config) (*fsstore.Store, error) {
	fsys, err := NewFS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := fsstore.New(fsys, fsstore.Options{NoXattrs: true, TempMaxAge: cfg.TempMaxAge})
	if err != nil {
		fsys.Close()
		return nil, err
	}
	return s, nil
}

// NewFS mounts the export and returns it as an fsstore.FS.
func NewFS(ctx context.Context, cfg Config) (*FS, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	machine, _ := os.Hostname()
	if machine == "" {
		machine = "strata"
	}
	cred := authUnixCred(machine, cfg.UID, cfg.GID)

	port, mport := cfg.Port, cfg.MountPort
	if mport == 0 {
		p, err := getPort(cfg.Host, nfsc.MountProg, nfsc.MountVers, timeout)
		if err != nil {
			return nil, fmt.Errorf("nfs: finding the MOUNT service of %s: %w", cfg.Host, err)
		}
		mport = p
	}
	if port == 0 {
		p, err := getPort(cfg.Host, nfsc.Nfs3Prog, nfsc.Nfs3Vers, timeout)
		if err != nil {
			return nil, fmt.Errorf("nfs: finding the NFS service of %s: %w", cfg.Host, err)
		}
		port = p
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mp := newPool("mount", dialer{addr: hostPort(cfg.Host, mport), reserved: cfg.ReservedPort}, 1, timeout)
	root, err := mount(mp, cred, cfg.Export)
	mp.close()
	if err != nil {
		return nil, err
	}
	c := &client{
		nfs:  newPool("nfs", dialer{addr: hostPort(cfg.Host, port), reserved: cfg.ReservedPort}, cfg.MaxConns, cfg.Timeout),
		cred: cred,
	}
	f := &FS{c: c, root: root, cfg: cfg}
	f.cache.TTL = dirCacheTTL
	if p := strings.Trim(cfg.Path, "/"); p != "" {
		fh, a, err := f.walk(p, true)
		if err == nil && a.typ != nfsc.NF3Dir {
			err = errors.New("not a directory")
		}
		if err != nil {
			c.nfs.close()
			return nil, fmt.Errorf("nfs: path %q of %s:%s: %w", cfg.Path, cfg.Host, cfg.Export, err)
		}
		f.root = fh
	}
	info, err := c.fsinfo(f.root)
	if err != nil {
		c.nfs.close()
		return nil, err
	}
	c.rtsize = ioSize(info.rtpref, info.rtmax)
	c.wtsize = ioSize(info.wtpref, info.wtmax)
	return f, nil
}

// ioSize picks the transfer size: the server's preferred size, at least
// 64 KiB and at most 1 MiB, within its maximum.
func ioSize(pref, limit uint32) uint32 {
	n := min(max(pref, 64<<10), 1<<20)
	if limit > 0 && n > limit {
		n = limit
	}
	if n < 4096 {
		n = 4096
	}
	return n
}
