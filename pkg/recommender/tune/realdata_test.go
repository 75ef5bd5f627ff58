package tune

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// The real-data harness needs a data directory the repository cannot ship
// (MovieLens' licence forbids redistribution), so it runs only when
// FIREDRILL_TUNE_DATA names one, e.g. the output of
// `recommender import movielens`. See docs/recommender.md, "Results on real
// data". FIREDRILL_TUNE_GRID_FACTORS, _REGULARIZATION, _ALPHA and
// _ITERATIONS (comma-separated) replace the default hand grid.
const realDataEnv = "FIREDRILL_TUNE_DATA"

// gridValues reads a comma-separated list from the environment variable
// FIREDRILL_TUNE_GRID_<name>, or returns def.
func gridValues(t *testing.T, name string, def []float64) []float64 {
	t.Helper()
	s := os.Getenv("FIREDRILL_TUNE_GRID_" + name)
	if s == "" {
		return def
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		require.NoError(t, err, "FIREDRILL_TUNE_GRID_%s", name)
		out = append(out, v)
	}
	return out
}

// gridPoint is one hand-grid setting scored on both folds.
type gridPoint struct {
	opts             train.ALSOptions
	validation, test float64
}

// TestTunedALSMatchesTheHandGridOnRealData compares tuned ALS, within the
// default budget, with the best point of a hand grid, both scored the same
// two ways: NDCG@10 on the validation fold tuning searches on (fitted on
// its training part), and NDCG@10 on the user split's test items (fitted
// on the user split's training part, as `recommender eval` does). Tuning
// never sees the test items; they are scored only after it ends.
func TestTunedALSMatchesTheHandGridOnRealData(t *testing.T) {
	dir := os.Getenv(realDataEnv)
	if dir == "" {
		t.Skipf("set %s to a data directory (see docs/recommender.md) to run the real-data tuning harness", realDataEnv)
	}
	ctx := t.Context()
	ds, err := data.Read(ctx, dir)
	require.NoError(t, err)
	workers := runtime.GOMAXPROCS(0)
	test := eval.UserSplit(ds, eval.Options{})
	val := validationFold(test.Train, Options{}.withDefaults())
	score := func(f *eval.Fold, o train.ALSOptions) float64 {
		o.Workers = workers
		fa, err := train.ALS(ctx, f.Train, o)
		require.NoError(t, err)
		ndcg, _, err := eval.Score(ctx, f, eval.ALSScorer(fa, f.Train.Items), eval.Options{Workers: workers})
		require.NoError(t, err)
		return ndcg
	}

	// The hand grid of docs/recommender.md unless the environment says
	// otherwise.
	var grid []gridPoint
	for _, f := range gridValues(t, "FACTORS", []float64{64, 128}) {
		for _, reg := range gridValues(t, "REGULARIZATION", []float64{30, 100, 300}) {
			for _, a := range gridValues(t, "ALPHA", []float64{3, 10, 30}) {
				for _, it := range gridValues(t, "ITERATIONS", []float64{10}) {
					o := train.ALSOptions{Factors: int(f), Regularization: reg, Alpha: a, Iterations: int(it)}
					p := gridPoint{opts: o, validation: score(val, o), test: score(test, o)}
					t.Logf("grid  factors %3d  λ %6g  α %5g  iterations %2d  validation %.4f  test %.4f", int(f), reg, a, int(it), p.validation, p.test)
					grid = append(grid, p)
				}
			}
		}
	}
	byVal, byTest := grid[0], grid[0]
	for _, p := range grid {
		if p.validation > byVal.validation {
			byVal = p
		}
		if p.test > byTest.test {
			byTest = p
		}
	}

	res, err := Run(ctx, test.Train, train.Options{}, Options{})
	require.NoError(t, err)
	var tuned ModelResult
	for _, m := range res.Models {
		if m.Model == eval.ModelALS {
			tuned = m
		}
	}
	require.True(t, tuned.Tuned)
	tunedTest := score(test, res.Options.ALS)
	a := res.Options.ALS
	t.Logf("tuned factors %3d  λ %6g  α %5g  iterations %2d  validation %.4f  test %.4f  (%d fits; tuning took %s, stopped: %s)",
		a.Factors, a.Regularization, a.Alpha, a.Iterations, tuned.NDCG, tunedTest, tuned.Trials, res.Elapsed.Round(time.Millisecond), res.Stop)
	t.Logf("best grid point by validation: %s", describe(byVal))
	t.Logf("best grid point by test:       %s", describe(byTest))
	require.GreaterOrEqual(t, tuned.NDCG, byVal.validation-0.01, "validation: tuned ALS within 0.01 of the best hand-grid point")
	require.GreaterOrEqual(t, tunedTest, byTest.test-0.01, "test: tuned ALS within 0.01 of the best hand-grid point chosen on the test split itself")
}

func describe(p gridPoint) string {
	return fmt.Sprintf("factors %d, λ %g, α %g, %d iterations: validation %.4f, test %.4f",
		p.opts.Factors, p.opts.Regularization, p.opts.Alpha, p.opts.Iterations, p.validation, p.test)
}
