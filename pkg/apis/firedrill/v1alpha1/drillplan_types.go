package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DrillPlanSpec describes one disaster-recovery drill: the system under
// test, the synthetic load driven at it, the objectives it must meet, the
// safety limits that bound the blast radius, and the ordered steps.
type DrillPlanSpec struct {
	// Schedule is a five-field cron expression ("0 3 1 1,4,7,10 *") on which
	// `drill serve` runs the plan. Empty means on demand only.
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Suspend stops scheduled runs without deleting the plan.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Target says where the system under test runs.
	// +optional
	Target Target `json:"target,omitempty"`

	// System describes the system under test.
	// +optional
	System System `json:"system,omitempty"`

	// Load is the open-loop synthetic traffic driven at System.Endpoint for
	// the whole drill.
	// +optional
	Load Load `json:"load,omitempty"`

	// Objectives are the numbers every fault is judged against.
	// +optional
	Objectives Objectives `json:"objectives,omitempty"`

	// Abort conditions stop the drill and revert every active fault.
	// +optional
	Abort Abort `json:"abort,omitempty"`

	// Safety bounds what the drill may touch. Steps that exceed these limits
	// are rejected before anything starts.
	// +optional
	Safety Safety `json:"safety,omitempty"`

	// Steps run in order; a step marked concurrent starts together with the
	// step before it.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +required
	Steps []Step `json:"steps"`
}

// PlatformType names a platform a drill can target.
// +kubebuilder:validation:Enum=local;kubernetes;none
type PlatformType string

const (
	// PlatformLocal is the embedded sandbox: real processes on this machine.
	PlatformLocal PlatformType = "local"
	// PlatformKubernetes is a Kubernetes cluster reached through a kubeconfig.
	PlatformKubernetes PlatformType = "kubernetes"
	// PlatformNone is a service firedrill does not manage: it is drilled
	// through exec faults (runbook commands and webhooks) only.
	PlatformNone PlatformType = "none"
)

// Target says where the system under test runs.
type Target struct {
	// Platform is local (the embedded sandbox, the default), kubernetes, or
	// none (any HTTP service, drilled with exec faults only).
	// +kubebuilder:default=local
	// +optional
	Platform PlatformType `json:"platform,omitempty"`

	// Namespace holds the workloads on kubernetes. Defaults to "default".
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Context is the kubeconfig context to use; empty means the current one.
	// +optional
	Context string `json:"context,omitempty"`

	// Clusters spreads the system over several clusters, one per region,
	// each reached through its own kubeconfig context (kubernetes only,
	// instead of context). A fault naming a region acts in that region's
	// cluster; a region cutover takes the from cluster down.
	// +kubebuilder:validation:MaxItems=5
	// +listType=map
	// +listMapKey=region
	// +optional
	Clusters []Cluster `json:"clusters,omitempty"`

	// Local describes the sandbox topology when Platform is local.
	// +optional
	Local *LocalSandbox `json:"local,omitempty"`
}

// Cluster is one region's cluster in a multi-cluster target.
type Cluster struct {
	// Region served by the cluster. Its nodes need no region label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Region string `json:"region"`

	// Context is the kubeconfig context of the cluster.
	// +kubebuilder:validation:MinLength=1
	// +required
	Context string `json:"context"`
}

// LocalSandbox describes the embedded sandbox: regions of simulated nodes
// running recommender replicas, a model store per region and a front door.
type LocalSandbox struct {
	// Regions of the sandbox. Defaults to us-east and us-west.
	// +kubebuilder:validation:MaxItems=5
	// +listType=map
	// +listMapKey=name
	// +optional
	Regions []LocalRegion `json:"regions,omitempty"`

	// PrimaryRegion receives traffic from the front door until it fails.
	// Defaults to the first region.
	// +optional
	PrimaryRegion string `json:"primaryRegion,omitempty"`

	// StartDelay models a pod's scheduling and container start: a replica
	// that dies is restarted after this delay. Defaults to 1s.
	// +optional
	StartDelay *metav1.Duration `json:"startDelay,omitempty"`

	// MaxUnavailable is the disruption budget per region honoured by node
	// drains. Defaults to 1.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxUnavailable *int32 `json:"maxUnavailable,omitempty"`

	// Model describes the default model the sandbox trains on first use.
	// +optional
	Model *LocalModel `json:"model,omitempty"`
}

