package version

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/version"
)

// Options are the flags of drill version.
type Options struct {
	// Output is text or json.
	Output string
	// Out receives the version.
	Out io.Writer
}

// NewCommand returns the version command.
func NewCommand() *cobra.Command {
	opts := Options{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Example: `  drill version
  drill version -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Out = c.OutOrStdout()
			return run(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func run(opts Options) error {
	info := version.Get()
	switch opts.Output {
	case "json":
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			return fmt.Errorf("writing version: %w", err)
		}
		return nil
	case "text":
		_, err := fmt.Fprintf(opts.Out, "drill %s\ncommit: %s\ngo: %s\nplatform: %s\n", info.Version, info.Commit, info.GoVersion, info.Platform)
		if err != nil {
			return fmt.Errorf("writing version: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("--output must be text or json, got %q", opts.Output)
	}
}
