package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/report"
)

// Defaults of Options.
const (
	// DefaultPoll is how often the run is read. drill serve writes a
	// run's status at most every 2 s and at each milestone, so reading
	// faster shows nothing more.
	DefaultPoll = 500 * time.Millisecond
	// statusEvery is how often a status line is printed.
	statusEvery = 5 * time.Second
	// DefaultUnclaimedAfter is how long a run may wait for drill serve to
	// start it before following says that nobody has.
	DefaultUnclaimedAfter = 30 * time.Second
)

// Options say which run to follow and where to write.
type Options struct {
	// Client reads the run. Required.
	Client client.Reader
	// Key names the run. Required.
	Key types.NamespacedName
	// Out receives the result; Err the progress.
	Out, Err io.Writer
	// Output formats the result.
	Output output.Format
	// LogProgress writes progress as JSON log records (--log-format
	// json).
	LogProgress bool
	// Poll is how often the run is read; zero means DefaultPoll.
	Poll time.Duration
	// UnclaimedAfter is how long a run may stay unstarted before following
	// warns, once, that no drill serve has claimed it; zero means
	// DefaultUnclaimedAfter.
	UnclaimedAfter time.Duration
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
}

// ErrStopped says following stopped before the run ended (ctx ended);
// the run goes on in the cluster.
var ErrStopped = errors.New("stopped following before the run ended")

// Run follows a run until it ends, printing its progress, and returns it.
// It returns ErrStopped, with the run as last read, when ctx ends first.
func Run(ctx context.Context, opts Options) (*v1alpha1.DrillRun, error) {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.UnclaimedAfter <= 0 {
		opts.UnclaimedAfter = DefaultUnclaimedAfter
	}
	start, warned := opts.Clock.Now(), false
	var logger *slog.Logger
	if opts.LogProgress {
		logger = slog.New(slog.NewJSONHandler(opts.Err, nil))
	}
	ticker := opts.Clock.NewTicker(opts.Poll)
	defer ticker.Stop()
	var prev *v1alpha1.DrillRun
	var lastStatus time.Time
	for {
		var run v1alpha1.DrillRun
		if err := opts.Client.Get(ctx, opts.Key, &run); err != nil {
			if ctx.Err() != nil {
				return prev, ErrStopped
			}
			return prev, fmt.Errorf("reading run %s: %w", opts.Key, err)
		}
		for _, l := range Diff(prev, &run) {
			if logger != nil {
				logger.Info(l.Message, "run", opts.Key.String(), "event", l.Event, "step", l.Step, "elapsed", l.Elapsed.Round(time.Millisecond).String())
				continue
			}
			fmt.Fprintln(opts.Err, l.String())
		}
		prev = &run
		if run.Status.Phase.IsTerminal() {
			return &run, nil
		}
		if !warned && unclaimed(&run) && opts.Clock.Since(start) >= opts.UnclaimedAfter {
			warned = true
			msg := fmt.Sprintf("run %s has not started after %s: no drill serve has claimed it; is drill serve running, and does its --watch-namespace include %s?",
				opts.Key, opts.UnclaimedAfter, opts.Key.Namespace)
			if logger != nil {
				logger.Warn(msg, "run", opts.Key.String())
			} else {
				fmt.Fprintln(opts.Err, msg)
			}
		}
		if now := opts.Clock.Now(); run.Status.Phase == v1alpha1.RunRunning && now.Sub(lastStatus) >= statusEvery {
			lastStatus = now
			if logger == nil {
				fmt.Fprintln(opts.Err, Status(&run, now))
			}
		}
		select {
		case <-ctx.Done():
			return prev, ErrStopped
		case <-ticker.C():
		}
	}
}

// unclaimed says no drill serve has started the run: no phase past
// Pending and no runner.
func unclaimed(run *v1alpha1.DrillRun) bool {
	return (run.Status.Phase == "" || run.Status.Phase == v1alpha1.RunPending) && run.Status.Runner == ""
}

// Report is the report of a run as its status holds it: the results,
// without the series, capacity and events that only the archived
// report.json on drill serve's volume has.
func Report(run *v1alpha1.DrillRun) *report.Report {
	rep := &report.Report{
		Schema: report.SchemaVersion, RunID: run.Namespace + "." + run.Name, Trigger: run.Spec.Trigger,
		Plan: report.Plan{Name: planName(run), Source: "drillrun/" + run.Namespace + "/" + run.Name, Hash: run.Spec.PlanHash},
	}
	if run.Spec.Plan != nil {
		rep.Plan.Spec = *run.Spec.Plan.DeepCopy()
	}
	rep.RunResult = *run.Status.RunResult.DeepCopy()
	return rep
}

// Result prints a finished run's result as drill run does (the fault
// table, the phase and verdict, where the report is; or the report with
// -o json|yaml) and returns the exit code of its phase: nil for
// Succeeded, 1 for Failed, 2 otherwise.
func Result(w io.Writer, format output.Format, run *v1alpha1.DrillRun) error {
	rep := Report(run)
	if err := output.Write(w, format, rep, func(w io.Writer) error {
		fmt.Fprintln(w)
		fmt.Fprint(w, report.Table(rep))
		fmt.Fprintf(w, "\n%s, verdict %s", rep.Phase, rep.Verdict)
		if rep.Message != "" {
			fmt.Fprintf(w, ": %s", rep.Message)
		}
		fmt.Fprintln(w)
		if ref := run.Status.Report; ref != nil {
			where := ref.URL
			if where == "" {
				where = ref.Path + " (on drill serve's report volume)"
			}
			fmt.Fprintf(w, "report: %s\n", where)
		}
		return nil
	}); err != nil {
		return err
	}
	if code := rep.ExitCode(); code != 0 {
		return &exitcode.Error{Code: code}
	}
	return nil
}
