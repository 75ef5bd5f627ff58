// Package golden compares test output with golden files under testdata and
// rewrites them when tests run with -update.
package golden
