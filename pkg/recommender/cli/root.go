package cli

import (
	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/log"
)

// rootOptions are the flags shared by every recommender command.
type rootOptions struct {
	logLevel  string
	logFormat string
}

// NewCommand returns the `recommender` command tree: gen, train and eval
// build a model; push and pull move it through an OCI registry; serve runs
// the HTTP service; modelstore runs a registry. The firedrill CLI mounts the
// same tree as `drill recommender` so the local sandbox re-executes one
// binary.
func NewCommand() *cobra.Command {
	o := &rootOptions{}
	cmd := &cobra.Command{
		Use:   "recommender",
		Short: "The firedrill reference e-commerce recommender",
		Long: `The reference recommender is the system under test of firedrill drills: a
synthetic catalogue and interaction generator, trained recommendation and
search models, an OCI model store, and an HTTP service with hot reload, a
degraded popularity fallback, health, readiness and Prometheus metrics.

  recommender gen --out /tmp/reco/data
  recommender train --data /tmp/reco/data --out /tmp/reco/model
  recommender modelstore --root /tmp/reco/registry --addr 127.0.0.1:5000 &
  recommender push --model /tmp/reco/model --ref 127.0.0.1:5000/recommender:prod
  recommender serve --model-ref 127.0.0.1:5000/recommender:prod`,
		SilenceUsage: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := log.New(cmd.ErrOrStderr(), log.Options{Level: o.logLevel, Format: log.Format(o.logFormat)})
			if err != nil {
				return err
			}
			cmd.SetContext(log.IntoContext(cmd.Context(), logger))
			return nil
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	cmd.AddCommand(
		NewGenCommand(),
		NewTrainCommand(),
		NewEvalCommand(),
		NewImportCommand(),
		NewPushCommand(),
		NewPullCommand(),
		NewServeCommand(),
		NewModelstoreCommand(),
	)
	return cmd
}
