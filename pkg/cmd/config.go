package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/log"
)

// configNames are the names a config file is found by, in the working
// directory and then in $HOME/.config/firedrill.
var configNames = []string{"firedrill.yaml", "firedrill.yml"}

// loadConfig binds c's flags and the FIREDRILL_* environment into v and
// reads the config file, which may set only keys: the flag names of the
// commands that read their flags through v, with values their flags
// accept. Precedence: flags > env > file > defaults. A bad file is an
// error and v reads nothing from it.
func loadConfig(v *viper.Viper, c *cobra.Command, keys configKeys) error {
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	var bindErr error
	bind := func(f *pflag.Flag) {
		if err := v.BindPFlag(f.Name, f); err != nil && bindErr == nil {
			bindErr = fmt.Errorf("binding flag --%s: %w", f.Name, err)
		}
	}
	c.Flags().VisitAll(bind)
	c.InheritedFlags().VisitAll(bind)
	if bindErr != nil {
		return bindErr
	}
	path, data, err := findConfig(v.GetString("config"))
	if err != nil || path == "" {
		return err
	}
	if err := checkConfig(path, data, keys); err != nil {
		return err
	}
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("reading config %s: %w", path, err)
	}
	return nil
}

// findConfig reads the file --config names or, without one, the first
// firedrill.yaml found; it returns an empty path when there is none.
func findConfig(explicit string) (string, []byte, error) {
	if explicit != "" {
		data, err := os.ReadFile(explicit) //nolint:gosec // the user's config.
		if err != nil {
			return "", nil, fmt.Errorf("reading config %s: %w", explicit, err)
		}
		return explicit, data, nil
	}
	dirs := []string{"."}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".config", "firedrill"))
	}
	for _, dir := range dirs {
		for _, name := range configNames {
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path) //nolint:gosec // the user's config.
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return "", nil, fmt.Errorf("reading config %s: %w", path, err)
			}
			return path, data, nil
		}
	}
	return "", nil, nil
}

// configKeys maps each key a config file may set to the types of the
// flags of that name (pflag's Value.Type: string, bool, duration, ...).
type configKeys map[string][]string

// keysOf collects the flags of cmds and their subcommands. help is
// cobra's and config names the file itself: neither is a key.
func keysOf(flags *pflag.FlagSet, cmds []*cobra.Command) configKeys {
	keys := configKeys{}
	add := func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "config" {
			return
		}
		if t := f.Value.Type(); !slices.Contains(keys[f.Name], t) {
			keys[f.Name] = append(keys[f.Name], t)
		}
	}
	flags.VisitAll(add)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range cmds {
		walk(c)
	}
	return keys
}

// names lists the keys, sorted.
func (k configKeys) names() []string {
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// configProblem is one thing wrong with a config file.
type configProblem struct {
	line, column int
	key, message string
}

// ConfigError is a config file that sets unknown keys or bad values;
// nothing runs.
type ConfigError struct {
	// File is the config file's path.
	File string
	// Problems are file:line:column: key: message lines, in file order.
	Problems []string
	// Keys are the valid keys, listed when a key is unknown.
	Keys []string
}

// Error names the file and every problem, one per line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config %s is invalid; nothing was run:", e.File)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p)
	}
	if len(e.Keys) > 0 {
		b.WriteString("\nvalid keys: " + strings.Join(e.Keys, ", "))
	}
	return b.String()
}

// valueChecks check the values of keys that take one of a few words.
var valueChecks = map[string]func(string) error{
	"output": func(s string) error {
		_, err := output.Parse(s)
		return err
	},
	"log-level": func(s string) error {
		_, err := log.ParseLevel(s)
		return err
	},
	"log-format": func(s string) error {
		_, err := log.New(io.Discard, log.Options{Format: log.Format(s)})
		return err
	},
}

// checkConfig checks a config file strictly: one YAML mapping of known
// keys, each set once, to values their flags accept. It reports every
// problem at once.
func checkConfig(path string, data []byte, keys configKeys) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil // empty, or only comments
	} else if err != nil {
		return fmt.Errorf("reading config %s: %w", path, err)
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		return &ConfigError{File: path, Problems: []string{fmt.Sprintf("%s:%d:%d: only one YAML document is allowed", path, second.Line, second.Column)}}
	case !errors.Is(err, io.EOF):
		return fmt.Errorf("reading config %s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &ConfigError{File: path, Problems: []string{fmt.Sprintf("%s:%d:%d: must be a mapping of keys to values, got %s", path, root.Line, root.Column, kindOf(root))}}
	}
	var problems []configProblem
	unknown := false
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, val := root.Content[i], root.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			problems = append(problems, configProblem{k.Line, k.Column, k.Value, fmt.Sprintf("set twice (first on line %d)", first)})
			continue
		}
		seen[k.Value] = k.Line
		if k.Value == "config" {
			problems = append(problems, configProblem{k.Line, k.Column, k.Value, "--config names the config file; it cannot be set in it"})
			continue
		}
		types, known := keys[k.Value]
		if !known {
			unknown = true
			problems = append(problems, configProblem{k.Line, k.Column, "", fmt.Sprintf("unknown key %q%s", k.Value, suggest(k.Value, keys))})
			continue
		}
		if msg := checkValue(k.Value, val, types); msg != "" {
			problems = append(problems, configProblem{val.Line, val.Column, k.Value, msg})
		}
	}
	if len(problems) == 0 {
		return nil
	}
	e := &ConfigError{File: path}
	for _, p := range problems {
		line := fmt.Sprintf("%s:%d:%d: ", path, p.line, p.column)
		if p.key != "" {
			line += p.key + ": "
		}
		e.Problems = append(e.Problems, line+p.message)
	}
	if unknown {
		e.Keys = keys.names()
	}
	return e
}

// checkValue says what is wrong with a key's value, or "" when one of the
// key's flags accepts it. A null value leaves the key unset.
func checkValue(key string, n *yaml.Node, types []string) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return ""
	case n.Kind == yaml.SequenceNode && slices.ContainsFunc(types, isList):
		return ""
	case n.Kind != yaml.ScalarNode:
		return "must be a single value, got " + kindOf(n)
	}
	var msg string
	for _, t := range types {
		if msg = checkScalar(t, n.Value); msg == "" {
			break
		}
	}
	if msg != "" {
		return msg
	}
	if check, ok := valueChecks[key]; ok {
		if err := check(n.Value); err != nil {
			return err.Error()
		}
	}
	return ""
}

// checkScalar checks a value against a flag type as viper will read it.
func checkScalar(typ, s string) string {
	var err error
	want := typ
	switch typ {
	case "bool":
		_, err = strconv.ParseBool(s)
		want = "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		_, err = strconv.ParseInt(s, 0, 64)
		want = "an integer"
	case "float32", "float64":
		_, err = strconv.ParseFloat(s, 64)
		want = "a number"
	case "duration":
		_, err = time.ParseDuration(s)
		want = "a duration (90s, 10m, 1h30m)"
	}
	if err != nil {
		return fmt.Sprintf("must be %s, got %q", want, s)
	}
	return ""
}

// isList says whether a flag type takes a list (stringSlice, intSlice, ...).
func isList(typ string) bool {
	return strings.HasSuffix(typ, "Slice") || strings.HasSuffix(typ, "Array")
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// suggest offers the closest key to a misspelt one.
func suggest(name string, keys configKeys) string {
	best, bestDist := "", 3
	for k := range keys {
		if d := levenshtein(strings.ToLower(name), k); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
