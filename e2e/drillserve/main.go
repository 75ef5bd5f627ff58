//go:build e2e

// Command drillserve runs drill serve in a cluster for the e2e tests: the
// function the serve command calls for cluster mode
// (pkg/cmd/serve.RunCluster), with the flags it reads, and no HTTP API.
// Once the serve command mounts cluster mode, the tests run drill serve
// itself instead (startServe in e2e/serve_helpers_test.go).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/cmd/serve"
	"github.com/firedrill/firedrill/pkg/log"
)

func main() {
	fs := pflag.NewFlagSet("drillserve", pflag.ExitOnError)
	platforms.AddFlags(fs)
	fs.String("report-dir", "reports", "directory the reports are written under")
	fs.String("log-level", "info", "log level")
	serve.AddClusterFlags(fs)
	_ = fs.Parse(os.Args[1:]) // ExitOnError
	v := viper.New()
	if err := v.BindPFlags(fs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger, err := log.New(os.Stderr, log.Options{Level: v.GetString("log-level"), Format: log.FormatJSON})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.FromSlogHandler(logger.Handler()))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve.RunCluster(log.IntoContext(ctx, logger), serve.ClusterOptionsFromViper(v), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
