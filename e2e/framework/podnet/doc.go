// Package podnet is the pod network of a process-backed e2e cluster: the
// pod CIDR it picks and the loopback image (127.x.y.z) that stands for each
// pod IP on this machine, where the node agent binds a pod's process and the
// service proxy dials it.
package podnet
