package version

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/version"
)

// Options are the flags of drill version.
type Options struct {
	// Output is the format of the result.
	Output output.Format
	// Out receives the result.
	Out io.Writer
}

// NewCommand returns the version command. Its flags are read through v,
// so firedrill.yaml and FIREDRILL_* apply as to every other command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Long: `Print the build's version, commit, Go version and platform: as text, or
with -o json or -o yaml as one document (version, commit, date, goVersion,
platform).`,
		Example: `  drill version
  drill version -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			return run(Options{Output: format, Out: c.OutOrStdout()})
		},
	}
	output.AddFlag(cmd.Flags())
	return cmd
}

func run(opts Options) error {
	info := version.Get()
	return output.Write(opts.Out, opts.Output, info, func(w io.Writer) error {
		if _, err := fmt.Fprintf(w, "drill %s\ncommit: %s\ngo: %s\nplatform: %s\n", info.Version, info.Commit, info.GoVersion, info.Platform); err != nil {
			return fmt.Errorf("writing version: %w", err)
		}
		return nil
	})
}
