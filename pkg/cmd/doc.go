// Package cmd builds the drill command tree. Each subcommand lives in its own
// package with its flags in an options struct and a run(ctx, opts) function;
// this package wires them together with configuration (viper: flags, then
// FIREDRILL_* environment variables, then firedrill.yaml, then defaults) and
// the logger.
package cmd
