// Package fleet drills a system whose regions are separate clusters
// (target.clusters): one Member platform per cluster, each scoped to its
// region. The fleet routes a fault to the cluster of the region it names
// (every cluster when it names none), a target to the cluster its Region
// names, and a region cutover to the lost cluster after checking the
// surviving one can take over. It forwards its members' events, their
// notes prefixed with the cluster's region, and merges their capacity.
//
// Member is defined here, where it is consumed; the Kubernetes platform
// implements it.
package fleet
