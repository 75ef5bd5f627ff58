package dashboards_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/cmd"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	reccli "github.com/firedrill/firedrill/pkg/recommender/cli"
)

// envAsDrill makes the test binary act as the drill binary: the
// Prometheus test runs drill run as a separate process, and the local
// sandbox re-executes it as its recommender replicas, model stores and
// front door.
const envAsDrill = "FIREDRILL_TEST_AS_DRILL"

func TestMain(m *testing.M) {
	if os.Getenv(envAsDrill) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := cmd.NewRootCommand(cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr},
			func() *cobra.Command { return reccli.NewCommand() },
			func() *cobra.Command { return frontdoor.NewCommand() },
		)
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil && !exitcode.IsReported(err) {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(exitcode.Of(err))
	}
	os.Exit(m.Run())
}
