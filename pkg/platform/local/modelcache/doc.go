// Package modelcache is the sandbox's model: generated and trained on
// first use from the plan's target.local.model (Spec), cached by spec under
// $XDG_CACHE_HOME/firedrill/models (DefaultDir) so that later sandboxes
// start in seconds, and pushed to a region's OCI model store (Push).
//
// A cache entry appears atomically (built in a temporary directory, then
// renamed), so a crash never leaves a half-written model behind and
// concurrent builders agree on one; builds a killed process left are
// removed after an hour.
package modelcache
