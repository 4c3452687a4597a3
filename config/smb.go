package config

import (
	"context"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/smb"
)

func init() {
	register("smb", backendType{
		config: func() any { return &smb.Config{} },
		open: func(ctx context.Context, c any) (backends.Backend, error) {
			return smb.Open(ctx, *c.(*smb.Config))
		},
	})
}
