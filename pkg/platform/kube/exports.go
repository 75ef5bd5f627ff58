package kube

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/firedrill/firedrill/pkg/platform/kube/apiclient"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
)

// The marks firedrill writes on the objects it changes or creates (see
// package marks), for callers that look for them: drill cleanup, tests.
const (
	// AnnotationRunID names the run that changed the object.
	AnnotationRunID = marks.AnnotationRunID
	// AnnotationFault names the fault (step) of that run.
	AnnotationFault = marks.AnnotationFault
	// AnnotationWasUnschedulable holds a node's spec.unschedulable before
	// the drill cordoned it.
	AnnotationWasUnschedulable = marks.AnnotationWasUnschedulable
	// AnnotationGPUFailure holds, on a node whose GPUs a gpuFailure
	// failed, what it changed: the prior nvidia.com/gpu allocatable, how
	// many GPUs failed and the taint it added.
	AnnotationGPUFailure = marks.AnnotationGPUFailure
	// AnnotationReplicas holds a workload's spec.replicas before the drill
	// scaled it.
	AnnotationReplicas = marks.AnnotationReplicas
	// AnnotationStore names, on objects a store outage creates, the store
	// they cut off.
	AnnotationStore = marks.AnnotationStore
	// AnnotationSelector holds the selector values a Service switch
	// replaced.
	AnnotationSelector = marks.AnnotationSelector
	// AnnotationWeights holds the backend weights an HTTPRoute switch
	// replaced.
	AnnotationWeights = marks.AnnotationWeights
	// LabelRunID labels objects firedrill creates with their run.
	LabelRunID = marks.LabelRunID
	// LabelFault labels objects firedrill creates with their fault.
	LabelFault = marks.LabelFault
)

// Kinds of the marked objects Marked returns besides nodes, stores and
// Chaos Mesh objects (the evidence kinds); they are never fault targets.
const (
	// KindWorkload is a Deployment or StatefulSet, Kind/namespace/name.
	KindWorkload = marks.KindWorkload
	// KindNetworkPolicy is a NetworkPolicy, namespace/name.
	KindNetworkPolicy = marks.KindNetworkPolicy
	// KindService is a Service a traffic switch rewrote, namespace/name.
	KindService = marks.KindService
	// KindHTTPRoute is an HTTPRoute a traffic switch rewrote,
	// namespace/name.
	KindHTTPRoute = marks.KindHTTPRoute
)

// Well-known names the platform reads.
const (
	// ResourceGPU is the extended resource of NVIDIA's device plugin.
	ResourceGPU = objects.ResourceGPU
	// LabelRegion is the well-known topology label of a node's region.
	LabelRegion = objects.LabelRegion
)

// MarkedObject is an object that carries a run's marks.
type MarkedObject = marks.Object

// APIStats is what the platform's clients asked of the API server.
type APIStats = apiclient.Stats

var (
	// ErrChaosMeshMissing says the cluster does not serve the Chaos Mesh
	// API.
	ErrChaosMeshMissing = chaos.ErrMissing
	// ErrGatewayAPIMissing is returned for an HTTPRoute switch on a
	// cluster without the Gateway API CRDs.
	ErrGatewayAPIMissing = traffic.ErrGatewayAPIMissing
	// ErrNoKubeconfig says no cluster configuration was found anywhere
	// firedrill looks for one.
	ErrNoKubeconfig = apiclient.ErrNoKubeconfig
)

// NewScheme is the scheme of the platform's clients: client-go's types,
// the Chaos Mesh kinds and the Gateway API kinds.
func NewScheme() (*runtime.Scheme, error) { return apiclient.NewScheme() }
