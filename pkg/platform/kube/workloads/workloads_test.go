package workloads

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

type effects int

func (e *effects) TookEffect() { *e++ }

func TestScaleToZeroBookkeeping(t *testing.T) {
	ctx := t.Context()
	c := fixtures.Client(t, interceptor.Funcs{}, fixtures.Deployment("recsys", "model-store", 3, map[string]string{"app": "model-store"}))
	ref := v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"}
	m := marks.Mark{RunID: "r1", Fault: "lose-store"}
	get := func() *appsv1.Deployment {
		var d appsv1.Deployment
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "model-store"}, &d))
		return &d
	}
	var took effects
	allowed := []string{"recsys"}

	require.NoError(t, ScaleToZero(ctx, c, allowed, ref, m, &took))
	require.NoError(t, ScaleToZero(ctx, c, allowed, ref, m, &took), "scaling is idempotent")
	d := get()
	require.Equal(t, int32(0), *d.Spec.Replicas)
	require.Equal(t, "3", d.Annotations[marks.AnnotationReplicas], "the second scale keeps the first record")
	require.Equal(t, "r1", d.Annotations[marks.AnnotationRunID])
	require.Equal(t, effects(1), took, "a workload already at zero is no new effect")

	other := marks.Mark{RunID: "r2", Fault: "lose-store"}
	require.ErrorContains(t, ScaleToZero(ctx, c, allowed, ref, other, &took), "held by run r1")
	require.NoError(t, RestoreScale(ctx, c, ref, other), "another run's restore leaves the workload alone")
	require.Equal(t, int32(0), *get().Spec.Replicas)
	require.ErrorContains(t, ScaleToZero(ctx, c, []string{"billing"}, ref, m, &took), "not in safety.namespaces")

	held, err := Marked(ctx, c, allowed, marks.Filter{})
	require.NoError(t, err)
	require.Equal(t, []marks.Object{{Target: evidence.Target{Kind: marks.KindWorkload, Name: "Deployment/recsys/model-store"}, RunID: "r1", Fault: "lose-store"}}, held)

	restored, err := RestoreMarked(ctx, c, allowed, m)
	require.NoError(t, err)
	require.Equal(t, []string{"Deployment/recsys/model-store"}, restored)
	require.NoError(t, RestoreScale(ctx, c, ref, m), "a restore after the restore is a no-op")
	d = get()
	require.Equal(t, int32(3), *d.Spec.Replicas)
	require.NotContains(t, d.Annotations, marks.AnnotationReplicas)
	require.NotContains(t, d.Annotations, marks.AnnotationRunID)
}

func TestInRegion(t *testing.T) {
	m := marks.Mark{RunID: "r1", Fault: "cutover"}
	scaled := fixtures.Deployment("recsys", "east-scaled", 0, map[string]string{"region": "east"})
	scaled.Annotations = map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover", marks.AnnotationReplicas: "2"}
	foreign := fixtures.Deployment("recsys", "east-foreign", 0, map[string]string{"region": "east"})
	foreign.Annotations = map[string]string{marks.AnnotationRunID: "r0", marks.AnnotationFault: "cutover", marks.AnnotationReplicas: "2"}
	pinned := fixtures.Deployment("recsys", "pinned", 1, map[string]string{"app": "x"})
	pinned.Spec.Template.Spec.NodeSelector = map[string]string{objects.LabelRegion: "east"}
	c := fixtures.Client(t, interceptor.Funcs{},
		fixtures.Deployment("recsys", "east", 2, map[string]string{"region": "east"}),
		fixtures.Deployment("recsys", "east-idle", 0, map[string]string{"region": "east"}),
		fixtures.Deployment("recsys", "west", 2, map[string]string{"region": "west"}),
		fixtures.Deployment("recsys", "nowhere", 2, map[string]string{"app": "y"}),
		scaled, foreign, pinned)
	tests := []struct {
		name  string
		scope objects.Scope
		want  []string
	}{
		{name: "on one cluster: labelled or pinned, with replicas or scaled by this fault",
			want: []string{"Deployment/recsys/east", "Deployment/recsys/east-scaled", "Deployment/recsys/pinned"}},
		{name: "in a fleet the cluster's workloads without a region are its region's",
			scope: objects.Scope{Cluster: "east"},
			want:  []string{"Deployment/recsys/east", "Deployment/recsys/east-scaled", "Deployment/recsys/nowhere", "Deployment/recsys/pinned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InRegion(context.Background(), c, []string{"recsys"}, "east", tt.scope, m)
			require.NoError(t, err)
			var names []string
			for _, l := range got {
				names = append(names, objects.WorkloadName(l.Ref))
			}
			require.ElementsMatch(t, tt.want, names)
		})
	}
}
