// Package model is the trained, loadable recommender artifact and its query
// API.
//
// A Model is built once by the training pipeline (New), written to disk as
// one versioned artifact directory (Save) and read back by the serving side
// (Load). The artifact is a flat directory of compact little-endian binary
// files plus metadata.json and a SHA256SUMS manifest; Load verifies every
// checksum and refuses corrupt or truncated artifacts with an error wrapping
// ErrCorrupt. The file format is documented in docs/recommender.md; package
// artifact reads and writes it, this package decides what the files hold.
//
// A loaded Model is immutable and safe for concurrent use. Top-k retrieval is
// exact: Recommend scores every item with one float32 matrix-vector product
// and keeps the best k in a fixed-size heap.
package model
