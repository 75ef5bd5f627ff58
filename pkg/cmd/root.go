package cmd

import (
	"io"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/firedrill/firedrill/pkg/cmd/abort"
	"github.com/firedrill/firedrill/pkg/cmd/cleanup"
	"github.com/firedrill/firedrill/pkg/cmd/reports"
	"github.com/firedrill/firedrill/pkg/cmd/run"
	"github.com/firedrill/firedrill/pkg/cmd/sandbox"
	"github.com/firedrill/firedrill/pkg/cmd/serve"
	"github.com/firedrill/firedrill/pkg/cmd/trigger"
	"github.com/firedrill/firedrill/pkg/cmd/validate"
	versioncmd "github.com/firedrill/firedrill/pkg/cmd/version"
	"github.com/firedrill/firedrill/pkg/log"
)

// EnvPrefix prefixes every environment variable firedrill reads.
const EnvPrefix = "FIREDRILL"

// Streams are the command tree's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Extension adds a subcommand to the tree; main uses it to mount command
// trees that live outside this package (the recommender).
type Extension func() *cobra.Command

// NewRootCommand builds the drill command tree.
func NewRootCommand(streams Streams, extensions ...Extension) *cobra.Command {
	v := viper.New()
	// The commands that read their flags through v: their flags are the
	// keys of firedrill.yaml.
	configured := []*cobra.Command{
		validate.NewCommand(v),
		run.NewCommand(v),
		cleanup.NewCommand(v),
		reports.NewCommand(v),
		versioncmd.NewCommand(v),
		sandbox.NewCommand(v),
		serve.NewCommand(v),
		trigger.NewCommand(v),
		abort.NewCommand(v),
	}
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Disaster-recovery drills for AI inference services",
		Long: `drill runs disaster-recovery drills against AI inference services and
proves, with measured numbers, how fast they recover.

A drill plan (kind DrillPlan, YAML) names the system under test, the
synthetic load to drive at it, the faults to inject and the objectives
(RTO, RPO, availability, p99) every fault is judged against.

Configuration comes from flags, then FIREDRILL_* environment variables
(FIREDRILL_LOG_LEVEL=debug), then a firedrill.yaml file (in the working
directory, $HOME/.config/firedrill, or --config), then defaults. The file's
keys are the flag names of any drill command (output: json, state-dir:
/var/lib/firedrill); an unknown key or a bad value is an error naming its
line, and nothing runs.

Every command writes its result on stdout (text, or with -o json or -o yaml
one document) and progress and logs on stderr.`,
		Example: `  # Check plans without running them
  drill validate drills/

  # Show a plan with every default filled in
  drill validate --show drills/quickstart.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			if err := loadConfig(v, c, keysOf(c.Root().PersistentFlags(), configured)); err != nil {
				return err
			}
			logger, err := log.New(streams.Err, log.Options{Level: v.GetString("log-level"), Format: log.Format(v.GetString("log-format"))})
			if err != nil {
				return err
			}
			c.SetContext(log.IntoContext(c.Context(), logger))
			// controller-runtime (the kubernetes platform) logs through logr;
			// route it into the same logger.
			ctrllog.SetLogger(logr.FromSlogHandler(logger.Handler()))
			return nil
		},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.Err)
	pf := cmd.PersistentFlags()
	pf.String("config", "", "configuration file (default: ./firedrill.yaml or $HOME/.config/firedrill/firedrill.yaml when present)")
	pf.String("log-level", "info", "log level: debug, info, warn or error")
	pf.String("log-format", "text", "log format: text or json")

	cmd.AddCommand(configured...)
	for _, ext := range extensions {
		cmd.AddCommand(ext())
	}
	return cmd
}
