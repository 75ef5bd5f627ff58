// Package index is the archive's catalogue: one small Entry per archived run
// (plan, run id, phase, verdict, start and end, trigger, and for every fault
// its failover and fail-back recovery time against the objective, its
// availability and p99), kept in one file so listing, diffing and trending
// thousands of runs never parses a report. The HTML report's trend, the
// drill reports commands and the future dashboard and metrics all read it.
//
// An Entry is derived from a report by FromReport, a pure function, so an
// index can always be rebuilt from the reports it describes.
package index
