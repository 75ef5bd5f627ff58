// Package validation checks firedrill.dev/v1alpha1 objects, the way
// k8s.io/kubernetes/pkg/apis/core/validation checks the core API: plain
// functions, ValidateDrillPlan, ValidateDrillRun and ValidateDrillPlanSpec,
// that return every problem of a defaulted object at once as a
// field.ErrorList, each with its field path.
//
// `drill validate`, `drill run` (through pkg/plan's strict loader) and the
// controllers share these functions, so the CLI refuses what the API server
// and the controllers would. They go beyond the CRD schema: cross-field
// rules, references between fields (regions, namespaces, the safety
// limits) and selectors that can never match.
//
// The package imports the API types; the types package never imports it.
package validation
