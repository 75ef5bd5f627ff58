package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DrillPlanSpec describes one disaster-recovery drill: the system under
// test, the synthetic load driven at it, the objectives it must meet, the
// safety limits that bound the blast radius, and the ordered steps.
type DrillPlanSpec struct {
	// Schedule is when `drill serve` runs the plan: a five-field cron
	// expression ("0 3 1 1,4,7,10 *"), a descriptor (@hourly, @daily,
	// @weekly, @monthly, @yearly), or "@every <duration>" with a whole
	// number of seconds, at least 1s ("@every 30s"). Empty means on demand
	// only. docs/serve.md states the schedule rules.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// TimeZone is the IANA name of the time zone Schedule is evaluated in
	// ("Europe/Paris"). Unset means UTC, whatever the machine's zone. Only
	// allowed with a cron schedule or descriptor; @every ignores zones.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// Suspend stops scheduled runs without deleting the plan. Runs already
	// going are not stopped; a fire that comes due while the plan is
	// suspended never runs. Only allowed with a schedule.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ConcurrencyPolicy says what a fire does while a run of the plan is
	// active: Forbid (the default) holds it back until the active runs
	// finish, Allow starts a run alongside, Replace aborts the active runs,
	// which revert their faults, and starts once they have finished. Only
	// allowed with a schedule.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// StartingDeadlineSeconds is how late a fire may still start, after an
	// outage of drill serve or while held back by an active run. A fire
	// later than this is recorded in status.missed instead. Unset means no
	// deadline: the latest missed fire always runs once. Only allowed with a
	// schedule.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=31622400
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// SuccessfulRunsHistoryLimit is how many succeeded scheduled runs are
	// kept, with their reports; older ones are deleted. Defaults to 3. Only
	// allowed with a schedule.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`

	// FailedRunsHistoryLimit is how many scheduled runs that did not
	// succeed (Failed, Aborted, Error) are kept, with their reports; older
	// ones are deleted. Defaults to 3. Only allowed with a schedule.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`

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

	// FailbackRTO is the longest recovery time allowed after a fault is
	// reverted (the fail-back: a region coming back, a store restarting).
	// Defaults to RTO.
	// +optional
	FailbackRTO *metav1.Duration `json:"failbackRTO,omitempty"`

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

	// AllowConcurrentRuns lets a run start while another run of the same
	// plan is active against the same target. Off by default: the second
	// run is refused and the message names the active one.
	// +optional
	AllowConcurrentRuns bool `json:"allowConcurrentRuns,omitempty"`
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

	// ScheduleStatus is what the schedule did and does next; pkg/scheduler
	// computes it.
	ScheduleStatus `json:",inline"`
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
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`,priority=1
// +kubebuilder:printcolumn:name="Next Schedule",type=string,JSONPath=`.status.nextScheduleTime`,priority=1
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
