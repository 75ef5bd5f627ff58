package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/prune"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	sandbox "github.com/firedrill/firedrill/pkg/platform/local"
)

type pruneOptions struct {
	Policy   prune.Policy
	StateDir string
	DryRun   bool
	Clock    clock.PassiveClock
}

func newPrune(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune --keep N --max-age D",
		Short: "Remove old runs, their journals and sandbox logs",
		Long: `Remove archived runs, the journals of finished runs (<state-dir>/journal)
and the logs of finished sandboxes (<state-dir>/sandbox/*/logs), which
nothing else removes.

A run goes when every limit given selects it: it is beyond the --keep newest
runs of its plan, and older than --max-age. Journals follow the same rule
per plan, sandbox logs over all sandboxes. Never removed: the journal of a
run that has not finished or whose faults may still be active (drill
cleanup needs it), the newest journal of each plan (drill run --resume reads
it), and the logs of a sandbox whose process is alive.

--max-age takes Go durations and days: 90d, 36h, 1h30m.`,
		Example: `  # See what would go
  drill reports prune --keep 20 --max-age 90d --dry-run

  # Keep the 10 newest runs of every plan
  drill reports prune --keep 10`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			age, err := parseAge(v.GetString("max-age"))
			if err != nil {
				return err
			}
			return runPrune(c.Context(), e, pruneOptions{
				Policy: prune.Policy{Keep: v.GetInt("keep"), MaxAge: age}, StateDir: v.GetString("state-dir"),
				DryRun: v.GetBool("dry-run"), Clock: clock.RealClock{},
			})
		},
	}
	f := cmd.Flags()
	f.Int("keep", 0, "keep the N newest runs of each plan")
	f.String("max-age", "", "keep what is younger than this (90d, 36h)")
	f.Bool("dry-run", false, "print what would be removed, remove nothing")
	f.String("state-dir", platforms.DefaultStateDir(), "directory of the run journals and sandbox state")
	output.AddFlag(f)
	return cmd
}

// parseAge reads a Go duration, or a whole number of days ("90d").
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--max-age %q: days must be a whole number, like 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--max-age %q: %w", s, err)
	}
	return d, nil
}

type pruneResult struct {
	Policy  string           `json:"policy"`
	DryRun  bool             `json:"dryRun,omitempty"`
	Removed []prune.Decision `json:"removed"`
	Kept    int              `json:"kept"`
	Swept   []string         `json:"swept,omitempty"`
}

// sandboxLive says whether the sandbox in dir runs: it has a state file
// and its process is alive.
func sandboxLive(dir string) (bool, error) {
	st, err := sandbox.ReadState(dir)
	if err != nil {
		return false, nil //nolint:nilerr // no state file: the sandbox stopped.
	}
	return st.Pid > 0 && syscall.Kill(st.Pid, 0) == nil, nil
}

func runPrune(ctx context.Context, e *env, o pruneOptions) error {
	if err := o.Policy.Validate(); err != nil {
		return err
	}
	now := o.Clock.Now()
	idx, err := e.index(ctx)
	if err != nil {
		return err
	}
	items := prune.Runs(idx.Runs)
	journals, err := prune.Journals(platforms.JournalDir(o.StateDir))
	if err != nil {
		return err
	}
	sandboxes, err := prune.SandboxLogs(o.StateDir, sandboxLive)
	if err != nil {
		return err
	}
	items = append(append(items, journals...), sandboxes...)
	decisions := prune.Decide(items, o.Policy, now)
	res := pruneResult{Policy: o.Policy.String(), DryRun: o.DryRun, Removed: []prune.Decision{}}
	var applyErr error
	if o.DryRun {
		for _, d := range decisions {
			if d.Remove {
				res.Removed = append(res.Removed, d)
			}
		}
	} else {
		res.Removed, applyErr = prune.Apply(ctx, decisions, e.archive, idx.Runs)
		if res.Removed == nil {
			res.Removed = []prune.Decision{}
		}
		if l, ok := e.archive.(*local.Archive); ok {
			// Writes that died an hour ago will never finish.
			swept, err := l.SweepTemp(ctx, now.Add(-time.Hour))
			res.Swept = swept
			applyErr = errors.Join(applyErr, err)
		}
	}
	res.Kept = len(decisions) - len(res.Removed)
	if err := output.Write(e.out, e.format, res, func(w io.Writer) error {
		verb := "removed"
		if o.DryRun {
			verb = "would remove"
		}
		for _, d := range res.Removed {
			fmt.Fprintf(w, "%s %s %s (%s): %s\n", verb, d.Kind, d.Path, stamp(d.Time), strings.TrimPrefix(d.Reason, "removed: "))
		}
		for _, s := range res.Swept {
			fmt.Fprintf(w, "removed unfinished write %s\n", s)
		}
		fmt.Fprintf(w, "%s %d, kept %d (%s)\n", verb, len(res.Removed), res.Kept, res.Policy)
		return nil
	}); err != nil {
		return err
	}
	return applyErr
}
