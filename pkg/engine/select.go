package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
)

// FaultType names the fault type set in f.
func FaultType(f *v1alpha1.Fault) string { return runstate.FaultType(f) }

func selectionOf(f *v1alpha1.Fault) *v1alpha1.Selection {
	switch {
	case f.PodKill != nil:
		return &f.PodKill.Selection
	case f.NodeDrain != nil:
		return &f.NodeDrain.Selection
	case f.GPUFailure != nil:
		return &f.GPUFailure.Selection
	}
	return nil
}

// Resolution is what a fault step would act on.
type Resolution struct {
	Step string
	Type string
	// Candidates match the fault's selector; Picked are the ones it acts on.
	Candidates []evidence.Target
	Picked     []evidence.Target
}

// resolve lists a fault's candidates, picks the targets and checks the
// plan's blast-radius limits. The pick is pseudo-random but reproducible
// for a run id.
func resolve(ctx context.Context, p platform.Platform, spec *v1alpha1.DrillPlanSpec, runID string, st *v1alpha1.Step) (Resolution, error) {
	f := st.Fault
	res := Resolution{Step: st.Name, Type: FaultType(f)}
	if f.Exec != nil {
		t := evidence.Target{Kind: evidence.KindAction, Name: st.Name}
		res.Candidates, res.Picked = []evidence.Target{t}, []evidence.Target{t}
		return res, nil
	}
	cands, err := p.Targets(ctx, platform.Fault{ID: st.Name, RunID: runID, Spec: f})
	if err != nil {
		return res, fmt.Errorf("step %s: resolving targets: %w", st.Name, err)
	}
	if len(cands) == 0 {
		return res, fmt.Errorf("step %s: %s matches no targets", st.Name, res.Type)
	}
	slices.SortFunc(cands, func(a, b evidence.Target) int { return strings.Compare(a.Name, b.Name) })
	res.Candidates = cands
	n := len(cands)
	if sel := selectionOf(f); sel != nil {
		n = v1alpha1.SelectCountOf(*sel, len(cands))
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(runID + "/" + st.Name))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5eed)) //nolint:gosec // reproducible choice, not security.
	perm := rng.Perm(len(cands))
	for _, i := range perm[:n] {
		res.Picked = append(res.Picked, cands[i])
	}
	slices.SortFunc(res.Picked, func(a, b evidence.Target) int { return strings.Compare(a.Name, b.Name) })
	return res, checkBlastRadius(spec, res, f)
}

func checkBlastRadius(spec *v1alpha1.DrillPlanSpec, res Resolution, f *v1alpha1.Fault) error {
	s := spec.Safety
	switch {
	case f.PodKill != nil && s.MaxPodsPercent != nil:
		if len(res.Picked)*100 > int(*s.MaxPodsPercent)*len(res.Candidates) {
			return fmt.Errorf("step %s: refusing to kill %d of %d pods (%d%%): safety.maxPodsPercent is %d",
				res.Step, len(res.Picked), len(res.Candidates), len(res.Picked)*100/len(res.Candidates), *s.MaxPodsPercent)
		}
	case f.NodeDrain != nil && s.MaxNodes != nil:
		if len(res.Picked) > int(*s.MaxNodes) {
			return fmt.Errorf("step %s: refusing to drain %d nodes: safety.maxNodes is %d", res.Step, len(res.Picked), *s.MaxNodes)
		}
	case f.GPUFailure != nil && s.MaxNodes != nil:
		if len(res.Picked) > int(*s.MaxNodes) {
			return fmt.Errorf("step %s: refusing to fail the GPUs of %d nodes: safety.maxNodes is %d", res.Step, len(res.Picked), *s.MaxNodes)
		}
	}
	return nil
}

// DryRun resolves what each step of p would do, touching nothing.
func DryRun(ctx context.Context, p platform.Platform, spec *v1alpha1.DrillPlanSpec, runID string) ([]Resolution, error) {
	var out []Resolution
	var errs []error
	for i := range spec.Steps {
		st := &spec.Steps[i]
		if st.Fault == nil {
			out = append(out, Resolution{Step: st.Name, Type: "wait"})
			continue
		}
		res, err := resolve(ctx, p, spec, runID, st)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}
