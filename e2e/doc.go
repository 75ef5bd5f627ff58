// Package e2e holds firedrill's end-to-end tests of the test bed itself: a
// real control plane (package framework) comes up, simulated GPU nodes go
// Ready, firedrill's CRDs and example plans are accepted by a real API
// server, GPU workloads are scheduled, and drains respect
// PodDisruptionBudgets.
//
// The tests carry the e2e build tag; run them with `make e2e` (docs/e2e.md).
package e2e
