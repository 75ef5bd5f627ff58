package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every firedrill kind.
const GroupName = "firedrill.dev"

var (
	// GroupVersion is the group and version of this package's kinds.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

const (
	// KindDrillPlan is the kind of DrillPlan objects.
	KindDrillPlan = "DrillPlan"
	// KindDrillRun is the kind of DrillRun objects.
	KindDrillRun = "DrillRun"
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&DrillPlan{}, &DrillPlanList{},
		&DrillRun{}, &DrillRunList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
