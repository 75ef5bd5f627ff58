package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/log"
)

// Holder is the process that renews a heartbeat.
type Holder struct {
	// Host is its machine's host name.
	Host string
	// PID is its process id.
	PID int
}

// Self is the running process.
func Self() Holder {
	host, _ := os.Hostname() // an empty host only makes the Lease less telling
	return Holder{Host: host, PID: os.Getpid()}
}

// Options configure a Heartbeat.
type Options struct {
	// Client writes the Lease. Required.
	Client client.Client
	// Clock times renewals; nil means the real clock.
	Clock clock.WithTicker
	// Namespace holds the Lease (the plan's target namespace). Required.
	Namespace string
	// RunID is the run. Required.
	RunID string
	// Holder is the process renewing it; zero means Self.
	Holder Holder
	// Interval is how often it is renewed; zero means DefaultInterval.
	Interval time.Duration
	// Grace is written as the Lease's leaseDurationSeconds, and a
	// heartbeat not renewed for this long is lost; zero means
	// DefaultGrace.
	Grace time.Duration
}

func (o *Options) defaults() error {
	if o.Client == nil || o.Namespace == "" || o.RunID == "" {
		return errors.New("heartbeat: a client, a namespace and a run id are required")
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Holder == (Holder{}) {
		o.Holder = Self()
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Grace <= o.Interval {
		return fmt.Errorf("heartbeat: the grace %s must be longer than the renew interval %s", o.Grace, o.Interval)
	}
	return nil
}

// Heartbeat renews a run's Lease until Stop. Its methods are safe for
// concurrent use.
type Heartbeat struct {
	opts   Options
	key    Key
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	renewed time.Time
	lost    error
	lease   *coordinationv1.Lease
}

// Start creates the run's Lease, or takes over the one a process of the
// same run left, before it returns, and renews it every interval until
// Stop. A Lease another run holds under the same name is an error.
// Renewals outlive ctx's cancellation (a run that is interrupted still
// reverts its faults, and must stay alive meanwhile); Stop ends them.
func Start(ctx context.Context, opts Options) (*Heartbeat, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	h := &Heartbeat{opts: opts, key: KeyOf(opts.Namespace, opts.RunID), done: make(chan struct{})}
	if err := h.create(ctx); err != nil {
		return nil, err
	}
	renewCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	go h.loop(renewCtx)
	return h, nil
}

// Key is where the Lease is.
func (h *Heartbeat) Key() Key { return h.key }

// Err is nil while the heartbeat holds, and says why once it is lost.
func (h *Heartbeat) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// Stop ends the renewals and deletes the Lease, unless it was lost: a
// finished run is no longer alive.
func (h *Heartbeat) Stop(ctx context.Context) error {
	h.cancel()
	<-h.done
	h.mu.Lock()
	l, lost := h.lease, h.lost
	h.mu.Unlock()
	if lost != nil || l == nil {
		return nil
	}
	return Delete(ctx, h.opts.Client, l)
}

func (h *Heartbeat) create(ctx context.Context) error {
	now := h.opts.Clock.Now()
	l := build(h.key, h.opts.RunID, h.opts.Holder, h.opts.Grace, now)
	err := h.opts.Client.Create(ctx, l)
	if apierrors.IsAlreadyExists(err) {
		// A process of this run (same run id) died and left it: take it
		// over.
		var got *coordinationv1.Lease
		if got, err = Get(ctx, h.opts.Client, h.key); err == nil && got != nil {
			if run := RunOf(got); run != h.opts.RunID {
				return fmt.Errorf("heartbeat Lease %s is held by run %q, not by run %s", h.key, run, h.opts.RunID)
			}
			got.Annotations, got.Labels = l.Annotations, l.Labels
			got.Spec = l.Spec
			err = h.opts.Client.Update(ctx, got)
			l = got
		}
	}
	if err != nil {
		return fmt.Errorf("creating heartbeat Lease %s: %w", h.key, err)
	}
	h.mu.Lock()
	h.lease, h.renewed = l, now
	h.mu.Unlock()
	return nil
}

func (h *Heartbeat) loop(ctx context.Context) {
	defer close(h.done)
	t := h.opts.Clock.NewTicker(h.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if h.renew(ctx) {
				if err := h.Err(); err != nil {
					log.FromContext(ctx).Error("heartbeat lost", "lease", h.key.String(), "run", h.opts.RunID, "err", err)
				}
				return
			}
		}
	}
}

// renew renews the Lease once; it says whether to stop renewing: the
// heartbeat is lost, or Stop was called.
func (h *Heartbeat) renew(loopCtx context.Context) bool {
	ctx, cancel := context.WithTimeout(loopCtx, h.opts.Interval)
	defer cancel()
	now := h.opts.Clock.Now()
	l, err := Get(ctx, h.opts.Client, h.key)
	switch {
	case err == nil && l == nil:
		return h.lose(fmt.Errorf("heartbeat Lease %s was deleted: another process took run %s for dead and may have reverted its faults", h.key, h.opts.RunID))
	case err == nil && RunOf(l) != h.opts.RunID:
		return h.lose(fmt.Errorf("heartbeat Lease %s is now held by %q: another process took run %s for dead", h.key, RunOf(l), h.opts.RunID))
	case err == nil:
		l.Spec.RenewTime = &metav1.MicroTime{Time: now}
		if err = h.opts.Client.Update(ctx, l); err == nil {
			h.mu.Lock()
			h.lease, h.renewed = l, now
			h.mu.Unlock()
			return false
		}
	}
	if loopCtx.Err() != nil {
		return true // stopping
	}
	h.mu.Lock()
	since := now.Sub(h.renewed)
	h.mu.Unlock()
	if since >= h.opts.Grace {
		return h.lose(fmt.Errorf("heartbeat Lease %s was not renewed for %s, its grace (last error: %w): another process may take run %s for dead",
			h.key, since.Round(time.Second), err, h.opts.RunID))
	}
	log.FromContext(ctx).Warn("renewing the heartbeat failed; retrying", "lease", h.key.String(), "run", h.opts.RunID, "since", since, "err", err)
	return false
}

func (h *Heartbeat) lose(err error) bool {
	h.mu.Lock()
	h.lost = err
	h.mu.Unlock()
	return true
}
