package config

import (
	"context"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/azure"
)

func init() {
	register("azure", backendType{
		config: func() any { return &azure.Config{} },
		open: func(ctx context.Context, c any) (backends.Backend, error) {
			return azure.New(ctx, *c.(*azure.Config))
		},
	})
}
