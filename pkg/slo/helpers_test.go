package slo

import "github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"

// passes reports whether AnalyzeFault judges in a Pass.
func passes(in FaultInput, obj Objectives) bool {
	return AnalyzeFault(in, obj).Verdict == v1alpha1.VerdictPass
}
