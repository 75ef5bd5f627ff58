package followtest

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/drillrun"
)

// T0 is when the scripted run starts.
var T0 = time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)

func mt(d time.Duration) *metav1.MicroTime {
	m := metav1.NewMicroTime(T0.Add(d))
	return &m
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// Script is how drill serve writes a drain drill's status, observation by
// observation.
func Script() []v1alpha1.DrillRunStatus {
	var out []v1alpha1.DrillRunStatus
	st := v1alpha1.DrillRunStatus{}
	out = append(out, *st.DeepCopy()) // not picked up yet

	st.Phase, st.Runner, st.StartTime = v1alpha1.RunRunning, "drill-serve-0_1a2b", mt(0)
	st.CurrentStep = "baseline"
	st.Steps = []v1alpha1.StepResult{
		{Name: "baseline", Kind: v1alpha1.StepWait, Phase: v1alpha1.RunRunning, StartTime: mt(100 * time.Millisecond)},
		{Name: "drain", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunPending},
	}
	out = append(out, *st.DeepCopy())

	st.CurrentStep = "drain"
	st.Steps[0].Phase, st.Steps[0].CompletionTime = v1alpha1.RunSucceeded, mt(5*time.Second)
	st.Steps[1].Phase, st.Steps[1].StartTime = v1alpha1.RunRunning, mt(5*time.Second)
	st.Steps[1].Fault = &v1alpha1.FaultResult{Type: "nodeDrain", Targets: []v1alpha1.FaultTarget{{Kind: "node", Name: "gpu-east-1"}}, Injected: mt(5200 * time.Millisecond)}
	st.Journal = []v1alpha1.JournalEntry{{Step: "drain", State: v1alpha1.FaultActive}}
	st.Overall = &v1alpha1.CheckResult{Stats: v1alpha1.WindowStats{Requests: 120, Availability: "100", P99: metav1.Duration{Duration: 12 * time.Millisecond}}}
	out = append(out, *st.DeepCopy())

	st.Steps[1].Fault.Failover = &v1alpha1.Recovery{Recovered: true, RecoveryTime: dur(7500 * time.Millisecond),
		Instants: v1alpha1.RecoveryInstants{Recovered: mt(12700 * time.Millisecond)}}
	st.Steps[1].Fault.Reverted = mt(13 * time.Second)
	st.Journal[0].State = v1alpha1.FaultReverting
	out = append(out, *st.DeepCopy())

	st.Phase, st.Verdict, st.CurrentStep, st.CompletionTime = v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "", mt(20*time.Second)
	st.Steps[1].Phase, st.Steps[1].CompletionTime = v1alpha1.RunSucceeded, mt(20*time.Second)
	st.Steps[1].Fault.Verdict = v1alpha1.VerdictPass
	st.Steps[1].Fault.Failover.Verdict = v1alpha1.VerdictPass
	st.Steps[1].Fault.Failover.Window = v1alpha1.WindowStats{Requests: 160, Availability: "100", P99: metav1.Duration{Duration: 14 * time.Millisecond}}
	st.Steps[1].Fault.Failover.ServiceRTO = dur(0)
	st.Steps[1].Fault.Failover.CapacityRTO = dur(7500 * time.Millisecond)
	st.Steps[1].Fault.Failover.Verdicts = []v1alpha1.ObjectiveVerdict{{Objective: "rto", Target: "1m0s", Measured: "7.5s", Verdict: v1alpha1.VerdictPass}}
	st.WorstRecovery = "7.5s/1m0s"
	st.Journal[0].State = v1alpha1.FaultReverted
	st.Report = &v1alpha1.ReportReference{Path: "/var/lib/firedrill/reports/recsys/nightly/recsys.nightly-x7k2p"}
	conditions.Done(&st.Conditions, "Succeeded", "verdict Pass", 1, T0.Add(20*time.Second))
	out = append(out, *st.DeepCopy())
	return out
}

// Aborting is a status asked to abort.
func Aborting(st v1alpha1.DrillRunStatus) v1alpha1.DrillRunStatus {
	st = *st.DeepCopy()
	conditions.Progressing(&st.Conditions, drillrun.ReasonAborting, "aborting: aborted on request (p99 pages); reverting every active fault", 2, T0.Add(6*time.Second))
	return st
}
