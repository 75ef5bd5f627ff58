package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/plan"
)

// Options are the flags of drill validate.
type Options struct {
	// Args are files, directories or "-".
	Args []string
	// Output is the format of the result.
	Output output.Format
	// Show adds each plan with its defaults applied: as YAML documents in
	// text, or in each plan's "plan" field with -o json or yaml.
	Show bool
	// Stdin is read for "-".
	Stdin io.Reader
	// Out receives the report.
	Out io.Writer
}

// NewCommand returns the validate command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR|- ...",
		Short: "Check drill plans without running them",
		Long: `Load drill plans strictly and report every problem at once.

Unknown fields, wrong types, duplicate keys, bad durations, percentages and
cron expressions, contradictory objectives and steps that exceed the plan's
own safety limits are all errors, each reported as

  file:line:column: field.path: message

Directories are searched for *.yaml and *.yml files (not recursively); "-"
reads standard input. Exit status is 0 when every plan is valid, 1 when any
is not.

With -o json or -o yaml the result is one document: valid, plans (name,
file, document, platform, steps, hash) and problems (file, line, column,
field, message). --show prints each plan with every default filled in: as
YAML documents for people, or, with -o json or yaml, in each plan's "plan"
field of the same document.`,
		Example: `  # Validate every example plan
  drill validate drills/

  # Print a plan with its defaults applied
  drill validate --show drills/quickstart.yaml

  # Machine-readable result
  drill validate -o json drills/quickstart.yaml

  # The defaulted plan for a program
  drill validate --show -o json drills/quickstart.yaml | jq '.plans[0].plan.spec'

  # From standard input
  cat plan.yaml | drill validate -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			opts := Options{
				Args:   args,
				Output: format,
				Show:   v.GetBool("show"),
				Stdin:  c.InOrStdin(),
				Out:    c.OutOrStdout(),
			}
			return run(c.Context(), opts)
		},
	}
	output.AddFlag(cmd.Flags())
	cmd.Flags().Bool("show", false, "print each valid plan with its defaults applied (YAML; in the document with -o json|yaml)")
	return cmd
}

// Result is the document drill validate prints with -o json or yaml.
type Result struct {
	// Valid is true when every plan is valid.
	Valid bool `json:"valid"`
	// Plans are the valid plans, in the order they were read.
	Plans []PlanSummary `json:"plans"`
	// Problems are every problem found, by file and position.
	Problems []plan.Problem `json:"problems"`
}

// PlanSummary describes one valid plan.
type PlanSummary struct {
	// Name is the plan's metadata.name.
	Name string `json:"name"`
	// File is where it was read from ("<stdin>" for "-").
	File string `json:"file"`
	// Document is its 0-based index among the file's YAML documents.
	Document int `json:"document"`
	// Platform is spec.target.platform after defaulting.
	Platform string `json:"platform"`
	// Steps is how many steps it has.
	Steps int `json:"steps"`
	// Hash identifies this version of the plan (drill run --resume
	// compares it).
	Hash string `json:"hash"`
	// Plan is the plan with its defaults applied; set with --show.
	Plan json.RawMessage `json:"plan,omitempty"`
}

func run(ctx context.Context, opts Options) error {
	loader := &plan.Loader{Stdin: opts.Stdin}
	plans, err := loader.Load(ctx, opts.Args)
	var problems plan.Problems
	if err != nil && !errors.As(err, &problems) {
		return err
	}
	res := Result{Valid: len(problems) == 0, Plans: []PlanSummary{}, Problems: problems}
	if res.Problems == nil {
		res.Problems = []plan.Problem{}
	}
	shown := make([][]byte, len(plans))
	for i, p := range plans {
		sum := PlanSummary{
			Name: p.Name, File: p.Source, Document: p.Document,
			Platform: string(p.Spec.Target.Platform), Steps: len(p.Spec.Steps), Hash: p.Hash(),
		}
		if opts.Show {
			if shown[i], err = plan.Show(p.DrillPlan); err != nil {
				return err
			}
			if opts.Output.Machine() {
				if sum.Plan, err = sigsyaml.YAMLToJSON(shown[i]); err != nil {
					return fmt.Errorf("encoding plan %s: %w", p.Name, err)
				}
			}
		}
		res.Plans = append(res.Plans, sum)
	}
	if err := output.Write(opts.Out, opts.Output, res, func(w io.Writer) error {
		if opts.Show && res.Valid {
			return writeShown(w, res.Plans, shown)
		}
		for _, p := range res.Plans {
			fmt.Fprintf(w, "%s: plan %q is valid (%s, %d steps)\n", p.File, p.Name, p.Platform, p.Steps)
		}
		for _, p := range problems {
			fmt.Fprintln(w, p.String())
		}
		if !res.Valid {
			fmt.Fprintf(w, "%d %s found\n", len(problems), plural(len(problems), "problem", "problems"))
		}
		return nil
	}); err != nil {
		return err
	}
	if !res.Valid {
		return &exitcode.Error{Code: 1}
	}
	return nil
}

// writeShown writes each plan with its defaults as a YAML document headed
// by a comment naming its file.
func writeShown(w io.Writer, plans []PlanSummary, shown [][]byte) error {
	for i, p := range plans {
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		fmt.Fprintf(w, "# %s (document %d)\n", p.File, p.Document)
		if _, err := w.Write(shown[i]); err != nil {
			return fmt.Errorf("writing plan: %w", err)
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
