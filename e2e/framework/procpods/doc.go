// Package procpods makes the pods of a framework cluster real: a NodeAgent
// stands in for the kubelet of every kwok node and runs each pod labelled
// workloads.ProcessLabel as a process bound to its IP's loopback image
// (podnet.LoopbackImage), with the container's command, environment
// (downward API and Service links), volumes, readiness probe, preStop sleep
// and grace period, and writes the pod's status back as a kubelet would.
// It refuses what it cannot run (errUnsupported) instead of guessing.
package procpods
