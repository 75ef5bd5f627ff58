// Package v1alpha1 holds the firedrill.dev/v1alpha1 API: DrillPlan, which
// describes a disaster-recovery drill, and DrillRun, one execution of it.
//
// The same types are read by `drill run` from YAML files and stored by the
// Kubernetes API server as custom resources; defaulting (defaults.go) and
// validation (package validation, which imports this one) are plain Go
// functions shared by the CLI and the controller. The package holds types,
// defaults, helpers and generated code, and imports only apimachinery (and
// robfig/cron to parse schedules).
//
// +kubebuilder:object:generate=true
// +groupName=firedrill.dev
package v1alpha1
