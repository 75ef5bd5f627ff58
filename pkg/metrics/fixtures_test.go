package metrics_test

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
)

// t0 is when the fixture runs start.
var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.MicroTime { m := metav1.NewMicroTime(t0.Add(d)); return &m }

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// spec is the quarterly plan of the fixtures: a wait, a pod kill, a timed
// region cutover and an exec fault.
func spec() v1alpha1.DrillPlanSpec {
	return v1alpha1.DrillPlanSpec{
		Objectives: v1alpha1.Objectives{RTO: dur(30 * time.Second), FailbackRTO: dur(45 * time.Second), Availability: "99"},
		Steps: []v1alpha1.Step{
			{Name: "baseline", Wait: dur(30 * time.Second)},
			{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}},
			{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "us-east", To: "us-west"}, Duration: dur(time.Minute)}},
			{Name: "dns", Fault: &v1alpha1.Fault{Exec: &v1alpha1.ExecFault{}}},
		},
	}
}

func verdict(objective string, pass bool) v1alpha1.ObjectiveVerdict {
	if pass {
		return v1alpha1.ObjectiveVerdict{Objective: objective, Verdict: v1alpha1.VerdictPass}
	}
	return v1alpha1.ObjectiveVerdict{Objective: objective, Verdict: v1alpha1.VerdictFail}
}

// recovered is a recovery of service and capacity RTOs.
func recovered(objective string, service, capacity time.Duration) *v1alpha1.Recovery {
	return &v1alpha1.Recovery{
		ServiceRTO: dur(service), CapacityRTO: dur(capacity), RecoveryTime: dur(max(service, capacity)),
		Recovered: true, CapacityTracked: true, Verdicts: []v1alpha1.ObjectiveVerdict{verdict(objective, true)}, Verdict: v1alpha1.VerdictPass,
	}
}

// finishedRun is a run of the quarterly plan that started at t0+start and
// took 5 minutes: the pod kill and the cutover recovered, the exec fault
// did not and its revert failed, so the run ended in Error.
func finishedRun(id string, start time.Duration) *report.Report {
	rep := &report.Report{RunID: id, Plan: report.Plan{Name: "quarterly", Spec: spec()}}
	rep.Phase, rep.Verdict = v1alpha1.RunError, v1alpha1.VerdictNotJudged
	rep.StartTime, rep.CompletionTime = at(start), at(start+5*time.Minute)
	rep.Baseline = &v1alpha1.CheckResult{Verdicts: []v1alpha1.ObjectiveVerdict{verdict("availability", true)}, Verdict: v1alpha1.VerdictPass}
	rep.Overall = &v1alpha1.CheckResult{Verdicts: []v1alpha1.ObjectiveVerdict{verdict("availability", false)}, Verdict: v1alpha1.VerdictFail}
	rep.Steps = []v1alpha1.StepResult{
		{Name: "baseline", Kind: v1alpha1.StepWait, Phase: v1alpha1.RunSucceeded},
		{Name: "kill", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunSucceeded, Fault: &v1alpha1.FaultResult{
			Type: "podKill", Injected: at(start + 30*time.Second), Verdict: v1alpha1.VerdictPass,
			Failover: recovered("rto", 80*time.Millisecond, 2300*time.Millisecond),
		}},
		{Name: "cutover", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunSucceeded, Fault: &v1alpha1.FaultResult{
			Type: "regionCutover", Injected: at(start + time.Minute), Reverted: at(start + 2*time.Minute), RevertFinished: at(start + 2*time.Minute + time.Second),
			Verdict:  v1alpha1.VerdictPass,
			Failover: recovered("rto", 0, 0),
			Failback: recovered("failbackRTO", 5*time.Millisecond, 1520*time.Millisecond),
		}},
		{Name: "dns", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunError, Fault: &v1alpha1.FaultResult{
			Type: "exec", Injected: at(start + 3*time.Minute), Error: "revert: exit status 1", Verdict: v1alpha1.VerdictFail,
			Failover: &v1alpha1.Recovery{
				CapacityTracked: false, Verdicts: []v1alpha1.ObjectiveVerdict{verdict("rto", false)}, Verdict: v1alpha1.VerdictFail,
			},
		}},
	}
	return rep
}

// succeededRun is a run that passed everything, starting at t0+start and
// taking 4 minutes; its faults recovered in 1 s and 12 s.
func succeededRun(id string, start time.Duration) *report.Report {
	rep := finishedRun(id, start)
	rep.Phase, rep.Verdict = v1alpha1.RunSucceeded, v1alpha1.VerdictPass
	rep.CompletionTime = at(start + 4*time.Minute)
	rep.Overall.Verdicts, rep.Overall.Verdict = []v1alpha1.ObjectiveVerdict{verdict("availability", true)}, v1alpha1.VerdictPass
	rep.Steps[1].Fault.Failover = recovered("rto", time.Second, 500*time.Millisecond)
	dns := rep.Steps[3]
	dns.Phase = v1alpha1.RunSucceeded
	dns.Fault = &v1alpha1.FaultResult{Type: "exec", Injected: at(start + 3*time.Minute), Verdict: v1alpha1.VerdictPass,
		Failover: &v1alpha1.Recovery{ServiceRTO: dur(12 * time.Second), RecoveryTime: dur(12 * time.Second), Recovered: true,
			Verdicts: []v1alpha1.ObjectiveVerdict{verdict("rto", true)}, Verdict: v1alpha1.VerdictPass}}
	rep.Steps[3] = dns
	return rep
}

// liveRun is a run in progress at t0+start+70s: the pod kill is done and
// the cutover is in effect; nothing has completed.
func liveRun(id string, start time.Duration) *report.Report {
	rep := finishedRun(id, start)
	rep.Phase, rep.Verdict, rep.CompletionTime, rep.Overall, rep.CurrentStep = v1alpha1.RunRunning, "", nil, nil, "cutover"
	rep.Steps[2].Phase = v1alpha1.RunRunning
	rep.Steps[2].Fault.Reverted, rep.Steps[2].Fault.RevertFinished, rep.Steps[2].Fault.Failback = nil, nil, nil
	rep.Steps[3] = v1alpha1.StepResult{Name: "dns", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunPending}
	return rep
}

// abortedRun is a run stopped at t0+start+90s, by its abort condition
// (verdict Fail) or on request (NotJudged).
func abortedRun(id string, start time.Duration, verdict v1alpha1.Verdict) *report.Report {
	rep := finishedRun(id, start)
	rep.Phase, rep.Verdict, rep.CompletionTime = v1alpha1.RunAborted, verdict, at(start+90*time.Second)
	rep.Steps = rep.Steps[:2]
	return rep
}
