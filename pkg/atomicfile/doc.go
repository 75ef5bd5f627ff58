// Package atomicfile writes files so that a reader, or the next start after
// a crash, sees either the old content or the new content, never a torn
// write: the data goes to a temporary file in the same directory, is synced,
// renamed over the target, and the directory is synced.
package atomicfile
