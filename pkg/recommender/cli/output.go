package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Output formats of the commands with a result.
const (
	outputText = "text"
	outputJSON = "json"
	outputYAML = "yaml"
)

// outputFlags is the -o/--output flag, by the project's rule for every
// command with a result: stdout carries the result, as text for people
// (the default) or as one JSON or YAML document for machines, and nothing
// else; progress and logs go to stderr. It mirrors drill's output rule so
// `drill recommender ...` behaves like the other drill commands.
type outputFlags struct {
	format string
}

func (o *outputFlags) add(f *pflag.FlagSet) {
	f.StringVarP(&o.format, "output", "o", outputText, "output format: text, json or yaml")
}

func (o *outputFlags) validate() error {
	switch o.format {
	case outputText, outputJSON, outputYAML:
		return nil
	default:
		return fmt.Errorf("--output must be text, json or yaml, got %q", o.format)
	}
}

// text returns where the result's text goes: stdout for text, nowhere
// when stdout carries a document.
func (o *outputFlags) text(stdout io.Writer) io.Writer {
	if o.format == outputText {
		return stdout
	}
	return io.Discard
}

// write writes v to w as one JSON or YAML document; for text it writes
// nothing, the command has printed its result through text already.
func (o *outputFlags) write(w io.Writer, v any) error {
	var b []byte
	switch o.format {
	case outputJSON:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		b = buf.Bytes()
	case outputYAML:
		var err error
		if b, err = yaml.Marshal(v); err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
	default:
		return nil
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
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
