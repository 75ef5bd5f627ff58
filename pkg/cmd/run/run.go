package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/version"
)

// Options are the flags of drill run.
type Options struct {
	File      string
	ReportDir string
	StateDir  string
	RunID     string
	Output    string
	DryRun    bool
	Resume    bool
	// Platforms carries the platform flags (kubeconfig, context, QPS).
	Platforms platforms.Options
	Stdin     io.Reader
	Out, Err  io.Writer
}

func (o *Options) validate() error {
	switch o.Output {
	case "text", "json":
	default:
		return fmt.Errorf("--output must be text or json, got %q", o.Output)
	}
	if o.ReportDir == "" {
		return errors.New("--report-dir must not be empty")
	}
	return nil
}

// NewCommand returns the run command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a drill plan and measure recovery",
		Long: `Run a drill: start the platform, drive open-loop synthetic load at the
system under test, check the steady state, inject each fault, measure how
long the service and its capacity take to recover, revert every fault and
write the report (report.json, report.md, junit.xml) under
--report-dir/<plan>/<run-id>/.

Before it starts, drill run reverts any fault that an earlier run left
active (see drill cleanup). Ctrl-C reverts every active fault at once and
still writes the report.

Exit status: 0 when every objective held, 1 when one failed, 2 when the
drill was aborted or could not run.`,
		Example: `  # Drill an HTTP service with runbook (exec) faults
  drill run drills/http-service.yaml

  # Show exactly what would be touched, touching nothing
  drill run --dry-run drills/http-service.yaml

  # After a crash or Ctrl-C: revert leftovers and run the remaining steps
  drill run --resume drills/http-service.yaml

  # Machine-readable report on stdout, progress on stderr
  drill run -o json drills/http-service.yaml > report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts := Options{
				File: args[0], ReportDir: v.GetString("report-dir"), StateDir: v.GetString("state-dir"),
				RunID: v.GetString("run-id"), Output: v.GetString("output"), DryRun: v.GetBool("dry-run"), Resume: v.GetBool("resume"),
				Platforms: platforms.FromViper(v),
				Stdin:     c.InOrStdin(), Out: c.OutOrStdout(), Err: c.ErrOrStderr(),
			}
			return run(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.String("report-dir", "reports", "directory the report is written under (<dir>/<plan>/<run-id>/)")
	f.String("run-id", "", "run id (default <plan>-<UTC time>)")
	f.StringP("output", "o", "text", "output format: text or json")
	f.Bool("dry-run", false, "resolve targets and print what would happen, touching nothing")
	platforms.AddFlags(f)
	f.Bool("resume", false, "continue the latest crashed or aborted run of this plan, skipping the steps it completed")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func run(ctx context.Context, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	plans, err := (&plan.Loader{Stdin: opts.Stdin}).Load(ctx, []string{opts.File})
	var problems plan.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(opts.Err, p.String())
		}
		return &exitcode.Error{Code: 2}
	}
	if err != nil {
		return err
	}
	if len(plans) != 1 {
		return fmt.Errorf("%s holds %d plans; drill run runs one plan at a time", opts.File, len(plans))
	}
	p := plans[0]
	pf, err := platforms.New(ctx, &p.Spec, opts.Platforms)
	if err != nil {
		return err
	}
	human := opts.Out
	if opts.Output == "json" {
		human = opts.Err
	}
	if opts.DryRun {
		return dryRun(ctx, opts, p, pf, human)
	}

	journalDir := platforms.JournalDir(opts.StateDir)
	leftovers, err := engine.Cleanup(ctx, engine.CleanupOptions{
		JournalDir: journalDir,
		Platforms: func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error) {
			return platforms.New(ctx, spec, opts.Platforms)
		},
	})
	for _, l := range leftovers {
		fmt.Fprintln(human, "cleanup: "+l.String())
	}
	if err != nil {
		return fmt.Errorf("faults left by earlier runs could not be reverted; fix that first (drill cleanup): %w", err)
	}

	var resume *journal.Record
	if opts.Resume {
		if resume, err = resumable(journalDir, p); err != nil {
			return err
		}
		fmt.Fprintf(human, "resuming run %s: skipping %s\n", resume.RunID, strings.Join(resume.Completed, ", "))
	}
	prog := &progress{w: human, tty: isTerminal(human)}
	info := version.Get()
	eng, err := engine.New(engine.Options{
		Platform: pf, JournalDir: journalDir, RunID: opts.RunID, Observer: prog.observe, Resume: resume,
		Tool: report.Tool{Version: info.Version, Commit: info.Commit, GoVersion: info.GoVersion},
	})
	if err != nil {
		return err
	}
	rep, err := eng.Run(ctx, p)
	prog.done()
	if err != nil {
		return err
	}
	for _, l := range leftovers {
		rep.Cleanup = append(rep.Cleanup, l.String())
	}
	dir, werr := report.Write(opts.ReportDir, rep)
	if opts.Output == "json" {
		js, err := report.JSON(rep)
		if err != nil {
			return err
		}
		if _, err := opts.Out.Write(js); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	fmt.Fprintln(human)
	fmt.Fprint(human, report.Table(rep))
	fmt.Fprintf(human, "\n%s: %s", rep.Phase, strings.ToLower(string(rep.Verdict)))
	if rep.Message != "" {
		fmt.Fprintf(human, " (%s)", rep.Message)
	}
	fmt.Fprintln(human)
	if werr != nil {
		fmt.Fprintln(human, "the report could not be written: "+werr.Error())
		return &exitcode.Error{Code: 2}
	}
	fmt.Fprintf(human, "report: %s\n", dir)
	if code := rep.ExitCode(); code != 0 {
		return &exitcode.Error{Code: code}
	}
	return nil
}

// resumable finds the latest run of the same plan that crashed or was
// aborted.
func resumable(journalDir string, p *plan.Plan) (*journal.Record, error) {
	recs, err := journal.Load(journalDir)
	if err != nil {
		return nil, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.Plan != p.Name {
			continue
		}
		if r.PlanHash != p.Hash() {
			return nil, fmt.Errorf("--resume: the latest run of plan %s (%s) ran a different version of the plan; run it from the start", p.Name, r.RunID)
		}
		if !r.Resumable() {
			return nil, fmt.Errorf("--resume: the latest run of plan %s (%s) finished (%s); nothing to resume", p.Name, r.RunID, r.Outcome)
		}
		return r, nil
	}
	return nil, fmt.Errorf("--resume: no earlier run of plan %s in %s", p.Name, journalDir)
}

func dryRun(ctx context.Context, opts Options, p *plan.Plan, pf platform.Platform, w io.Writer) error {
	res, err := engine.DryRun(ctx, pf, &p.Spec, opts.RunID)
	fmt.Fprintf(w, "plan %s on platform %s (dry run: nothing is touched)\n", p.Name, pf.Name())
	for i, r := range res {
		st := p.Spec.Steps[i]
		switch {
		case st.Wait != nil:
			fmt.Fprintf(w, "  %d. %s: wait %s while the load runs\n", i+1, st.Name, report.FormatDuration(st.Wait.Duration))
		case len(r.Picked) == 0:
			fmt.Fprintf(w, "  %d. %s: %s: could not resolve targets\n", i+1, st.Name, r.Type)
		default:
			var names []string
			for _, t := range r.Picked {
				names = append(names, t.Kind+"/"+t.Name)
			}
			fmt.Fprintf(w, "  %d. %s: %s on %d of %d candidates: %s\n", i+1, st.Name, r.Type, len(r.Picked), len(r.Candidates), strings.Join(names, ", "))
			if ex := st.Fault.Exec; ex != nil {
				fmt.Fprintf(w, "     inject: %s\n", describeAction(&ex.Inject))
				if ex.Revert != nil {
					fmt.Fprintf(w, "     revert: %s\n", describeAction(ex.Revert))
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintln(w, "dry run failed: "+err.Error())
		return &exitcode.Error{Code: 2}
	}
	return nil
}

func describeAction(a *v1alpha1.Action) string {
	if a.Webhook != nil {
		return a.Webhook.Method + " " + a.Webhook.URL
	}
	return strings.Join(a.Command, " ")
}
