package cleanup

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
)

// t0 anchors every fake clock.
var t0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// fakePlatform records the recoveries cleanup asks of it and acts on the
// clusters it is given; the rest of platform.Platform is platform.None's.
type fakePlatform struct {
	platform.None
	mu       sync.Mutex
	calls    []string
	clusters []evidence.Cluster
}

func newFakePlatform() *fakePlatform { return &fakePlatform{} }

func (p *fakePlatform) Name() string { return "fake" }

func (p *fakePlatform) Recover(_ context.Context, f platform.Fault, ts []evidence.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("recover %s %s", f.ID, evidence.TargetNames(ts)))
	return nil
}

func (p *fakePlatform) Clusters() []evidence.Cluster { return p.clusters }

// Calls are the recoveries asked so far.
func (p *fakePlatform) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// fakeActions runs runbook actions on the fake clock: each takes took and
// calls do when it starts.
type fakeActions struct {
	clk  *clocktesting.FakeClock
	took time.Duration
	do   func(a *v1alpha1.Action, phase string, started time.Time) error
}

func (f *fakeActions) Run(ctx context.Context, a *v1alpha1.Action, extra map[string]string) (action.Result, error) {
	res := action.Result{Started: f.clk.Now(), ExitCode: 0}
	if t := action.TrackerFrom(ctx); t != nil {
		if err := t.Starting(action.InFlight{Token: extra["FIREDRILL_PHASE"], Kind: "command", What: strings.Join(a.Command, " ")}); err != nil {
			return res, err
		}
	}
	var err error
	if f.do != nil {
		err = f.do(a, extra["FIREDRILL_PHASE"], res.Started)
	}
	f.clk.Step(f.took)
	res.Finished = f.clk.Now()
	if err != nil {
		res.ExitCode = 1
	}
	return res, err
}
