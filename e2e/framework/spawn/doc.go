// Package spawn starts and stops the control plane's component processes
// for framework: from one locked OS thread so that Pdeathsig holds, each in
// its own process group with its log in a file, on free loopback ports
// that no two clusters of one test binary share.
package spawn
