package supervisor

import (
	"context"
	"time"
)

// Label keys of nodes and replicas, as on Kubernetes.
const (
	LabelRegion = "topology.kubernetes.io/region"
	LabelZone   = "topology.kubernetes.io/zone"
	LabelGPU    = "nvidia.com/gpu.present"
	LabelApp    = "app"
	LabelNode   = "node"
	// LabelRegionShort and LabelZoneShort are the short forms replicas also carry.
	LabelRegionShort = "region"
	LabelZoneShort   = "zone"
)

// Node is a simulated node.
type Node struct {
	Name   string
	Region string
	Zone   string
	GPU    bool
	// Labels are the node's labels (region, zone, GPU).
	Labels map[string]string
}

// Region is a region's desired state.
type Region struct {
	Name        string
	Replicas    int
	PodsPerNode int
	Nodes       []Node
}

// Phase is a replica's lifecycle phase.
type Phase string

const (
	// PhasePending waits for its start delay (scheduling, container start).
	PhasePending Phase = "Pending"
	// PhaseStarting runs but is not ready.
	PhaseStarting Phase = "Starting"
	// PhaseReady answers /readyz.
	PhaseReady Phase = "Ready"
	// PhaseTerminating is being stopped.
	PhaseTerminating Phase = "Terminating"
)

// Replica is a snapshot of one replica.
type Replica struct {
	Name   string
	Region string
	Node   string
	Zone   string
	GPU    bool
	Labels map[string]string
	Phase  Phase
	// Addr is host:port once the process listens.
	Addr string
	Pid  int
	// Created is when the replica was scheduled; Started when its process
	// was started; ReadyAt when it first answered /readyz.
	Created, Started, ReadyAt time.Time
	// Replacement is false for the replicas of the initial bring-up.
	Replacement bool
	// Evicting is true while a drain waits to stop it.
	Evicting bool
}

// ReplicaSpec is what the Runtime needs to start a replica.
type ReplicaSpec struct {
	Name   string
	Region string
	Node   string
}

// Handle is a started replica process.
type Handle interface {
	// Addr is the address the replica listens on.
	Addr() string
	// Pid is the process id.
	Pid() int
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	// Kill stops the process at once and waits for it.
	Kill(ctx context.Context) error
	// Terminate stops the process gracefully, killing it after grace.
	Terminate(ctx context.Context, grace time.Duration) error
}

// Runtime starts replica processes and checks their readiness.
type Runtime interface {
	// StartReplica starts a replica and returns once it listens.
	StartReplica(ctx context.Context, r ReplicaSpec) (Handle, error)
	// Ready reports whether the replica at addr is ready.
	Ready(ctx context.Context, addr string) bool
}

// EventType names a supervisor event.
type EventType string

// Event types.
const (
	EventScheduled     EventType = "Scheduled"
	EventUnschedulable EventType = "Unschedulable"
	EventStarting      EventType = "Starting"
	EventStartFailed   EventType = "StartFailed"
	EventReady         EventType = "Ready"
	EventNotReady      EventType = "NotReady"
	EventExited        EventType = "Exited"
	EventEvicting      EventType = "Evicting"
	EventCordoned      EventType = "Cordoned"
	EventUncordoned    EventType = "Uncordoned"
	EventGPUFailed     EventType = "GPUFailed"
	EventGPURestored   EventType = "GPURestored"
	EventRegionDown    EventType = "RegionDown"
	EventRegionUp      EventType = "RegionUp"
)

// Event is something the supervisor did or saw.
type Event struct {
	At      time.Time
	Type    EventType
	Region  string
	Node    string
	Replica string
	// Replacement marks the start of a replacement replica.
	Replacement bool
	Message     string
}

// Capacity is a region's desired and ready replicas.
type Capacity struct {
	Region  string
	Desired int
	Ready   int
}
