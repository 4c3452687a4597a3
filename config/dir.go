package config

import (
	"context"
	"errors"
	"os"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
)

// DirConfig configures a dir backend: a directory tree whose top-level
// folders are buckets.
type DirConfig struct {
	Path string `yaml:"path"`
	// NoXattrs keeps metadata in sidecar files even where the file system
	// has extended attributes.
	NoXattrs bool `yaml:"no_xattrs"`
}

func init() {
	register("dir", backendType{
		config: func() any { return &DirConfig{} },
		open: func(ctx context.Context, c any) (backends.Backend, error) {
			cfg := c.(*DirConfig)
			if cfg.Path == "" {
				return nil, errors.New("path is missing")
			}
			if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
				return nil, err
			}
			return dir.Open(cfg.Path, dir.Options{NoXattrs: cfg.NoXattrs})
		},
	})
}
