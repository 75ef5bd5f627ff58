package tune

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// stepClock advances by step on every Now, so a budget runs out after a
// known number of clock readings, independent of the machine's speed.
type stepClock struct {
	*clocktesting.FakePassiveClock
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	t := c.FakePassiveClock.Now()
	c.SetTime(t.Add(c.step))
	return t
}

func (c *stepClock) Since(t time.Time) time.Duration { return c.FakePassiveClock.Now().Sub(t) }

func newStepClock(step time.Duration) *stepClock {
	return &stepClock{FakePassiveClock: clocktesting.NewFakePassiveClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), step: step}
}

func trainingPart(t *testing.T) *train.Matrix {
	t.Helper()
	ds, err := data.Generate(context.Background(), data.Config{Users: 600, Items: 300, Seed: 4})
	require.NoError(t, err)
	return eval.UserSplit(ds, eval.Options{}).Train
}

// small keeps fits fast under -race.
func small() train.Options {
	return train.Options{ALS: train.ALSOptions{Factors: 8, Iterations: 3}, Workers: 2}
}

func TestRunNeverDoesWorseThanTheStartingSettingsOnValidation(t *testing.T) {
	m := trainingPart(t)
	// A fixed number of trials, not a timing, bounds the run.
	res, err := Run(context.Background(), m, small(), Options{Budget: time.Hour, MaxALSBrackets: 1, MaxALSLocalTrials: 12, Clock: newStepClock(time.Millisecond)})
	require.NoError(t, err)
	require.Equal(t, StopCompleted, res.Stop)
	byModel := map[string]ModelResult{}
	for _, mr := range res.Models {
		byModel[mr.Model] = mr
		require.True(t, mr.Tuned, mr.Model)
	}
	require.Equal(t, maxKNNTrials, byModel[eval.ModelItemKNN].Trials)
	require.Equal(t, maxEASETrials, byModel[eval.ModelEASE].Trials)
	require.Equal(t, 1+alsBracket+12, byModel[eval.ModelALS].Trials, "the starting settings, one bracket, twelve local trials")
	require.Greater(t, res.Options.ALS.Factors, small().ALS.Factors, "on this data more factors than the starting 8 validate better, so the search grows them")

	// Each model's validation NDCG is at least that of the starting settings.
	fold := validationFold(m, Options{}.withDefaults())
	pop := train.Popularity(fold.Train)
	base := small().WithDefaults()
	f, err := train.ALS(context.Background(), fold.Train, base.ALS)
	require.NoError(t, err)
	baseALS, _, err := eval.Score(context.Background(), fold, eval.ALSScorer(f, m.Items), eval.Options{})
	require.NoError(t, err)
	nb, err := train.ItemKNN(context.Background(), fold.Train, base.KNN)
	require.NoError(t, err)
	baseKNN, _, err := eval.Score(context.Background(), fold, eval.ListScorer(fold.Train, nb, pop), eval.Options{})
	require.NoError(t, err)
	require.GreaterOrEqual(t, byModel[eval.ModelALS].NDCG, baseALS)
	require.GreaterOrEqual(t, byModel[eval.ModelItemKNN].NDCG, baseKNN)

	// The chosen settings are what the result reports and reproduce its score.
	f, err = train.ALS(context.Background(), fold.Train, res.Options.ALS)
	require.NoError(t, err)
	got, _, err := eval.Score(context.Background(), fold, eval.ALSScorer(f, m.Items), eval.Options{})
	require.NoError(t, err)
	require.InDelta(t, byModel[eval.ModelALS].NDCG, got, 1e-12)
	require.Equal(t, res.Options.Params()["als.factors"], byModel[eval.ModelALS].Params["als.factors"])

	best, ok := res.Best()
	require.True(t, ok)
	for _, mr := range res.Models {
		require.LessOrEqual(t, mr.NDCG, best.NDCG)
	}
	require.Contains(t, res.Metrics(), "validation/als/ndcg@10")
	require.Equal(t, "completed", res.Params()["tune.stop"])
}

func TestRunStopsAtTheBudgetWithTheBestSoFar(t *testing.T) {
	m := trainingPart(t)
	// Every clock reading costs a second: a 3 s budget leaves time for the
	// first item-kNN trial only.
	res, err := Run(context.Background(), m, small(), Options{Budget: 3 * time.Second, Clock: newStepClock(time.Second)})
	require.NoError(t, err)
	require.Equal(t, StopBudget, res.Stop)
	require.Equal(t, eval.ModelItemKNN, res.Models[1].Model)
	require.True(t, res.Models[1].Tuned)
	require.Equal(t, 1, res.Models[1].Trials)
	last := res.Models[len(res.Models)-1]
	require.Equal(t, eval.ModelALS, last.Model)
	require.False(t, last.Tuned, "no time was left for ALS")
	require.Equal(t, "8", res.Options.Params()["als.factors"], "untuned models keep the given settings")
	require.NotEmpty(t, last.Params)
	require.NotContains(t, res.Metrics(), "validation/als/ndcg@10")
}

