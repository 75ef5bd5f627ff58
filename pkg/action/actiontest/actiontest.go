package actiontest

import (
	"context"
	"strings"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Runner runs runbook actions on the fake clock Clock: each takes Took and
// calls Do, when set, as it starts with the action, its phase
// (FIREDRILL_PHASE) and its start time. An error from Do fails the action
// with exit code 1.
type Runner struct {
	Clock *clocktesting.FakeClock
	Took  time.Duration
	Do    func(a *v1alpha1.Action, phase string, started time.Time) error
}

// Run runs a as the engine's action runner would, on the fake clock.
func (f *Runner) Run(ctx context.Context, a *v1alpha1.Action, extra map[string]string) (action.Result, error) {
	res := action.Result{Started: f.Clock.Now(), ExitCode: 0}
	if t := action.TrackerFrom(ctx); t != nil {
		if err := t.Starting(action.InFlight{Token: extra["FIREDRILL_PHASE"], Kind: "command", What: strings.Join(a.Command, " ")}); err != nil {
			return res, err
		}
	}
	var err error
	if f.Do != nil {
		err = f.Do(a, extra["FIREDRILL_PHASE"], res.Started)
	}
	f.Clock.Step(f.Took)
	res.Finished = f.Clock.Now()
	if err != nil {
		res.ExitCode = 1
	}
	return res, err
}
