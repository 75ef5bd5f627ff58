package drillrun

// Where the rights of rbac.go hold when the Helm chart restricts drill
// serve to some namespaces (watchNamespaces): each namespaced right goes
// into a Role in every served namespace, except the reads below, which the
// platform does across the whole cluster and so stay in the ClusterRole.
// hack/chart reads these markers (make chart); each must also be granted
// by a +kubebuilder:rbac marker.
//
// A drain's capacity check lists every pod and PodDisruptionBudget of the
// cluster; kubectl's drain lists the node's pods wherever they run and
// reads the DaemonSet of each DaemonSet pod; a region's pods are listed by
// node.
// +firedrill:rbac:clusterwide:groups="",resources=pods,verbs=get;list
// +firedrill:rbac:clusterwide:groups=policy,resources=poddisruptionbudgets,verbs=list
// +firedrill:rbac:clusterwide:groups=apps,resources=daemonsets,verbs=get
