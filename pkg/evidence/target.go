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
