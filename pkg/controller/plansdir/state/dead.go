package state

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// BareReport is a report of rec with nothing measured, written by tool.
func BareReport(rec Run, tool report.Tool) *report.Report {
	created := metav1.NewMicroTime(rec.Created)
	rep := &report.Report{Schema: report.SchemaVersion, RunID: rec.ID, Plan: rec.Plan, Tool: tool,
		Platform: string(rec.Plan.Spec.Target.Platform), Endpoint: rec.Plan.Spec.System.Endpoint, Trigger: rec.Trigger,
		Series: []slo.Point{}}
	rep.StartTime = &created
	return rep
}

// DiedMessage starts the message of a run drill serve died during.
const DiedMessage = "drill serve stopped while the run was going (killed or crashed)"

// DeadReport is the report of a run the last drill serve did not store:
// its final report when it finished, otherwise its last snapshot (or
// nothing measured, written by tool) as Error. reverted are the faults of
// the run the restart reverted.
func (s Dir) DeadReport(rec Run, reverted []string, tool report.Tool) *report.Report {
	snap := s.ReadLive(rec.ID)
	if snap != nil && snap.Report.Phase.IsTerminal() {
		return snap.Report
	}
	rep, until := BareReport(rec, tool), rec.Created
	if snap != nil {
		rep, until = snap.Report, snap.At
	}
	msg := DiedMessage
	if len(reverted) > 0 {
		msg += "; when it started again it reverted: " + strings.Join(reverted, "; ")
	} else {
		msg += "; when it started again no fault of the run was left to revert"
	}
	if snap != nil {
		msg += "; the measurements are as of " + until.UTC().Format(time.RFC3339)
	} else {
		msg += "; nothing of it was measured"
	}
	done := metav1.NewMicroTime(until)
	rep.Phase, rep.Verdict, rep.Message, rep.CompletionTime = v1alpha1.RunError, v1alpha1.VerdictNotJudged, msg, &done
	if rep.Series == nil {
		rep.Series = []slo.Point{}
	}
	return rep
}
