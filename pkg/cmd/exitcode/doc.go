// Package exitcode carries process exit codes from commands to main: a
// command that has already reported its outcome returns an *Error with the
// code, and main exits with it without printing more.
package exitcode
