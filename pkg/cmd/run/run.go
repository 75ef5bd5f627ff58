package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
	"github.com/firedrill/firedrill/pkg/engine"
	enginecleanup "github.com/firedrill/firedrill/pkg/engine/cleanup"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/version"
)

// Options are the flags of drill run.
type Options struct {
	File string
	// Archive is where the report set goes.
	Archive  archiveflags.Options
	StateDir string
	RunID    string
	Output   output.Format
	DryRun   bool
	Resume   bool
	// LogProgress writes progress as log records (--log-format json)
	// instead of lines for people.
	LogProgress bool
	// Platforms carries the platform flags (kubeconfig, context, QPS).
	Platforms platforms.Options
	// Pushgateway is where the run's metrics are pushed; empty means
	// nowhere.
	Pushgateway string
	Stdin       io.Reader
	Out, Err    io.Writer
}

func (o *Options) validate() error {
	if o.Archive.Location == "" {
		return errors.New("--archive must not be empty")
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
archive the report set (report.json, report.md, junit.xml, report.html,
SHA256SUMS) in --archive: a directory, <dir>/<plan>/<run-id>/, or an OCI
registry, oci://host/repository.

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
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			arch, err := archiveflags.FromViper(v)
			if err != nil {
				return err
			}
			opts := Options{
				File: args[0], Archive: arch, StateDir: v.GetString("state-dir"),
				RunID: v.GetString("run-id"), Output: format, DryRun: v.GetBool("dry-run"), Resume: v.GetBool("resume"),
				LogProgress: v.GetString("log-format") == string(log.FormatJSON),
				Platforms:   platforms.FromViper(v), Pushgateway: v.GetString("pushgateway"),
				Stdin: c.InOrStdin(), Out: c.OutOrStdout(), Err: c.ErrOrStderr(),
			}
			return run(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	archiveflags.AddFlags(f)
	archiveflags.AddReportDirAlias(f)
	f.String("run-id", "", "run id (default <plan>-<UTC time to the millisecond>-<random>)")
	output.AddFlag(f)
	f.Bool("dry-run", false, "resolve targets and print what would happen, touching nothing")
	platforms.AddFlags(f)
	f.Bool("resume", false, "continue the latest crashed or aborted run of this plan, skipping the steps it completed")
	f.String("pushgateway", "", "push the run's metrics to this Prometheus Pushgateway (http://host:9091) once the report is stored; a failed push exits 2")
	return cmd
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
	if opts.DryRun {
		return dryRun(ctx, opts, p, pf)
	}
	// The evidence must have somewhere to go before anything is touched.
	arch, err := opts.Archive.Open()
	if err != nil {
		return err
	}
	if err := arch.Check(ctx); err != nil {
		return fmt.Errorf("%w; nothing was touched", err)
	}
	prog := newProgress(opts)

	journalDir := platforms.JournalDir(opts.StateDir)
	leftovers, err := enginecleanup.Run(ctx, enginecleanup.Options{
		JournalDir: journalDir,
		Platforms: func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error) {
			return platforms.New(ctx, spec, opts.Platforms)
		},
	})
	var cleanup []string
	for _, l := range leftovers {
		cleanup = append(cleanup, l.String())
		prog.line("cleanup: " + l.String())
	}
	if err != nil {
		return fmt.Errorf("faults left by earlier runs could not be reverted; fix that first (drill cleanup): %w", err)
	}

	var resume *journal.Record
	if opts.Resume {
		if resume, err = resumable(journalDir, p); err != nil {
			return err
		}
		prog.line(fmt.Sprintf("resuming run %s: skipping %s", resume.RunID, strings.Join(resume.Completed, ", ")))
	}
	info := version.Get()
	eng, err := engine.New(engine.Options{
		JournalDir: journalDir, Tool: report.Tool{Version: info.Version, Commit: info.Commit, GoVersion: info.GoVersion},
	})
	if err != nil {
		return err
	}
	rep, err := eng.Run(ctx, p, engine.RunOptions{Platform: pf, RunID: opts.RunID, Observer: prog.observe, Resume: resume, Cleanup: cleanup})
	prog.done()
	if err != nil {
		return err
	}
	// The evidence is never lost: when the archive fails it is kept
	// under the state directory, and the output says where.
	st, werr := archive.Store(ctx, arch, rep, archive.StoreOptions{KeepDir: filepath.Join(opts.StateDir, "reports")})
	var kept *archive.KeptError
	if werr != nil && !errors.As(werr, &kept) {
		return werr
	}
	if kept != nil {
		prog.line(werr.Error())
	}
	var perr error
	if opts.Pushgateway != "" {
		// An interrupted run is pushed too: its abort is what it counts.
		// The push's own timeout bounds the wait.
		if perr = metrics.Push(context.WithoutCancel(ctx), metrics.PushOptions{URL: opts.Pushgateway}, rep); perr != nil {
			prog.line(perr.Error())
		}
	}
	dir := st.Location
	if err := output.Write(opts.Out, opts.Output, rep, func(w io.Writer) error {
		fmt.Fprintln(w)
		fmt.Fprint(w, report.Table(rep))
		fmt.Fprintf(w, "\n%s, verdict %s", rep.Phase, rep.Verdict)
		if rep.Message != "" {
			fmt.Fprintf(w, ": %s", rep.Message)
		}
		fmt.Fprintf(w, "\nreport: %s\n", dir)
		if st.HTML != "" {
			fmt.Fprintf(w, "html: %s\n", st.HTML)
		}
		return nil
	}); err != nil {
		return err
	}
	if opts.Output.Machine() {
		prog.line("report: " + dir)
	}
	if werr != nil || perr != nil {
		return &exitcode.Error{Code: 2}
	}
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

// dryStep is one step of a dry run, for -o json and yaml.
type dryStep struct {
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Wait       string            `json:"wait,omitempty"`
	Candidates []evidence.Target `json:"candidates,omitempty"`
	Targets    []evidence.Target `json:"targets,omitempty"`
	Inject     string            `json:"inject,omitempty"`
	Revert     string            `json:"revert,omitempty"`
}

// dryResult is what a dry run found.
type dryResult struct {
	Plan     string    `json:"plan"`
	Platform string    `json:"platform"`
	Steps    []dryStep `json:"steps"`
	Error    string    `json:"error,omitempty"`
}

func dryRun(ctx context.Context, opts Options, p *plan.Plan, pf platform.Platform) error {
	res, err := engine.DryRun(ctx, pf, &p.Spec, opts.RunID)
	out := dryResult{Plan: p.Name, Platform: pf.Name()}
	if err != nil {
		out.Error = err.Error()
	}
	for i, r := range res {
		st := p.Spec.Steps[i]
		ds := dryStep{Name: st.Name, Type: r.Type, Candidates: r.Candidates, Targets: r.Picked}
		if st.Wait != nil {
			ds.Wait = st.Wait.Duration.String()
		}
		if st.Fault != nil && st.Fault.Exec != nil {
			ds.Inject = describeAction(&st.Fault.Exec.Inject)
			if st.Fault.Exec.Revert != nil {
				ds.Revert = describeAction(st.Fault.Exec.Revert)
			}
		}
		out.Steps = append(out.Steps, ds)
	}
	if werr := output.Write(opts.Out, opts.Output, out, func(w io.Writer) error {
		fmt.Fprintf(w, "plan %s on platform %s (dry run: nothing is touched)\n", p.Name, pf.Name())
		for i, ds := range out.Steps {
			switch {
			case ds.Wait != "":
				fmt.Fprintf(w, "  %d. %s: wait %s while the load runs\n", i+1, ds.Name, report.FormatDuration(p.Spec.Steps[i].Wait.Duration))
			case len(ds.Targets) == 0:
				fmt.Fprintf(w, "  %d. %s: %s: could not resolve targets\n", i+1, ds.Name, ds.Type)
			default:
				fmt.Fprintf(w, "  %d. %s: %s on %d of %d candidates: %s\n", i+1, ds.Name, ds.Type, len(ds.Targets), len(ds.Candidates), evidence.TargetNames(ds.Targets))
				for _, t := range ds.Targets {
					// What a large target (a region) expands to, as the
					// platform describes it.
					for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
						if name, ok := strings.CutPrefix(k, "firedrill.dev/"); ok {
							fmt.Fprintf(w, "     %s %s: %s\n", t, name, t.Labels[k])
						}
					}
				}
				if ds.Inject != "" {
					fmt.Fprintf(w, "     inject: %s\n", ds.Inject)
				}
				if ds.Revert != "" {
					fmt.Fprintf(w, "     revert: %s\n", ds.Revert)
				}
			}
		}
		if out.Error != "" {
			fmt.Fprintln(w, "dry run failed: "+out.Error)
		}
		return nil
	}); werr != nil {
		return werr
	}
	if err != nil {
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
