package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Format is how a command writes its result.
type Format string

// The formats.
const (
	Text Format = "text"
	JSON Format = "json"
	YAML Format = "yaml"
)

// AddFlag adds -o/--output to a command's flags.
func AddFlag(f *pflag.FlagSet) {
	f.StringP("output", "o", string(Text), "output format: text, json or yaml")
}

// Parse checks a --output value.
func Parse(s string) (Format, error) {
	switch f := Format(s); f {
	case Text, JSON, YAML:
		return f, nil
	case "":
		return Text, nil
	}
	return "", fmt.Errorf("--output must be text, json or yaml, got %q", s)
}

// Machine says whether the format is for machines.
func (f Format) Machine() bool { return f == JSON || f == YAML }

// Write writes v to w as JSON or YAML, or, for text, calls text.
func Write(w io.Writer, f Format, v any, text func(io.Writer) error) error {
	switch f {
	case JSON:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		_, err := w.Write(buf.Bytes())
		return wrap(err)
	case YAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = w.Write(data)
		return wrap(err)
	}
	return text(w)
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}
