// Package store moves recommender model artifacts between a directory and an
// OCI registry, and keeps a node-local cache of pulled artifacts keyed by
// manifest digest.
//
// An artifact is a flat directory of files. Push packs it as one OCI image
// manifest (image-spec v1.1, artifactType [ArtifactType]) in which every file
// is one layer with media type "application/vnd.firedrill.model.<name>" and
// its file name in the "org.opencontainers.image.title" annotation. The config
// blob ([ConfigMediaType]) carries the caller's metadata as JSON, and the
// manifest annotations carry the version, the creation time and the training
// data hash so that a registry listing shows them without fetching blobs.
//
// Every byte that crosses the network or is read back from the cache is checked
// against its digest: a corrupt or truncated blob in the registry is refused
// with [ErrCorrupt], and a damaged cache entry is evicted and pulled again.
// Cache entries are written to a temporary directory and renamed into place,
// so a crash never leaves a half-written entry that looks complete.
//
// The package knows nothing about models: it treats the directory as opaque.
package store
