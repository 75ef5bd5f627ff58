package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/plan"
)

// Options are the flags of drill validate.
type Options struct {
	// Args are files, directories or "-".
	Args []string
	// Output is text or json.
	Output string
	// Show prints each valid plan with its defaults applied.
	Show bool
	// Stdin is read for "-".
	Stdin io.Reader
	// Out receives the report.
	Out io.Writer
}

func (o *Options) validate() error {
	switch o.Output {
	case "text", "json":
	default:
		return fmt.Errorf("--output must be text or json, got %q", o.Output)
	}
	if o.Show && o.Output == "json" {
		return errors.New("--show prints YAML; it cannot be combined with --output json")
	}
	return nil
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
is not.`,
		Example: `  # Validate every example plan
  drill validate drills/

  # Print a plan with its defaults applied
  drill validate --show drills/quickstart.yaml

  # Machine-readable result
  drill validate -o json drills/quickstart.yaml

  # From standard input
  cat plan.yaml | drill validate -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts := Options{
				Args:   args,
				Output: v.GetString("output"),
				Show:   v.GetBool("show"),
				Stdin:  c.InOrStdin(),
				Out:    c.OutOrStdout(),
			}
			return run(c.Context(), opts)
		},
	}
	cmd.Flags().StringP("output", "o", "text", "output format: text or json")
	cmd.Flags().Bool("show", false, "print each valid plan with its defaults applied")
	return cmd
}

// Result is the JSON output of drill validate.
type Result struct {
	Valid    bool           `json:"valid"`
	Plans    []PlanSummary  `json:"plans"`
	Problems []plan.Problem `json:"problems"`
}

// PlanSummary describes one valid plan.
type PlanSummary struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	Document int    `json:"document"`
	Platform string `json:"platform"`
	Steps    int    `json:"steps"`
	Hash     string `json:"hash"`
}

func run(ctx context.Context, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
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
	for _, p := range plans {
		res.Plans = append(res.Plans, PlanSummary{
			Name: p.Name, File: p.Source, Document: p.Document,
			Platform: string(p.Spec.Target.Platform), Steps: len(p.Spec.Steps), Hash: p.Hash(),
		})
	}
	switch {
	case opts.Output == "json":
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	case opts.Show && res.Valid:
		for i, p := range plans {
			out, err := plan.Show(p.DrillPlan)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(opts.Out, "---")
			}
			fmt.Fprintf(opts.Out, "# %s (document %d)\n", p.Source, p.Document)
			if _, err := opts.Out.Write(out); err != nil {
				return fmt.Errorf("writing plan: %w", err)
			}
		}
	default:
		for _, p := range res.Plans {
			fmt.Fprintf(opts.Out, "%s: plan %q is valid (%s, %d steps)\n", p.File, p.Name, p.Platform, p.Steps)
		}
		for _, p := range problems {
			fmt.Fprintln(opts.Out, p.String())
		}
		if !res.Valid {
			fmt.Fprintf(opts.Out, "%d %s found\n", len(problems), plural(len(problems), "problem", "problems"))
		}
	}
	if !res.Valid {
		return &exitcode.Error{Code: 1}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
