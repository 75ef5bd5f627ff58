// Package procbed makes a framework cluster started with
// Options.ProcessPods process-backed (Start): it wires the node agent of
// package procpods, which runs the pods labelled workloads.ProcessLabel as
// processes, to the service proxy and gateways of package netproxy, and
// publishes the model the process-backed recommenders serve.
package procbed
