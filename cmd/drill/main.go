// Command drill runs disaster-recovery drills against AI inference services.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/firedrill/firedrill/pkg/cmd"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := cmd.NewRootCommand(cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil && !exitcode.IsReported(err) {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	os.Exit(exitcode.Of(err))
}
