//go:build !linux

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func mountCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "mount BUCKET[/PREFIX] MOUNTPOINT",
		Short:              "Show a bucket as a directory through FUSE (Linux only)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("mount: strata mount uses FUSE and runs on Linux only; on this system, use an S3 client or a Linux host")
		},
	}
}
