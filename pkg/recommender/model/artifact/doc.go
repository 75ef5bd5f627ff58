// Package artifact is the on-disk format of a recommender model artifact,
// without the model: the binary tables (a 16-byte header, "FDRM", the
// format version, the kind, rows and columns, then little-endian float32
// or int32 values, or uvarint-length strings) and the directory that
// holds them with its SHA256SUMS manifest.
//
// Write puts a set of files and their manifest in place atomically; Read
// verifies every checksum and maps the files read-only (MAP_POPULATE on
// Linux), so a loaded model's arrays are views of the page cache. Package
// model decides which files an artifact has and what they mean; the
// format is documented in docs/recommender.md. Every check that fails
// returns an error wrapping ErrCorrupt.
package artifact
