// Package sums reads and writes a report set's SHA256SUMS manifest, in the
// format of GNU sha256sum ("<hex>  <name>" per line, sorted by name), so
// `sha256sum -c SHA256SUMS` checks an archived report without firedrill.
// The digest of the manifest itself identifies the whole set.
package sums
