package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firedrill/firedrill/pkg/cmd/output"
)

// outputFlags is the -o/--output flag, by drill's rule for every command
// with a result (pkg/cmd/output): stdout carries the result, as text for
// people (the default) or as one JSON or YAML document for machines, and
// nothing else; progress and logs go to stderr.
type outputFlags struct {
	format string
}

func (o *outputFlags) add(f *pflag.FlagSet) {
	f.StringVarP(&o.format, "output", "o", string(output.Text), "output format: text, json or yaml")
}

func (o *outputFlags) validate() error {
	_, err := output.Parse(o.format)
	return err //nolint:wrapcheck // output.Parse names the flag
}

// text returns where the result's text goes: stdout for text, nowhere
// when stdout carries a document.
func (o *outputFlags) text(stdout io.Writer) io.Writer {
	if f, _ := output.Parse(o.format); f.Machine() {
		return io.Discard
	}
	return stdout
}

// write writes v to w as one JSON or YAML document; for text it writes
// nothing, the command has printed its result through text already.
func (o *outputFlags) write(w io.Writer, v any) error {
	f, err := output.Parse(o.format)
	if err != nil {
		return err //nolint:wrapcheck // output.Parse names the flag
	}
	return output.Write(w, f, v, func(io.Writer) error { return nil }) //nolint:wrapcheck // output.Write wraps
}

// stderrOf writes to the command's stderr as resolved at write time, after
// a parent or a test has set it.
type stderrOf struct{ cmd *cobra.Command }

func (s stderrOf) Write(p []byte) (int, error) {
	n, err := s.cmd.ErrOrStderr().Write(p)
	if err != nil {
		return n, fmt.Errorf("writing to stderr: %w", err)
	}
	return n, nil
}
