package nodes

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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
			rec := EvictionRecorder{Interface: cs, OnEvicted: func() { calls++ }}
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
