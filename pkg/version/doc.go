// Package version reports the build's version, commit and Go version. The
// Makefile sets Version and Commit with -ldflags -X.
package version
