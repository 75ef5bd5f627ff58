package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

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

	// GPUFailure makes GPUs of nodes fail, as an Xid 79 ("fell off the
	// bus") or an uncorrectable ECC error does.
	// +optional
	GPUFailure *GPUFailure `json:"gpuFailure,omitempty"`

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

// DefaultGPUTaintKey is the key of the NoExecute taint a node whose every
// GPU failed gets on kubernetes, in the nvidia.com/gpu.* namespace of
// NVIDIA's GPU feature discovery labels and distinct from the
// nvidia.com/gpu taint of GPU node pools, which GPU pods tolerate.
const DefaultGPUTaintKey = "nvidia.com/gpu.unhealthy"

// GPUFailure makes GPUs of nodes fail; revert brings them back. The
// target is a node. On kubernetes the node's nvidia.com/gpu allocatable
// drops by GPUs, the GPU pods that no longer fit are deleted, and a node
// whose every GPU failed is also tainted NoExecute with TaintKey, as a
// node-problem-detector remediation would. In the sandbox the node loses
// its GPU: its replicas die and none is placed on it until revert.
type GPUFailure struct {
	Selection `json:",inline"`

	// Selector matches node labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Region limits the fault to nodes in one region.
	// +optional
	Region string `json:"region,omitempty"`

	// GPUs is how many GPUs fail on each node. Unset means every GPU of
	// the node. Kubernetes only: a sandbox node has one GPU, which it
	// loses.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	// +optional
	GPUs *int32 `json:"gpus,omitempty"`

	// TaintKey is the key of the NoExecute taint a node whose every GPU
	// failed gets. Kubernetes only. Defaults to nvidia.com/gpu.unhealthy.
	// +kubebuilder:validation:MaxLength=316
	// +optional
	TaintKey string `json:"taintKey,omitempty"`

	// GracePeriod given to each pod that loses its GPU; 0 kills at once,
	// as a process whose GPU fell off the bus dies. Defaults to 0.
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`

	// OnInsufficientCapacity refuses (default) or warns when the other
	// nodes cannot take the pods that lose their GPUs.
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
