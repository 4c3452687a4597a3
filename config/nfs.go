package config

import (
	"context"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/nfs"
)

func init() {
	register("nfs", backendType{
		config: func() any { return &nfs.Config{} },
		open: func(ctx context.Context, c any) (backends.Backend, error) {
			return nfs.Open(ctx, *c.(*nfs.Config))
		},
	})
}
