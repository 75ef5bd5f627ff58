package workloads

import (
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// GPUFleetDeployment returns a Deployment of a region's GPU fleet: like
// RecommenderDeployment (one nvidia.com/gpu per pod, pinned to the region's
// GPU nodes, tolerating kwok's taint) but named name, with the extra label
// model=<name> so that fleets of one region do not share a selector, and a
// termination grace period of graceSeconds (kwok removes a deleted pod
// after a random delay between 1 s and that period).
func GPUFleetDeployment(ns, name, region string, replicas int32, graceSeconds int64) *appsv1.Deployment {
	d := RecommenderDeployment(ns, region, replicas)
	d.Name = name
	labels := maps.Clone(d.Labels)
	labels["model"] = name
	d.Labels = labels
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: maps.Clone(labels)}
	d.Spec.Template.Labels = maps.Clone(labels)
	d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(graceSeconds)
	return d
}

// FleetPDB returns a PodDisruptionBudget for a fleet Deployment allowing
// maxUnavailable of its pods to be down ("100%" lets a whole region go, as
// a region cutover needs, while still sending every eviction through the
// budget check).
func FleetPDB(d *appsv1.Deployment, maxUnavailable string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, Labels: d.Labels},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.Parse(maxUnavailable)),
			Selector:       d.Spec.Selector.DeepCopy(),
		},
	}
}
