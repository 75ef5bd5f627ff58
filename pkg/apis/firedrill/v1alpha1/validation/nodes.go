package validation

// The node faults' validation: nodeDrain, gpuFailure and what they share
// (the count of nodes a selection picks against safety.maxNodes).

import (
	"fmt"
	"math"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func (v *validator) nodeDrain(p *field.Path, d *v1alpha1.NodeDrain) {
	v.selector(p.Child("selector"), d.Selector)
	v.checkRegion(p.Child("region"), d.Region)
	if d.GracePeriod != nil {
		v.durationRange(p.Child("gracePeriod"), d.GracePeriod, 0, time.Hour)
	}
	if d.Timeout != nil {
		v.durationRange(p.Child("timeout"), d.Timeout, time.Second, time.Hour)
	}
	switch d.OnInsufficientCapacity {
	case v1alpha1.CapacityRefuse, v1alpha1.CapacityWarn:
	default:
		v.add(field.NotSupported(p.Child("onInsufficientCapacity"), d.OnInsufficientCapacity, []v1alpha1.CapacityPolicy{v1alpha1.CapacityRefuse, v1alpha1.CapacityWarn}))
	}
	n := -1
	if v.local() != nil {
		n = v.localNodes(d.Region, d.GPUOnly)
	}
	v.nodeCount(p, &d.Selection, n, "drains")
}

// localNodes counts the sandbox nodes of region (every region when empty),
// GPU nodes only with gpuOnly.
func (v *validator) localNodes(region string, gpuOnly bool) int {
	n := 0
	for _, r := range v.local().Regions {
		if (region == "" || r.Name == region) && r.Nodes != nil {
			nodes := int(*r.Nodes)
			if gpuOnly && r.GPUNodes != nil {
				nodes = int(*r.GPUNodes)
			}
			n += nodes
		}
	}
	return n
}

// nodeCount checks the selection of a node fault against the n matching
// nodes (-1 when unknown offline) and safety.maxNodes; what says what the
// fault does to the nodes ("drains").
func (v *validator) nodeCount(p *field.Path, s *v1alpha1.Selection, n int, what string) {
	picked := v.selection(p, s, n)
	if s.Mode == v1alpha1.SelectCount && s.Value != nil && n >= 0 && int(*s.Value) > n {
		v.add(field.Invalid(p.Child("value"), *s.Value, fmt.Sprintf("only %d matching nodes exist", n)))
		return
	}
	maxNodes := int32(math.MaxInt32)
	if v.spec.Safety.MaxNodes != nil {
		maxNodes = *v.spec.Safety.MaxNodes
	}
	want := picked
	if want < 0 {
		switch s.Mode {
		case v1alpha1.SelectOne:
			want = 1
		case v1alpha1.SelectCount:
			if s.Value != nil {
				want = int(*s.Value)
			}
		}
	}
	if want > int(maxNodes) {
		fp := p.Child("value")
		if s.Mode != v1alpha1.SelectCount {
			fp = p.Child("mode")
		}
		v.add(field.Invalid(fp, want, fmt.Sprintf("%s %d nodes, which exceeds safety.maxNodes (%d)", what, want, maxNodes)))
	}
	if s.Mode == v1alpha1.SelectAll && n < 0 && maxNodes < math.MaxInt32 {
		v.add(field.Invalid(p.Child("mode"), s.Mode, fmt.Sprintf("%s every matching node; set a count within safety.maxNodes (%d)", what, maxNodes)))
	}
}

// MaxGPUsPerNode bounds gpuFailure.gpus.
const MaxGPUsPerNode = 1024

func (v *validator) gpuFailure(p *field.Path, g *v1alpha1.GPUFailure) {
	v.selector(p.Child("selector"), g.Selector)
	v.checkRegion(p.Child("region"), g.Region)
	if g.GracePeriod != nil {
		v.durationRange(p.Child("gracePeriod"), g.GracePeriod, 0, time.Hour)
	}
	switch g.OnInsufficientCapacity {
	case v1alpha1.CapacityRefuse, v1alpha1.CapacityWarn:
	default:
		v.add(field.NotSupported(p.Child("onInsufficientCapacity"), g.OnInsufficientCapacity, []v1alpha1.CapacityPolicy{v1alpha1.CapacityRefuse, v1alpha1.CapacityWarn}))
	}
	n := -1
	if v.local() != nil {
		if g.GPUs != nil {
			v.add(field.Forbidden(p.Child("gpus"), "a sandbox node has one GPU, which it loses whole; gpus is for kubernetes"))
		}
		if g.TaintKey != "" {
			v.add(field.Forbidden(p.Child("taintKey"), "the sandbox has no taints; a node that lost its GPU runs no replica until revert"))
		}
		n = v.localNodes(g.Region, true)
		if n == 0 {
			where := "no sandbox node"
			if g.Region != "" {
				where += " of region " + g.Region
			}
			v.add(field.Forbidden(p, where+" has a GPU to fail (target.local.regions[].gpuNodes)"))
			return
		}
	} else {
		if g.GPUs != nil && (*g.GPUs < 1 || *g.GPUs > MaxGPUsPerNode) {
			v.add(field.Invalid(p.Child("gpus"), *g.GPUs, fmt.Sprintf("must be between 1 and %d", MaxGPUsPerNode)))
		}
		if g.TaintKey != "" {
			v.taintKey(p.Child("taintKey"), g.TaintKey)
		}
	}
	v.nodeCount(p, &g.Selection, n, "fails the GPUs of")
}

// taintKey checks a taint key: a qualified name outside the prefixes
// Kubernetes reserves for its own taints.
func (v *validator) taintKey(p *field.Path, key string) {
	msgs := validation.IsQualifiedName(key)
	for _, msg := range msgs {
		v.add(field.Invalid(p, key, msg))
	}
	if len(msgs) > 0 {
		return
	}
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return
	}
	for _, reserved := range []string{"kubernetes.io", "k8s.io"} {
		if prefix == reserved || strings.HasSuffix(prefix, "."+reserved) {
			v.add(field.Invalid(p, key, "the kubernetes.io and k8s.io prefixes are reserved for the taints of Kubernetes itself, which its controllers manage"))
			return
		}
	}
}