func TestRunStopsWhenInterrupted(t *testing.T) {
	m := trainingPart(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, m, small(), Options{Clock: newStepClock(time.Millisecond)})
	require.NoError(t, err, "an interruption is not an error: the caller trains with what was found")
	require.Equal(t, StopInterrupted, res.Stop)
	require.Equal(t, small().WithDefaults().Params(), res.Options.Params(), "nothing was tried, so nothing changed")
}

func TestRunRejectsBadInput(t *testing.T) {
	m := trainingPart(t)
	_, err := Run(context.Background(), m, train.Options{ALS: train.ALSOptions{Factors: -1}}, Options{})
	require.ErrorContains(t, err, "factors must be in")
	_, err = Run(context.Background(), m, small(), Options{Budget: -time.Second})
	require.ErrorContains(t, err, "tuning budget must not be negative")
	_, err = Run(context.Background(), train.NewMatrix(3, 3, nil, nil), small(), Options{})
	require.ErrorContains(t, err, "no users to validate on")
}

func TestRunStopsInTheALSSearchWithTheBestSoFar(t *testing.T) {
	m := trainingPart(t)
	// Each clock reading costs a millisecond: item-kNN and EASE end at
	// their shares of the budget, and the budget ends while ALS
	// configurations are being fitted, after the local search has begun.
	res, err := Run(context.Background(), m, small(), Options{Budget: 500 * time.Millisecond, Clock: newStepClock(time.Millisecond)})
	require.NoError(t, err)
	require.Equal(t, StopBudget, res.Stop)
	last := res.Models[len(res.Models)-1]
	require.Equal(t, eval.ModelALS, last.Model)
	require.True(t, last.Tuned)
	require.Greater(t, last.Trials, 1+alsBracket, "more than the starting settings and a bracket were tried")
	require.Greater(t, res.Options.ALS.Factors, small().ALS.Factors, "the local search had begun and grown the factors")

	// The reported settings are the ones that scored the reported NDCG.
	fold := validationFold(m, Options{}.withDefaults())
	f, err := train.ALS(context.Background(), fold.Train, res.Options.ALS)
	require.NoError(t, err)
	got, _, err := eval.Score(context.Background(), fold, eval.ALSScorer(f, m.Items), eval.Options{})
	require.NoError(t, err)
	require.InDelta(t, last.NDCG, got, 1e-12)
	require.Equal(t, res.Options.Params()["als.factors"], last.Params["als.factors"])
}

func TestALSPerturbAndRandomConfigStayInTheSearchSpace(t *testing.T) {
	tests := []struct {
		name string
		in   train.ALSOptions
		step float64
	}{
		{"a large step from the middle", train.ALSOptions{Factors: 64, Regularization: 30, Alpha: 3, Iterations: 12, Seed: 9}, alsStepMax},
		{"a large step from the lower corner", train.ALSOptions{Factors: 8, Regularization: alsMinReg, Alpha: alsMinAlpha, Iterations: 4}, alsStepMax},
		{"a large step from the upper corner", train.ALSOptions{Factors: 256, Regularization: alsMaxReg, Alpha: alsMaxAlpha, Iterations: 18}, alsStepMax},
		{"the smallest step", train.ALSOptions{Factors: 32, Regularization: 1, Alpha: 1, Iterations: 10}, alsStepMin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &alsSearch{rng: rand.New(rand.NewPCG(1, 2))}
			moved := false
			for range 200 {
				for _, c := range []train.ALSOptions{s.perturb(tt.in, tt.step), s.randomConfig(tt.in)} {
					require.GreaterOrEqual(t, c.Regularization, float64(alsMinReg))
					require.LessOrEqual(t, c.Regularization, float64(alsMaxReg))
					require.GreaterOrEqual(t, c.Alpha, float64(alsMinAlpha))
					require.LessOrEqual(t, c.Alpha, float64(alsMaxAlpha))
					moved = moved || c.Regularization != tt.in.Regularization || c.Alpha != tt.in.Alpha
					// Only regularisation and alpha are searched this way.
					c.Regularization, c.Alpha = tt.in.Regularization, tt.in.Alpha
					require.Equal(t, tt.in, c)
				}
			}
			require.True(t, moved)
		})
	}
}
