package liveness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
)

// Heartbeats are the heartbeats this process renews on one cluster, by
// run id. The zero value is not usable: set Client and Namespace.
type Heartbeats struct {
	// Client writes and reads the Leases. Required.
	Client client.Client
	// Clock times renewals; nil means the real clock.
	Clock clock.WithTicker
	// Namespace holds the Leases: the plan's target namespace. Required.
	Namespace string
	// Interval is how often a run renews its heartbeat; zero means
	// lease.DefaultInterval.
	Interval time.Duration
	// Grace is how long a heartbeat may go unrenewed before it is lost;
	// zero means lease.DefaultGrace.
	Grace time.Duration

	// mu guards runs: the runs this process renews a heartbeat for on
	// this cluster, by run id.
	mu   sync.Mutex
	runs map[string]*lease.Heartbeat
}

// Key is where run's heartbeat is on this cluster: the plan's target
// namespace.
func (h *Heartbeats) Key(runID string) lease.Key {
	return lease.KeyOf(h.Namespace, runID)
}

// Alive makes sure run's heartbeat is renewed on this cluster before the
// run marks anything: the first call creates the Lease and starts renewing
// it until Stop. Once the heartbeat is lost, another process may have
// taken the run for dead and reverted its faults, so Alive refuses.
func (h *Heartbeats) Alive(ctx context.Context, runID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hb, ok := h.runs[runID]; ok {
		if err := hb.Err(); err != nil {
			return fmt.Errorf("refusing to inject: %w", err)
		}
		return nil
	}
	hb, err := lease.Start(ctx, lease.Options{
		Client: h.Client, Clock: h.Clock, Namespace: h.Namespace, RunID: runID,
		Interval: h.Interval, Grace: h.Grace,
	})
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%w (a run keeps a heartbeat: it needs create, get, update and delete on leases.coordination.k8s.io in namespace %s)", err, h.Namespace)
	}
	if err != nil {
		return err
	}
	if h.runs == nil {
		h.runs = map[string]*lease.Heartbeat{}
	}
	h.runs[runID] = hb
	log.FromContext(ctx).Info("heartbeat started", "run", runID, "lease", hb.Key().String())
	return nil
}

// Stop ends the renewals of this process's runs and deletes their Leases.
func (h *Heartbeats) Stop(ctx context.Context) error {
	h.mu.Lock()
	hbs := h.runs
	h.runs = map[string]*lease.Heartbeat{}
	h.mu.Unlock()
	var errs []error
	for _, hb := range hbs {
		if err := hb.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ForgetDead deletes the heartbeat a dead run left on this cluster, after
// its faults were recovered from the journal. A run this process is
// running is never forgotten.
func (h *Heartbeats) ForgetDead(ctx context.Context, runID string) error {
	h.mu.Lock()
	_, mine := h.runs[runID]
	h.mu.Unlock()
	if mine {
		return nil
	}
	l, err := lease.Get(ctx, h.Client, h.Key(runID))
	if err != nil || l == nil || lease.RunOf(l) != runID {
		return err
	}
	return lease.Delete(ctx, h.Client, l)
}