// LocalRegion is one simulated region of the sandbox.
type LocalRegion struct {
	// Name of the region, used as the region label of its nodes.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`

	// Nodes is the number of simulated nodes. Defaults to 3.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	// +optional
	Nodes *int32 `json:"nodes,omitempty"`

	// GPUNodes is how many of the nodes carry a GPU. Defaults to all of them.
	// +kubebuilder:validation:Minimum=0
	// +optional
	GPUNodes *int32 `json:"gpuNodes,omitempty"`

	// Replicas is the desired number of recommender replicas. Defaults to 3.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// PodsPerNode caps the replicas one node runs. Defaults to 2.
	// +kubebuilder:validation:Minimum=1
	// +optional
	PodsPerNode *int32 `json:"podsPerNode,omitempty"`
}

// LocalModel sizes the synthetic data the sandbox trains its model on.
type LocalModel struct {
	// Users in the generated data. Defaults to 50000.
	// +kubebuilder:validation:Minimum=100
	// +optional
	Users *int32 `json:"users,omitempty"`

	// Items in the generated catalogue. Defaults to 20000.
	// +kubebuilder:validation:Minimum=100
	// +optional
	Items *int32 `json:"items,omitempty"`

	// Seed of the generator. Defaults to 1.
	// +optional
	Seed *int64 `json:"seed,omitempty"`
}

// System describes the system under test.
type System struct {
	// Endpoint is the base URL probes send traffic to. On the local platform
	// it defaults to the sandbox's front door.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Workloads whose ready capacity is watched during the drill.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Workloads []WorkloadRef `json:"workloads,omitempty"`

	// ModelStore is the registry the inference service loads models from.
	// +optional
	ModelStore *ModelStoreRef `json:"modelStore,omitempty"`
}

// WorkloadKind names a kind of workload whose capacity can be watched.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;Region
type WorkloadKind string

const (
	// WorkloadDeployment is an apps/v1 Deployment.
	WorkloadDeployment WorkloadKind = "Deployment"
	// WorkloadStatefulSet is an apps/v1 StatefulSet.
	WorkloadStatefulSet WorkloadKind = "StatefulSet"
	// WorkloadRegion is a sandbox region's recommender replicas.
	WorkloadRegion WorkloadKind = "Region"
)

