package kube

import (
	"errors"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Defaults of Options.
const (
	// DefaultQPS is the client's sustained request rate.
	DefaultQPS = 50
	// DefaultBurst is the client's request burst.
	DefaultBurst = 100
	// DefaultSyncTimeout bounds the first informer sync in Start.
	DefaultSyncTimeout = time.Minute
	// DefaultChaosTimeout bounds the wait for a Chaos Mesh object to report
	// its fault injected.
	DefaultChaosTimeout = time.Minute
	// DefaultDrainTimeout bounds a node drain whose fault sets none.
	DefaultDrainTimeout = 2 * time.Minute
	// DefaultPollInterval is how often conditions are re-read while waiting.
	DefaultPollInterval = time.Second
)

// Options configure the Kubernetes platform.
type Options struct {
	// Spec is the plan being drilled. Required.
	Spec *v1alpha1.DrillPlanSpec
	// Kubeconfig is the kubeconfig file; empty means $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Context is the kubeconfig context; the plan's target.context wins
	// when set. Empty means the current context.
	Context string
	// QPS and Burst bound the client's request rate; zero means DefaultQPS
	// and DefaultBurst.
	QPS   float32
	Burst int
	// RESTConfig, when set, is used instead of loading a kubeconfig (tests
	// and the in-cluster controller).
	RESTConfig *rest.Config
	// Clock stamps capacity points and events; nil means the real clock.
	Clock clock.WithTicker
	// Actions runs the manual traffic switch; nil means a default Runner.
	Actions *action.Runner
	// SyncTimeout bounds the informer sync in Start; zero means
	// DefaultSyncTimeout.
	SyncTimeout time.Duration
	// ChaosTimeout bounds the wait for a Chaos Mesh fault to be injected;
	// zero means DefaultChaosTimeout.
	ChaosTimeout time.Duration
	// PollInterval is how often waits re-read the cluster; zero means
	// DefaultPollInterval.
	PollInterval time.Duration
	// HeartbeatInterval is how often a run renews its heartbeat Lease;
	// zero means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// HeartbeatGrace is how old a heartbeat may be before its run is taken
	// for dead (Preflight's judgement of other runs, and the run's own:
	// a heartbeat not renewed for this long is lost); zero means
	// DefaultHeartbeatGrace.
	HeartbeatGrace time.Duration

	// clusterRegion makes the platform one cluster of a fleet: the
	// cluster is that region (NewFleet sets it).
	clusterRegion string
}

func (o *Options) validate() error {
	if o.Spec == nil {
		return errors.New("kube platform: a plan spec is required")
	}
	if o.QPS < 0 || o.Burst < 0 {
		return errors.New("kube platform: QPS and burst must not be negative")
	}
	return nil
}

func (o *Options) defaults() {
	if o.QPS == 0 {
		o.QPS = DefaultQPS
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Actions == nil {
		o.Actions = &action.Runner{Clock: o.Clock}
	}
	if o.SyncTimeout == 0 {
		o.SyncTimeout = DefaultSyncTimeout
	}
	if o.ChaosTimeout == 0 {
		o.ChaosTimeout = DefaultChaosTimeout
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
}
