// Package supervisor keeps every region of the sandbox at its desired number
// of recommender replicas, as a Kubernetes ReplicaSet and scheduler would.
//
// Replicas are placed on simulated nodes (spread: the least loaded
// schedulable node first; a cordoned node, one whose GPU failed or one at
// podsPerNode is not schedulable). A replica that dies is replaced after StartDelay, which
// models scheduling and container start, so every recovery includes a real
// process start and model load. Readiness is the replica's /readyz. Drains
// start a replacement on another node first when there is room, then stop
// the node's replicas gracefully, honouring MaxUnavailable. A region that
// is down (a region cutover) keeps no replicas until it is brought back.
//
// Process handling is behind the small Runtime interface so the logic is
// tested with fakes and a fake clock; the sandbox's Runtime starts real
// processes.
package supervisor
