// Command drill runs disaster-recovery drills against AI inference services.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/cmd"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	reccli "github.com/firedrill/firedrill/pkg/recommender/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := cmd.NewRootCommand(cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr},
		// The local sandbox re-executes this binary as its recommender
		// replicas, model stores and front door.
		func() *cobra.Command { return reccli.NewCommand() },
		func() *cobra.Command { return frontdoor.NewCommand() },
	)
	stopProfiles := startProfiles()
	err := root.ExecuteContext(ctx)
	stopProfiles()
	stop()
	if err != nil && !exitcode.IsReported(err) {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	os.Exit(exitcode.Of(err))
}
