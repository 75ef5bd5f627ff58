package archivetest

import (
	"fmt"
	"math/rand/v2"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// DrillOptions shape a synthetic drill. The zero value is a ten-minute
// drill at 50 requests/s with four faults.
type DrillOptions struct {
	// Plan names the plan; empty means "synthetic".
	Plan string
	// RunID names the run; empty means <plan>-<start>.
	RunID string
	// Start is when the drill started; zero means 2026-12-01T03:00:00Z.
	Start time.Time
	// Duration of the drill; 0 means 10 minutes.
	Duration time.Duration
	// Rate is the probe rate per second; 0 means 50.
	Rate int
	// Faults is how many faults the drill injects, evenly spread; 0
	// means 4. They cycle through podKill, nodeDrain, modelStoreOutage
	// and regionCutover; the last two are timed and have a fail-back.
	Faults int
	// Outage is how long each fault's impact lasts; 0 means 2s. Slower
	// is a factor on it, per fault, for trends (nil means 1 each).
	Outage time.Duration
	Slower []float64
	// RTO is the objective; 0 means 30s.
	RTO time.Duration
	// Seed drives the latency jitter.
	Seed uint64
}

func (o *DrillOptions) defaults() {
	if o.Plan == "" {
		o.Plan = "synthetic"
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	}
	if o.RunID == "" {
		o.RunID = o.Plan + "-" + o.Start.UTC().Format("20060102-150405-000") + "-0000"
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Minute
	}
	if o.Rate <= 0 {
		o.Rate = 50
	}
	if o.Faults <= 0 {
		o.Faults = 4
	}
	if o.Outage <= 0 {
		o.Outage = 2 * time.Second
	}
	if o.RTO <= 0 {
		o.RTO = 30 * time.Second
	}
}

// fault is one synthetic fault of a drill.
type fault struct {
	name, typ          string
	injected, reverted time.Time
	outage             time.Duration
}

var faultTypes = []string{"podKill", "nodeDrain", "modelStoreOutage", "regionCutover"}

// hold is how long a timed fault lasts.
const hold = 20 * time.Second

// Drill generates a drill's probe samples and capacity, and summarises
// them into a report with pkg/slo, as the engine does: every instant,
// RTO, window and verdict is computed, none is written by hand.
func Drill(o DrillOptions) *report.Report {
	o.defaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	end := o.Start.Add(o.Duration)
	obj := slo.Objectives{
		RTO: o.RTO, FailbackRTO: o.RTO, Availability: 95, LatencyP99: 500 * time.Millisecond,
		Recovered: slo.Criteria{SuccessRate: 99, LatencyP99: 500 * time.Millisecond, For: 3 * time.Second},
	}
	var faults []fault
	gap := o.Duration / time.Duration(o.Faults+1)
	for i := range o.Faults {
		f := fault{typ: faultTypes[i%len(faultTypes)], injected: o.Start.Add(gap * time.Duration(i+1)), outage: o.Outage}
		f.name = fmt.Sprintf("%s-%d", f.typ, i+1)
		if i < len(o.Slower) {
			f.outage = time.Duration(float64(f.outage) * o.Slower[i])
		}
		if f.typ == "modelStoreOutage" || f.typ == "regionCutover" {
			f.reverted = f.injected.Add(hold)
		}
		faults = append(faults, f)
	}
	// down says whether a request sent at t fails, and capacity how many
	// of 3 replicas are ready.
	down := func(t time.Time) bool {
		for i, f := range faults {
			if in(t, f.injected.Add(20*time.Millisecond), f.injected.Add(f.outage)) && rng.IntN(3) == 0 {
				return true
			}
			if !f.reverted.IsZero() && in(t, f.reverted.Add(10*time.Millisecond), f.reverted.Add(f.outage/2)) && rng.IntN(3) == i%2 {
				return true
			}
		}
		return false
	}
	step := time.Second / time.Duration(o.Rate)
	samples := make([]evidence.Sample, 0, int(o.Duration/step))
	for t := o.Start; t.Before(end); t = t.Add(step) {
		s := evidence.Sample{At: t, Code: 200, Latency: time.Duration(3+rng.ExpFloat64()*4) * time.Millisecond, Route: "recommend"}
		if down(t) {
			s.Code, s.Err, s.Latency = 0, evidence.ClassRefused, time.Duration(1+rng.IntN(3))*time.Millisecond
		}
		samples = append(samples, s)
	}
	var capacity []evidence.CapacityPoint
	var events []evidence.Event
	capAt := func(t time.Time, ready int) {
		capacity = append(capacity, evidence.CapacityPoint{At: t, Workload: "Deployment/recommender", Desired: 3, Ready: ready})
	}
	capAt(o.Start, 3)
	for _, f := range faults {
		capAt(f.injected.Add(50*time.Millisecond), 2)
		events = append(events,
			evidence.Event{Type: evidence.EventTookEffect, At: f.injected, Fault: f.name},
			evidence.Event{Type: evidence.EventReplaced, At: f.injected.Add(f.outage / 3), Fault: f.name, Message: "replacement replica started"})
		capAt(f.injected.Add(f.outage+200*time.Millisecond), 3)
		if !f.reverted.IsZero() {
			capAt(f.reverted.Add(30*time.Millisecond), 2)
			capAt(f.reverted.Add(f.outage/2+100*time.Millisecond), 3)
		}
	}

	r := &report.Report{
		Schema: report.SchemaVersion, RunID: o.RunID, Platform: "local", Endpoint: "http://127.0.0.1:8080", Trigger: v1alpha1.TriggerManual,
		Tool:    report.Tool{Version: "v0.0.0-test", Commit: "0000000", GoVersion: "go1.26"},
		Plan:    report.Plan{Name: o.Plan, Source: "drills/" + o.Plan + ".yaml", Hash: "sha256:synthetic", Spec: spec(o, obj, faults)},
		Samples: len(samples), Capacity: capacity, Events: events,
	}
	r.StartTime, r.CompletionTime = micro(o.Start), micro(end)
	r.Series = slo.Series(samples, o.Start, end, time.Second)
	overall := slo.Drill(samples, o.Start, end, obj)
	r.Overall = &overall
	base := slo.SteadyState(samples, o.Start, o.Start.Add(10*time.Second), obj)
	r.Baseline = &base
	fin := slo.SteadyState(samples, end.Add(-10*time.Second), end, obj)
	r.Final = &fin
	r.Steps = append(r.Steps, v1alpha1.StepResult{Name: "baseline", Kind: v1alpha1.StepWait, Phase: v1alpha1.RunSucceeded, StartTime: micro(o.Start), CompletionTime: micro(o.Start.Add(10 * time.Second))})
	pass := overall.Verdict == v1alpha1.VerdictPass
	var lastEnd time.Time
	for i, f := range faults {
		stepEnd := end
		if i+1 < len(faults) {
			stepEnd = faults[i+1].injected.Add(-time.Second)
		}
		failoverEnd := stepEnd
		if !f.reverted.IsZero() {
			failoverEnd = f.reverted
		}
		in := slo.FaultInput{
			Name: f.name, Start: f.injected, End: failoverEnd, BaselineFrom: lastEnd, Replaced: ptr.To(f.injected.Add(f.outage / 3)),
			Samples: samples, Capacity: capacity,
		}
		fr := &v1alpha1.FaultResult{Type: f.typ, Targets: []v1alpha1.FaultTarget{{Kind: "pod", Name: fmt.Sprintf("recommender-%d", i)}}, Injected: micro(f.injected)}
		fo := slo.AnalyzeFault(in, obj)
		fr.Failover = &fo
		ok := fo.Verdict == v1alpha1.VerdictPass
		if !f.reverted.IsZero() {
			fr.Reverted = micro(f.reverted)
			bin := in
			bin.Start, bin.End, bin.Failback, bin.BaselineFrom = f.reverted, stepEnd, true, f.injected
			fb := slo.AnalyzeFault(bin, obj)
			fr.Failback = &fb
			ok = ok && fb.Verdict == v1alpha1.VerdictPass
		}
		w := slo.Stats(samples, f.injected, stepEnd, obj.LatencyP99)
		fr.Window = &w
		fr.Verdict = v1alpha1.VerdictFail
		phase := v1alpha1.RunFailed
		if ok {
			fr.Verdict, phase = v1alpha1.VerdictPass, v1alpha1.RunSucceeded
		}
		pass = pass && ok
		fr.Notes = []string{"+" + report.FormatDuration(f.outage/3) + ": replacement replica started"}
		r.Steps = append(r.Steps, v1alpha1.StepResult{Name: f.name, Kind: v1alpha1.StepFault, Phase: phase, StartTime: micro(f.injected), CompletionTime: micro(stepEnd), Fault: fr})
		lastEnd = stepEnd
	}
	r.WorstRecovery = worst(r)
	r.Phase, r.Verdict = v1alpha1.RunFailed, v1alpha1.VerdictFail
	if pass {
		r.Phase, r.Verdict = v1alpha1.RunSucceeded, v1alpha1.VerdictPass
	}
	return r
}

// worst is the longest recovery against its objective, as the engine
// writes it ("6.2s/30s").
func worst(r *report.Report) string {
	out, longest := "", time.Duration(-1)
	for _, s := range r.Faults() {
		for _, nr := range report.Recoveries(s.Name, s.Fault) {
			target := "-"
			for _, v := range nr.Recovery.Verdicts {
				if v.Objective == slo.ObjectiveRTO || v.Objective == slo.ObjectiveFailbackRTO {
					target = v.Target
				}
			}
			if !nr.Recovery.Recovered {
				return "not recovered/" + target
			}
			if d := nr.Recovery.RecoveryTime.Duration; d > longest {
				longest, out = d, report.FormatDuration(d)+"/"+target
			}
		}
	}
	return out
}

func spec(o DrillOptions, obj slo.Objectives, faults []fault) v1alpha1.DrillPlanSpec {
	d := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	steps := []v1alpha1.Step{{Name: "baseline", Wait: d(10 * time.Second)}}
	for _, f := range faults {
		st := v1alpha1.Step{Name: f.name, Fault: &v1alpha1.Fault{}}
		switch f.typ {
		case "podKill":
			st.Fault.PodKill = &v1alpha1.PodKill{}
		case "nodeDrain":
			st.Fault.NodeDrain = &v1alpha1.NodeDrain{}
		case "modelStoreOutage":
			st.Fault.ModelStoreOutage = &v1alpha1.ModelStoreOutage{}
		case "regionCutover":
			st.Fault.RegionCutover = &v1alpha1.RegionCutover{}
		}
		if !f.reverted.IsZero() {
			st.Fault.Duration = d(hold)
		}
		steps = append(steps, st)
	}
	return v1alpha1.DrillPlanSpec{
		Steps:  steps,
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformLocal},
		Objectives: v1alpha1.Objectives{
			RTO: d(obj.RTO), FailbackRTO: d(obj.FailbackRTO), Availability: "95", LatencyP99: d(obj.LatencyP99),
			Recovered: v1alpha1.RecoveredCriteria{SuccessRate: "99", LatencyP99: d(obj.Recovered.LatencyP99), For: d(obj.Recovered.For)},
		},
	}
}

func in(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

func micro(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t)
	return &m
}