// WorkloadRef names a workload.
type WorkloadRef struct {
	// Kind of the workload. Defaults to Deployment.
	// +optional
	Kind WorkloadKind `json:"kind,omitempty"`

	// Name of the workload.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`

	// Namespace of the workload. Defaults to the target namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ModelStoreRef names the model store of the system under test.
type ModelStoreRef struct {
	// Ref is the OCI reference of the served model
	// (oci://host:port/repository:tag).
	// +optional
	Ref string `json:"ref,omitempty"`

	// Workload runs the store on kubernetes.
	// +optional
	Workload *WorkloadRef `json:"workload,omitempty"`
}

// Load is open-loop synthetic traffic at a constant rate.
type Load struct {
	// Rate is requests per second. Defaults to 50.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20000
	// +optional
	Rate *int32 `json:"rate,omitempty"`

	// Timeout of one request; a request that takes longer fails. Defaults to 1s.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Requests are weighted request templates. Placeholders {user}, {item}
	// and {query} are filled from Pools. On the local platform the default is
	// the recommender's recommendation, search and similar-item mix.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Requests []RequestTemplate `json:"requests,omitempty"`

	// Pools of placeholder values. Empty pools are fetched from the system
	// under test (GET /v1/sample).
	// +optional
	Pools *Pools `json:"pools,omitempty"`
}

// RequestTemplate is one kind of synthetic request.
type RequestTemplate struct {
	// Name labels the request in reports. Defaults to the path without query.
	// +optional
	Name string `json:"name,omitempty"`

	// Method is the HTTP method. Defaults to GET.
	// +kubebuilder:validation:Enum=GET;HEAD;POST
	// +optional
	Method string `json:"method,omitempty"`

	// Path is appended to the endpoint; it must start with "/".
	// +kubebuilder:validation:Pattern=`^/`
	// +required
	Path string `json:"path"`

	// Weight is the relative share of this request. Defaults to 1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Weight *int32 `json:"weight,omitempty"`
}

// Pools hold the values request placeholders are filled from.
type Pools struct {
	// Users fill {user}.
	// +optional
	Users []string `json:"users,omitempty"`
	// Items fill {item}.
	// +optional
	Items []string `json:"items,omitempty"`
	// Queries fill {query}.
	// +optional
	Queries []string `json:"queries,omitempty"`
}

// Percent is a decimal percentage between 0 and 100, written as a string
// ("99.9") so that it survives JSON and YAML exactly.
// +kubebuilder:validation:Pattern=`^[0-9]{1,3}(\.[0-9]+)?$`
type Percent string

// Objectives are the numbers each fault and the whole drill are judged
// against.
type Objectives struct {
	// RTO is the longest recovery time allowed per fault. Defaults to 60s.
	// +optional
	RTO *metav1.Duration `json:"rto,omitempty"`

	// RPO is the model staleness allowed after a store or region fault. Unset
	// means not judged.
	// +optional
	RPO *metav1.Duration `json:"rpo,omitempty"`

	// Availability is the least success rate over the whole drill (faults
	// included). Unset means not judged.
	// +optional
	Availability Percent `json:"availability,omitempty"`

	// LatencyP99 is the highest p99 latency over the whole drill (faults
	// included). Unset means not judged.
	// +optional
	LatencyP99 *metav1.Duration `json:"latencyP99,omitempty"`

	// Recovered says when a fault counts as recovered.
	// +optional
	Recovered RecoveredCriteria `json:"recovered,omitempty"`
}

// RecoveredCriteria define recovery: the SLIs meet these numbers for a whole
// window of length For, and capacity is back.
type RecoveredCriteria struct {
	// SuccessRate is the least success rate in the window. Defaults to 99.
	// +optional
	SuccessRate Percent `json:"successRate,omitempty"`

	// LatencyP99 is the highest p99 latency in the window. Defaults to the
	// objectives' latencyP99, or 1s.
	// +optional
	LatencyP99 *metav1.Duration `json:"latencyP99,omitempty"`

	// For is the length of the stable window. Defaults to 5s.
	// +optional
	For *metav1.Duration `json:"for,omitempty"`
}

// Abort conditions stop the drill and revert every active fault at once.
type Abort struct {
	// AvailabilityBelow aborts when the success rate over Window falls
	// below this percentage. Unset means never.
	// +optional
	AvailabilityBelow Percent `json:"availabilityBelow,omitempty"`

	// Window over which AvailabilityBelow is evaluated. Defaults to 30s.
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`

	// MaxDuration aborts a drill that runs longer. Defaults to 30m.
	// +optional
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`
}

// Safety bounds the blast radius of a drill.
type Safety struct {
	// MaxPodsPercent is the largest share of a workload's pods one step may
	// disrupt. Defaults to 50.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxPodsPercent *int32 `json:"maxPodsPercent,omitempty"`

	// MaxNodes is the most nodes one step may drain. Defaults to 1.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxNodes *int32 `json:"maxNodes,omitempty"`

	// Namespaces faults may touch. Empty allows the target namespace only.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// SkipSteadyStateCheck runs faults even when the system does not meet
	// its objectives during the baseline. Off by default.
	// +optional
	SkipSteadyStateCheck bool `json:"skipSteadyStateCheck,omitempty"`
}

// Step is one ordered step of a drill: a wait or a fault.
type Step struct {
	// Name is unique within the plan.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`

	// Wait pauses the drill while the load runs (a baseline or a soak).
	// +optional
	Wait *metav1.Duration `json:"wait,omitempty"`

	// Fault is injected by this step.
	// +optional
	Fault *Fault `json:"fault,omitempty"`

	// Concurrent starts this step together with the step before it.
	// +optional
	Concurrent bool `json:"concurrent,omitempty"`

	// Timeout bounds how long the step observes its fault before it gives
	// up on recovery. Defaults to twice the RTO plus the recovered window.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// RevertPolicy says when a fault is rolled back.
// +kubebuilder:validation:Enum=auto;never
type RevertPolicy string

const (
	// RevertAuto reverts a timed fault after its duration and any other
	// fault once it has recovered or its step timed out.
	RevertAuto RevertPolicy = "auto"
	// RevertNever leaves the fault in place until the end of the drill,
	// when every fault is reverted.
	RevertNever RevertPolicy = "never"
)

// Fault is a one-of union: exactly one of its fault types is set.
type Fault struct {
	// PodKill deletes (kills) inference pods.
	// +optional
	PodKill *PodKill `json:"podKill,omitempty"`

	// NodeDrain cordons nodes and evicts their pods.
	// +optional
	NodeDrain *NodeDrain `json:"nodeDrain,omitempty"`

	// RegionCutover takes a region down and moves traffic to another.
	// +optional
	RegionCutover *RegionCutover `json:"regionCutover,omitempty"`

	// ModelStoreOutage makes the model store unavailable, slow or hung.
	// +optional
	ModelStoreOutage *ModelStoreOutage `json:"modelStoreOutage,omitempty"`

	// Exec runs a runbook command or calls a webhook.
	// +optional
	Exec *ExecFault `json:"exec,omitempty"`

	// ChaosMesh creates a Chaos Mesh object.
	// +optional
	ChaosMesh *ChaosMeshFault `json:"chaosMesh,omitempty"`

	// Duration keeps the fault active this long before it is reverted.
	// Unset means the fault is reverted once the system recovered.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// Revert says when the fault is rolled back. Defaults to auto.
	// +optional
	Revert RevertPolicy `json:"revert,omitempty"`
}

// SelectionMode says how many of the matching targets a fault acts on.
// +kubebuilder:validation:Enum=one;count;percent;all
type SelectionMode string

const (
	// SelectOne acts on one target.
	SelectOne SelectionMode = "one"
	// SelectCount acts on Value targets.
	SelectCount SelectionMode = "count"
	// SelectPercent acts on Value percent of the targets, rounded up.
	SelectPercent SelectionMode = "percent"
	// SelectAll acts on every target.
	SelectAll SelectionMode = "all"
)

// Selection picks how many targets a fault acts on.
type Selection struct {
	// Mode is one, count, percent or all. Defaults to one.
	// +optional
	Mode SelectionMode `json:"mode,omitempty"`

	// Value is the count (mode count) or the percentage (mode percent).
	// +kubebuilder:validation:Minimum=1
	// +optional
	Value *int32 `json:"value,omitempty"`
}

// PodKill kills inference pods (sandbox replicas).
type PodKill struct {
	Selection `json:",inline"`

	// Selector matches pod labels. On the local platform replicas carry
	// app=recommender, region, zone and node labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Namespace of the pods. Defaults to the target namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Region limits the fault to pods in one region.
	// +optional
	Region string `json:"region,omitempty"`

	// GPUOnly limits the fault to pods that request or run on a GPU.
	// +optional
	GPUOnly bool `json:"gpuOnly,omitempty"`

	// GracePeriod before the pod is killed; 0 kills at once. Defaults to 0.
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
}

// CapacityPolicy says what happens when the remaining nodes cannot absorb
// the evicted pods.
// +kubebuilder:validation:Enum=refuse;warn
type CapacityPolicy string

const (
	// CapacityRefuse refuses the drain before anything is touched.
	CapacityRefuse CapacityPolicy = "refuse"
	// CapacityWarn drains anyway and reports the shortfall.
	CapacityWarn CapacityPolicy = "warn"
)

// NodeDrain cordons nodes and evicts their pods, honouring disruption
// budgets; revert uncordons.
type NodeDrain struct {
	Selection `json:",inline"`

	// Selector matches node labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Region limits the fault to nodes in one region.
	// +optional
	Region string `json:"region,omitempty"`

	// GPUOnly limits the fault to GPU nodes.
	// +optional
	GPUOnly bool `json:"gpuOnly,omitempty"`

	// GracePeriod given to each evicted pod. Unset uses the pod's own.
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`

	// Timeout of the drain itself. Defaults to 2m.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// OnInsufficientCapacity refuses (default) or warns when the remaining
	// nodes cannot absorb the evicted pods.
	// +optional
	OnInsufficientCapacity CapacityPolicy `json:"onInsufficientCapacity,omitempty"`
}

// TrafficSwitch says how traffic moves to the surviving region.
// +kubebuilder:validation:Enum=auto;manual
type TrafficSwitch string

const (
	// TrafficAuto relies on the front door's health-based failover.
	TrafficAuto TrafficSwitch = "auto"
	// TrafficManual switches traffic explicitly, as a runbook step would;
	// the switch's own time is measured.
	TrafficManual TrafficSwitch = "manual"
)

// CutoverMethod says how a region is taken down on kubernetes.
// +kubebuilder:validation:Enum=drain;scaleToZero
type CutoverMethod string

const (
	// CutoverDrain cordons and drains the region's nodes.
	CutoverDrain CutoverMethod = "drain"
	// CutoverScaleToZero scales the region's workloads to zero.
	CutoverScaleToZero CutoverMethod = "scaleToZero"
)

// RegionCutover takes the From region down and moves traffic to To; revert
// fails back.
type RegionCutover struct {
	// From is the region that is lost.
	// +kubebuilder:validation:MinLength=1
	// +required
	From string `json:"from"`

	// To is the region that takes over.
	// +kubebuilder:validation:MinLength=1
	// +required
	To string `json:"to"`

	// Traffic is auto (health-based failover) or manual. Defaults to auto.
	// +optional
	Traffic TrafficSwitch `json:"traffic,omitempty"`

	// Method takes the region down on kubernetes. Defaults to drain.
	// +optional
	Method CutoverMethod `json:"method,omitempty"`

	// Switch moves traffic when Traffic is manual on kubernetes: a runbook
	// command or webhook, a Service's selector, or an HTTPRoute's weights.
	// +optional
	Switch *CutoverSwitch `json:"switch,omitempty"`
}

// CutoverSwitch moves traffic from one region to another. Exactly one of
// command, webhook, service and httpRoute is set. Revert moves it back.
type CutoverSwitch struct {
	// Action is a runbook command or webhook; it learns the direction from
	// FIREDRILL_TRAFFIC_FROM and FIREDRILL_TRAFFIC_TO.
	Action `json:",inline"`

	// Service points a Service's selector at the surviving region's pods.
	// +optional
	Service *ServiceSwitch `json:"service,omitempty"`

	// HTTPRoute moves a Gateway API HTTPRoute's backend weight to the
	// surviving region's Services.
	// +optional
	HTTPRoute *HTTPRouteSwitch `json:"httpRoute,omitempty"`
}

// ServiceSwitch switches traffic by rewriting one key of a Service's
// selector to the surviving region's name. Revert restores the value the
// selector had, which is also kept in an annotation so that a later drill
// process can restore it after a crash.
type ServiceSwitch struct {
	// Name of the Service.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`

	// Namespace of the Service. Defaults to the target namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// SelectorKey is the selector key whose value is the region. Defaults
	// to "region".
	// +optional
	SelectorKey string `json:"selectorKey,omitempty"`
}

// HTTPRouteSwitch switches traffic by setting the weights of an HTTPRoute's
// backends: every backend of the lost region gets weight 0 and the
// surviving region's backends get the weight the lost ones had. Revert
// restores the weights, which are also kept in an annotation.
type HTTPRouteSwitch struct {
	// Name of the HTTPRoute.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`

	// Namespace of the HTTPRoute. Defaults to the target namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Backends names each region's backend Service in the route's rules.
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=region
	// +required
	Backends []RegionBackend `json:"backends"`
}

// RegionBackend is the backend Service of one region in an HTTPRoute.
type RegionBackend struct {
	// Region the backend serves.
	// +kubebuilder:validation:MinLength=1
	// +required
	Region string `json:"region"`

	// Service is the name of the backendRef (a Service).
	// +kubebuilder:validation:MinLength=1
	// +required
	Service string `json:"service"`
}

// OutageMode says how the model store fails.
// +kubebuilder:validation:Enum=unavailable;slow;hang
type OutageMode string

const (
	// OutageUnavailable stops the store: connections are refused.
	OutageUnavailable OutageMode = "unavailable"
	// OutageSlow adds Latency to every store response.
	OutageSlow OutageMode = "slow"
	// OutageHang accepts connections and never answers.
	OutageHang OutageMode = "hang"
)

// OutageMethod says how a model-store outage is made on kubernetes.
// +kubebuilder:validation:Enum=scaleToZero;networkPolicy;chaosMesh
type OutageMethod string

const (
	// OutageScaleToZero scales the store workload to zero; revert restores
	// its replicas. Only for mode unavailable.
	OutageScaleToZero OutageMethod = "scaleToZero"
	// OutageNetworkPolicy applies a NetworkPolicy that denies egress from
	// the inference pods to the store's pods. Only for mode unavailable;
	// it needs a network plugin that enforces NetworkPolicy.
	OutageNetworkPolicy OutageMethod = "networkPolicy"
	// OutageChaosMesh creates a Chaos Mesh NetworkChaos on the store's
	// pods: loss of every packet (unavailable, hang) or a delay (slow).
	OutageChaosMesh OutageMethod = "chaosMesh"
)

// ModelStoreOutage makes the model store fail for a while.
type ModelStoreOutage struct {
	// Mode is unavailable, slow or hang. Defaults to unavailable.
	// +optional
	Mode OutageMode `json:"mode,omitempty"`

	// Method makes the outage on kubernetes: scaleToZero (the default for
	// mode unavailable), networkPolicy, or chaosMesh (the default, and
	// the only method, for modes slow and hang).
	// +optional
	Method OutageMethod `json:"method,omitempty"`

	// Latency added in slow mode. Defaults to 2s.
	// +optional
	Latency *metav1.Duration `json:"latency,omitempty"`

	// Region limits the outage to one region's store. Empty means every
	// store.
	// +optional
	Region string `json:"region,omitempty"`

	// RestartReplicas kills this many inference replicas during the outage
	// so that their restarts must load a model without the store.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RestartReplicas int32 `json:"restartReplicas,omitempty"`
}

// ExecFault runs a runbook action to inject and, optionally, another to
// revert.
type ExecFault struct {
	// Inject is run to inject the fault.
	// +required
	Inject Action `json:"inject"`

	// Revert is run to revert the fault.
	// +optional
	Revert *Action `json:"revert,omitempty"`
}

// Action is a command or a webhook call; exactly one is set.
type Action struct {
	// Command is an argv, run without a shell.
	// +optional
	Command []string `json:"command,omitempty"`

	// Env adds variables to the command's environment.
	// +optional
	Env []EnvVar `json:"env,omitempty"`

	// Webhook is called instead of a command.
	// +optional
	Webhook *Webhook `json:"webhook,omitempty"`

	// Timeout of the action. Defaults to 30s.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// EnvVar is one environment variable; its value is literal or read from
// the environment of the drill process, so secrets stay out of plans.
type EnvVar struct {
	// Name of the variable.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`

	// Value of the variable.
	// +optional
	Value string `json:"value,omitempty"`

	// FromEnv reads the value from this variable of the drill process.
	// +optional
	FromEnv string `json:"fromEnv,omitempty"`
}

// Webhook is an HTTP call made by an action.
type Webhook struct {
	// URL to call.
	// +kubebuilder:validation:MinLength=1
	// +required
	URL string `json:"url"`

	// Method is the HTTP method. Defaults to POST.
	// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
	// +optional
	Method string `json:"method,omitempty"`

	// Headers sent with the call; values may come from the environment.
	// +optional
	Headers []EnvVar `json:"headers,omitempty"`

	// Body sent with the call.
	// +optional
	Body string `json:"body,omitempty"`
}

// ChaosKind names a supported Chaos Mesh kind.
// +kubebuilder:validation:Enum=PodChaos;NetworkChaos;IOChaos;StressChaos
type ChaosKind string

// ChaosMeshFault creates a Chaos Mesh object and deletes it on revert.
type ChaosMeshFault struct {
	// Kind of the Chaos Mesh object.
	// +required
	Kind ChaosKind `json:"kind"`

	// Spec is the object's spec, as Chaos Mesh documents it.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +required
	Spec runtime.RawExtension `json:"spec"`
}

// DrillPlanStatus is the observed state of a DrillPlan.
type DrillPlanStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastRun is the most recent run of the plan.
	// +optional
	LastRun *RunSummary `json:"lastRun,omitempty"`

	// LastScheduleTime is when the plan was last started by its schedule.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// NextScheduleTime is when the schedule starts the plan next.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
}

// RunSummary points at one run and its outcome.
type RunSummary struct {
	// Name of the DrillRun.
	Name string `json:"name"`
	// Phase of the run.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`
	// Verdict of the run.
	// +optional
	Verdict Verdict `json:"verdict,omitempty"`
	// StartTime of the run.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime of the run.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dp;drillplan,categories=firedrill
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last Run",type=string,JSONPath=`.status.lastRun.name`
// +kubebuilder:printcolumn:name="Verdict",type=string,JSONPath=`.status.lastRun.verdict`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DrillPlan describes a disaster-recovery drill.
type DrillPlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the drill.
	Spec DrillPlanSpec `json:"spec"`
	// Status is what the controller observed.
	// +optional
	Status DrillPlanStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DrillPlanList is a list of DrillPlans.
type DrillPlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the plans.
	Items []DrillPlan `json:"items"`
}
