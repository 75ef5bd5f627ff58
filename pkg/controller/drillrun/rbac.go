package drillrun

// What the kubernetes platform (pkg/platform/kube) does on a drill's
// behalf, with the serve process's own credentials, verb by verb. The
// platform reads nodes and pods cluster-wide (a drain lists a node's pods
// in every namespace), so these are cluster rights.
//
// Nodes: read and watch (targets, capacity, the region's nodes), patch
// (cordon and uncordon, with their marks).
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch
//
// A node's status: a GPU failure lowers its nvidia.com/gpu allocatable,
// and its revert restores it.
// +kubebuilder:rbac:groups="",resources=nodes/status,verbs=patch
//
// Pods: read and watch (targets, replacements), delete (pod kill, a
// region's pods), deletecollection (a region cutover's pods per node and
// namespace), and the Eviction API (drains).
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete;deletecollection
// +kubebuilder:rbac:groups="",resources=pods/eviction,verbs=create
//
// Services: a cutover's traffic switch rewrites a Service's selector.
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;patch
//
// Workloads: read and watch (capacity), patch (scale to zero and back,
// with marks). kubectl's drain reads a pod's DaemonSet.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get
//
// Drains and capacity checks honour PodDisruptionBudgets.
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=list
//
// Recovery signals: which pods serve a Service.
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
//
// A model-store outage by NetworkPolicy creates and deletes one.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;create;delete
//
// A cutover by HTTPRoute weights.
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;patch
//
// A run's heartbeat: a Lease per run in the target namespace, created
// at start, renewed while the run lives, read and listed to tell a dead
// run's leftovers from a live one's, deleted when the run ends
// (docs/crash-safety.md).
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;create;update;delete
//
// Chaos Mesh faults are objects firedrill creates, waits on and deletes.
// +kubebuilder:rbac:groups=chaos-mesh.org,resources=podchaos;networkchaos;iochaos;stresschaos,verbs=get;list;create;delete
