// Package oci keeps report sets in an OCI registry, one artifact per run,
// pushed with oras-go: immutable, tamper-evident evidence in a registry
// teams already run.
//
// An artifact is an OCI 1.1 image manifest of artifactType
// application/vnd.firedrill.report.v1, tagged with the run id. Its config
// blob is the run's index entry (see pkg/archive/index), its layers are the
// report set's files, each titled with its file name, and its annotations
// carry the plan, the run id, the phase, the verdict and the start time. The
// manifest's digest identifies the evidence; every layer is verified against
// its digest when read, and SHA256SUMS against the files.
//
// A push is retried with backoff when the registry is unreachable or fails
// (5xx, 429); a refused credential or an existing run with other content is
// not retried.
package oci
