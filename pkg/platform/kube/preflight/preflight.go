package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
	"github.com/firedrill/firedrill/pkg/platform/kube/storeoutage"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
	"github.com/firedrill/firedrill/pkg/platform/kube/workloads"
)

// Checker checks a plan's faults against one cluster. Every check reads
// the cluster live and changes nothing.
type Checker struct {
	// Client reads live.
	Client client.Reader
	// Discovery says whether the cluster serves Chaos Mesh.
	Discovery chaos.Discovery
	// Switcher checks traffic switches.
	Switcher traffic.Switcher
	// Outage checks model store outages.
	Outage storeoutage.Outage
	// Cutover expands regions.
	Cutover region.Cutover
	// GPU checks GPU failures.
	GPU gpu.Failer
	// Namespace is the target namespace.
	Namespace string
	// Allowed are the namespaces faults may touch (safety.namespaces).
	Allowed []string
	// Scope says which region the cluster is in a fleet; on one cluster
	// it is empty.
	Scope objects.Scope
}

// Step checks one step's fault and returns every problem, each prefixed
// with the step's name; nil when the step has no fault or its fault fits.
// In a fleet (Scope.Cluster set) a fault that acts in another cluster is
// that cluster's to check; a cutover to this cluster checks only that the
// cluster can take over.
func (c Checker) Step(ctx context.Context, st v1alpha1.Step) error {
	f := st.Fault
	if f == nil || f.Exec != nil {
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("step %s: %w", st.Name, err))
		}
	}
	switch {
	case f.PodKill != nil:
		if !c.here(f.PodKill.Region) {
			return nil
		}
		ns := f.PodKill.Namespace
		if ns == "" {
			ns = c.Namespace
		}
		add(objects.NamespaceAllowed(c.Allowed, ns))
		_, err := objects.SelectorOf(f.PodKill.Selector)
		add(err)
	case f.NodeDrain != nil:
		if !c.here(f.NodeDrain.Region) {
			return nil
		}
		_, err := objects.SelectorOf(f.NodeDrain.Selector)
		add(err)
	case f.GPUFailure != nil:
		g := f.GPUFailure
		if !c.here(g.Region) {
			return nil
		}
		sel, err := objects.SelectorOf(g.Selector)
		add(err)
		if err == nil {
			add(c.GPU.Check(ctx, objects.NodeFilter{Selector: sel, Region: g.Region, GPUOnly: true, Scope: c.Scope}, g.Selection, gpu.SettingsOf(g)))
		}
	case f.RegionCutover != nil:
		for _, err := range c.cutover(ctx, f.RegionCutover) {
			add(err)
		}
	case f.ModelStoreOutage != nil:
		if !c.here(f.ModelStoreOutage.Region) {
			return nil
		}
		for _, err := range c.storeOutage(ctx, f.ModelStoreOutage) {
			add(err)
		}
	case f.ChaosMesh != nil:
		add(chaos.Check(c.Discovery, f.ChaosMesh.Kind))
	}
	return errors.Join(errs...)
}

// here says whether a fault that names region acts in this cluster.
func (c Checker) here(region string) bool {
	return c.Scope.Cluster == "" || region == "" || region == c.Scope.Cluster
}

// cutover checks a region cutover: its regions differ, a manual one has a
// switch whose objects exist, the surviving region can take over, and the
// lost region has something to take down.
func (c Checker) cutover(ctx context.Context, rc *v1alpha1.RegionCutover) []error {
	if c.Scope.Cluster != "" && rc.From != c.Scope.Cluster {
		if rc.To == c.Scope.Cluster {
			return []error{c.Survivor(ctx, rc.To)}
		}
		return nil
	}
	if rc.From == rc.To {
		return []error{fmt.Errorf("region cutover from %s to itself", rc.From)}
	}
	var errs []error
	if rc.Traffic == v1alpha1.TrafficManual {
		if rc.Switch == nil {
			errs = append(errs, errors.New("region cutover with manual traffic needs a switch action"))
		} else {
			errs = append(errs, c.Switcher.CheckObjects(ctx, rc))
		}
	}
	if c.Scope.Cluster == "" {
		errs = append(errs, c.Survivor(ctx, rc.To))
	}
	members, err := c.Cutover.Members(ctx, region.Region{Cutover: rc, Scope: c.Scope})
	switch {
	case err != nil:
		errs = append(errs, err)
	case rc.Method == v1alpha1.CutoverScaleToZero && len(members.Workloads) == 0:
		errs = append(errs, fmt.Errorf("region %s has no Deployment or StatefulSet with replicas in %v to scale to zero", rc.From, c.Allowed))
	case rc.Method != v1alpha1.CutoverScaleToZero && len(members.Nodes) == 0:
		errs = append(errs, fmt.Errorf("region %s has no schedulable node (label %s) to take down", rc.From, objects.LabelRegion))
	}
	return errs
}

// Survivor checks that region has a schedulable node to take over a lost
// region: a node labelled with it on one cluster, any node of the cluster
// (not labelled with another region) in a fleet.
func (c Checker) Survivor(ctx context.Context, regionName string) error {
	var list corev1.NodeList
	if err := c.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	for i := range list.Items {
		n := &list.Items[i]
		if !n.Spec.Unschedulable && c.Scope.NodeRegion(n) == regionName {
			return nil
		}
	}
	if c.Scope.Cluster != "" {
		return fmt.Errorf("the cluster of region %s has no schedulable node to take over", regionName)
	}
	return fmt.Errorf("region %s has no schedulable node (label %s) to take over", regionName, objects.LabelRegion)
}

// storeOutage checks a model store outage: the store is named, allowed and
// exists, and the mode and method work on this cluster.
func (c Checker) storeOutage(ctx context.Context, o *v1alpha1.ModelStoreOutage) []error {
	var errs []error
	if err := c.Outage.CheckMode(o); err != nil {
		errs = append(errs, err)
	}
	ref, err := c.Outage.StoreRef()
	if err != nil {
		return append(errs, err)
	}
	if _, err := workloads.Get(ctx, c.Client, ref); apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("system.modelStore.workload %s does not exist", objects.WorkloadName(ref)))
	} else if err != nil {
		errs = append(errs, fmt.Errorf("getting %s: %w", objects.WorkloadName(ref), err))
	}
	return errs
}

// Missing says which watched workloads of system.workloads were not found
// (where says where they were looked for), or nil.
func Missing(missing []string, where string) error {
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("system.workloads: %s not found%s", strings.Join(missing, ", "), where)
}
