// Package charts holds the tests of the Helm chart charts/firedrill: helm
// lint and helm template with Helm v4 and v3 over a matrix of values, the
// schema's refusals, and a golden of the default render. The chart's
// install on a real API server is tested in e2e (TestHelmChart).
package charts
