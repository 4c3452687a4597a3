package config

import (
	"context"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/gcs"
)

func init() {
	register("gcs", backendType{
		config: func() any { return &gcs.Config{} },
		open: func(ctx context.Context, c any) (backends.Backend, error) {
			return gcs.New(ctx, *c.(*gcs.Config))
		},
	})
}
