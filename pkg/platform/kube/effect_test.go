package kube

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

func TestEvictionRecorder(t *testing.T) {
	tests := []struct {
		name     string
		evictErr error
		want     int
	}{
		{name: "an accepted eviction took effect", want: 1},
		{name: "an eviction refused by a disruption budget did not",
			evictErr: apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)},
		{name: "a missing pod did not", evictErr: apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "eviction" {
					return false, nil, nil
				}
				return true, nil, tt.evictErr
			})
			calls := 0
			rec := evictionRecorder{Interface: cs, onEvicted: func() { calls++ }}
			err := rec.PolicyV1().Evictions("ns").Evict(context.Background(), &policyv1.Eviction{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
			})
			if tt.evictErr != nil {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.want, calls)
		})
	}
}

func TestTookEffectKeepsTheFirstInstant(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	spec := &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "ns"}}
	p := newPlatform(Options{Spec: spec, Clock: clk}, nil, fake.NewClientset(), nil, nil)
	f := platform.Fault{ID: "drain", RunID: "r"}

	_, ok := p.TookEffect(f)
	require.False(t, ok, "nothing took effect yet")
	first := clk.Now()
	p.tookEffect(f.ID)
	clk.Step(3 * time.Second)
	p.tookEffect(f.ID)
	got, ok := p.TookEffect(f)
	require.True(t, ok)
	require.Equal(t, first, got, "the first eviction, not the end of the drain")
}
