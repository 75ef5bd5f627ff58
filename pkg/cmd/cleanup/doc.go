// Package cleanup implements `drill cleanup`: revert every fault that a
// crashed or killed run left active, from the run journals.
package cleanup
