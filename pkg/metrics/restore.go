package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
)

// RestoreDepth is how many of a plan's newest archived runs
// RestoreFromArchive looks through for its last Succeeded run.
const RestoreDepth = 50

// ArchivedPlan names a plan's runs in an archive for RestoreFromArchive.
type ArchivedPlan struct {
	// Label is the plan label the metrics show: the plan's name on one
	// machine, <namespace>/<name> in a cluster.
	Label string
	// Plan is the plan's name in the archive (the report's plan name).
	Plan string
	// RunPrefix keeps only the runs whose id starts with it: in a
	// cluster "<namespace>.", as a DrillRun's report is run
	// <namespace>.<name>. Empty keeps every run of Plan.
	RunPrefix string
}

// RestoreFromArchive shows each plan's newest archived run, and its
// newest Succeeded one among its RestoreDepth newest (for the last
// success), in the last-value gauges with Restore, under the plan's
// Label: what drill serve does at start so that a restart loses no
// verdict. Counters start at zero. A run that cannot be read is skipped;
// the errors come back together once every plan is done.
func (m *Metrics) RestoreFromArchive(ctx context.Context, a archive.Archive, plans []ArchivedPlan) error {
	var errs []error
	for _, p := range plans {
		entries, _, err := archive.Select(ctx, a, index.Query{Plan: p.Plan, Last: RestoreDepth})
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring the metrics of plan %s: %w", p.Label, err))
			continue
		}
		var newest, success *index.Entry
		for i := len(entries) - 1; i >= 0 && success == nil; i-- {
			e := &entries[i]
			if !strings.HasPrefix(e.RunID, p.RunPrefix) {
				continue
			}
			if newest == nil {
				newest = e
			}
			if e.Phase == v1alpha1.RunSucceeded {
				success = e
			}
		}
		// The last success first: Restore shows a run only if it is newer
		// than the one shown.
		for _, e := range []*index.Entry{success, newest} {
			if e == nil {
				continue
			}
			if err := m.restoreEntry(ctx, a, p.Label, e); err != nil {
				errs = append(errs, err)
			}
			if newest == success {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (m *Metrics) restoreEntry(ctx context.Context, a archive.Archive, label string, e *index.Entry) error {
	files, err := a.Get(ctx, *e)
	if err != nil {
		return fmt.Errorf("restoring the metrics of plan %s from run %s: %w", label, e.RunID, err)
	}
	rep, err := archive.ReadReport(files)
	if err != nil {
		return fmt.Errorf("restoring the metrics of plan %s from run %s: %w", label, e.RunID, err)
	}
	rep.Plan.Name = label
	m.Restore(rep)
	return nil
}
