// Package serve is the drill serve command: the drill service for
// scheduled drills, runs on request and their history, with its HTTP API.
//
// With --plans DIR it runs on one machine (Local: the plans-directory
// runner of package plansdir behind the API of package server, tokens from
// a file); without, it runs in a cluster (runCluster, in cluster.go).
package serve
