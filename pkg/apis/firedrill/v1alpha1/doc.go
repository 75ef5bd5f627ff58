// Package v1alpha1 holds the firedrill.dev/v1alpha1 API: DrillPlan, which
// describes a disaster-recovery drill, and DrillRun, one execution of it.
//
// The same types are read by `drill run` from YAML files and stored by the
// Kubernetes API server as custom resources; defaulting (defaults.go) and
// validation (validation.go) are plain Go functions shared by the CLI and the
// controller. The package imports only apimachinery.
//
// +kubebuilder:object:generate=true
// +groupName=firedrill.dev
package v1alpha1
