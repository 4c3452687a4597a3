// Command strata serves the Amazon S3 API over storage people already have.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			return "dev-" + rev + dirty
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

func main() {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Strata serves the Amazon S3 API over directories, NAS shares, clouds and drives",
		Long: `Strata is one binary that serves the Amazon S3 API over storage you already
have: a directory tree on a local disk or NAS mount (files stay plain files),
buckets of S3-compatible services, Azure Blob and Google Cloud Storage behind
one endpoint, and buckets mounted as directories on Linux.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	server := serverCmd()
	root.AddCommand(server, versionCmd(), mountCmd(), benchCmd(), adminCmd())
	// The root help lists every flag, so that one --help tells everything.
	root.Long += "\n\nFlags of strata server:\n" + server.Flags().FlagUsages() +
		"\nEnvironment of strata server:\n" + serverEnvHelp
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of strata",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "strata %s\n", versionString())
		},
	}
}
