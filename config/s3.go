package config

import (
	"context"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/s3"
)

func init() {
	register("s3", backendType{
		config: func() any { return &s3.Config{} },
		open: func(ctx context.Context, c any) (backends.Backend, error) {
			return s3.New(ctx, *c.(*s3.Config))
		},
	})
}
