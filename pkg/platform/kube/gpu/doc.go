// Package gpu makes the GPUs of Kubernetes nodes fail and brings them back
// (the gpuFailure fault).
//
// A GPU that fails (Xid 79, "fell off the bus", or an uncorrectable ECC
// error) is reported unhealthy by NVIDIA's device plugin, and the kubelet
// drops the node's nvidia.com/gpu allocatable by one while its capacity
// stays. The pods on the failed GPU are dead to their users; a
// remediation (node-problem-detector with a remediator, a cloud's
// auto-repair) removes them and, once every GPU of the node is gone,
// taints the node so that nothing is scheduled there any more.
//
// A failure here does the same through the API, in an order a crash can
// interrupt anywhere: it checks that the other nodes can take the pods it
// will remove (package placement), writes its record (the prior
// allocatable, how many GPUs fail, the taint it will add) into the node's
// marks, patches the node's status subresource (the allocatable the
// scheduler honours), deletes the GPU pods that no longer fit (youngest
// first: a PodDisruptionBudget does not cover a hardware failure, and the
// taint-eviction controller deletes, too) and, when every GPU failed,
// adds a NoExecute taint, whose eviction of the node's remaining pods is
// left to the real taint-eviction controller. Restore undoes what the
// record says, and nothing a fault's own marks do not record.
package gpu
