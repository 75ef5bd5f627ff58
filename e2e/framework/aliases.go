package framework

import (
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/firedrill/firedrill/e2e/framework/netproxy"
	"github.com/firedrill/firedrill/e2e/framework/podnet"
	"github.com/firedrill/firedrill/e2e/framework/procpods"
	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

// The names below moved to subpackages of framework; they stay here because
// the e2e tests use them through framework.

// LoopbackImage is podnet.LoopbackImage.
func LoopbackImage(ip string) (string, error) { return podnet.LoopbackImage(ip) }

// Node labels, taint and resource (see package workloads).
const (
	KwokNodeAnnotation = workloads.KwokNodeAnnotation
	GPUResource        = workloads.GPUResource
	GPUPresentLabel    = workloads.GPUPresentLabel
)

// Workload names and ports (see package workloads).
const (
	RecommenderPort = workloads.RecommenderPort
	ModelStoreName  = workloads.ModelStoreName
	ProcessLabel    = workloads.ProcessLabel
)

// RecommenderName is workloads.RecommenderName.
func RecommenderName(region string) string { return workloads.RecommenderName(region) }

// RecommenderDeployment is workloads.RecommenderDeployment.
func RecommenderDeployment(ns, region string, replicas int32) *appsv1.Deployment {
	return workloads.RecommenderDeployment(ns, region, replicas)
}

// ModelStoreDeployment is workloads.ModelStoreDeployment.
func ModelStoreDeployment(ns string) *appsv1.Deployment { return workloads.ModelStoreDeployment(ns) }

// GPUFleetDeployment is workloads.GPUFleetDeployment.
func GPUFleetDeployment(ns, name, region string, replicas int32, graceSeconds int64) *appsv1.Deployment {
	return workloads.GPUFleetDeployment(ns, name, region, replicas, graceSeconds)
}

// FleetPDB is workloads.FleetPDB.
func FleetPDB(d *appsv1.Deployment, maxUnavailable string) *policyv1.PodDisruptionBudget {
	return workloads.FleetPDB(d, maxUnavailable)
}

// Process-backed pods and their network (see packages procpods and netproxy).
type (
	// NodeAgent is procpods.NodeAgent.
	NodeAgent = procpods.NodeAgent
	// ProcessRecord is procpods.ProcessRecord.
	ProcessRecord = procpods.ProcessRecord
	// StopReason is procpods.StopReason.
	StopReason = procpods.StopReason

	// Gateway is netproxy.Gateway.
	Gateway = netproxy.Gateway
	// ConnRecord is netproxy.ConnRecord.
	ConnRecord = netproxy.ConnRecord
)

// How a pod's process ended (see procpods.StopReason).
const (
	StopTerminated = procpods.StopTerminated
	StopKilled     = procpods.StopKilled
)
