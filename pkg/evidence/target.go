package evidence

import "strings"

// TargetKind is the natural unit a fault acts on.
type TargetKind string

// Target kinds. A platform resolves each fault into targets of one kind.
const (
	// KindPod is one replica: a pod, or a sandbox replica process.
	KindPod TargetKind = "pod"
	// KindNode is one node.
	KindNode TargetKind = "node"
	// KindRegion is a whole region: a cutover takes it down at once.
	KindRegion TargetKind = "region"
	// KindStore is a model store.
	KindStore TargetKind = "store"
	// KindChaos is a Chaos Mesh object.
	KindChaos TargetKind = "chaos"
	// KindAction is a runbook action (an exec fault).
	KindAction TargetKind = "action"
)

// Target is one thing a fault acts on.
type Target struct {
	// Kind is the target's unit.
	Kind TargetKind `json:"kind"`
	// Name identifies the target on its platform.
	Name string `json:"name"`
	// Region the target is in, when known.
	Region string `json:"region,omitempty"`
	// Labels of the target, used by selectors and shown in dry runs.
	Labels map[string]string `json:"labels,omitempty"`
}

// String is kind/name.
func (t Target) String() string { return string(t.Kind) + "/" + t.Name }

// TargetNames lists targets as kind/name, comma separated.
func TargetNames(ts []Target) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, ", ")
}

// Cluster identifies a Kubernetes cluster a run touches. A context name is
// a local alias; the API server and its CA identify the cluster.
type Cluster struct {
	// Region is the region the cluster serves in a multi-cluster target.
	Region string `json:"region,omitempty"`
	// Context is the kubeconfig context the run used.
	Context string `json:"context,omitempty"`
	// Server is the API server URL.
	Server string `json:"server"`
	// CAFingerprint is the SHA-256 of the cluster's CA bundle, hex.
	CAFingerprint string `json:"caFingerprint,omitempty"`
}

// Same says whether two records name the same cluster: the same API server
// and CA, whatever the context is called.
func (c Cluster) Same(o Cluster) bool {
	return c.Server == o.Server && c.CAFingerprint == o.CAFingerprint
}
