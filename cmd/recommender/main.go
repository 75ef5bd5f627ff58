// Command recommender is the firedrill reference e-commerce recommender: data
// generation, training, evaluation, the OCI model store and the HTTP service.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/firedrill/firedrill/pkg/recommender/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	// The first signal starts a graceful stop; restoring the default
	// handlers then lets a second one kill the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := cli.NewCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}
