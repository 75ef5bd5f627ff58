package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/log"
)

// Options configure a Supervisor. Zero values are documented per field.
type Options struct {
	// Regions are the regions, their nodes and desired replicas. Required.
	Regions []Region
	// StartDelay is waited before a replacement starts. Zero starts at once.
	StartDelay time.Duration
	// MaxUnavailable is the disruption budget per region that drains
	// honour: how many of a region's desired replicas may be not ready
	// because of an eviction. Zero allows an eviction only once its
	// replacement is ready.
	MaxUnavailable int
	// TerminateGrace is how long an evicted replica may drain before it is
	// killed. Zero means 5s.
	TerminateGrace time.Duration
	// Runtime starts processes. Required.
	Runtime Runtime
	// Clock drives start delays and readiness polls; nil means real time.
	Clock clock.WithTicker
	// ReadyInterval is how often starting replicas are checked for
	// readiness; ready ones are re-checked every fifth interval. Zero
	// means 50ms.
	ReadyInterval time.Duration
	// OnChange is called (never under a lock, possibly concurrently) after
	// the set of running replicas or their readiness changed, and before an
	// evicted replica is stopped, so a front door can stop routing to it.
	OnChange func(ctx context.Context)
	// OnReady is called in its own goroutine when a replica becomes ready.
	OnReady func(ctx context.Context, r Replica)
	// OnEvent is called with every event as it is recorded, under the
	// supervisor's lock: it must not call the supervisor and must not
	// block.
	OnEvent func(e Event)
	// Logger receives operator logs; nil means the logger of Run's context.
	Logger *slog.Logger
}

func (o *Options) validate() error {
	var errs []error
	if len(o.Regions) == 0 {
		errs = append(errs, errors.New("at least one region is required"))
	}
	if o.Runtime == nil {
		errs = append(errs, errors.New("a runtime is required"))
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() {
	o.MaxUnavailable = max(o.MaxUnavailable, 0)
	if o.TerminateGrace <= 0 {
		o.TerminateGrace = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.ReadyInterval <= 0 {
		o.ReadyInterval = 50 * time.Millisecond
	}
	if o.OnChange == nil {
		o.OnChange = func(context.Context) {}
	}
}

// replica is a replica and its process.
type replica struct {
	Replica
	startAt time.Time
	handle  Handle
	// waitFor is the replacement a drain waits for before it stops this
	// replica.
	waitFor string
	// gone is closed once the replica is removed.
	gone chan struct{}
}

// Supervisor keeps regions at their desired replicas.
type Supervisor struct {
	opts   Options
	logger *slog.Logger

	mu       sync.Mutex
	regions  map[string]*Region
	order    []string
	nodes    map[string]Node
	replicas map[string]*replica
	cordoned map[string]bool
	gpuLost  map[string]bool
	down     map[string]bool
	seq      map[string]int
	events   []Event
	started  bool
	stopping bool

	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Supervisor; Run starts it.
func New(opts Options) (*Supervisor, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid supervisor options: %w", err)
	}
	opts.defaults()
	s := &Supervisor{
		opts: opts, regions: map[string]*Region{}, nodes: map[string]Node{}, replicas: map[string]*replica{},
		cordoned: map[string]bool{}, gpuLost: map[string]bool{}, down: map[string]bool{}, seq: map[string]int{}, kick: make(chan struct{}, 1),
	}
	for i := range opts.Regions {
		r := opts.Regions[i]
		s.regions[r.Name] = &r
		s.order = append(s.order, r.Name)
		for _, n := range r.Nodes {
			s.nodes[n.Name] = n
		}
	}
	return s, nil
}

// Run starts the initial replicas and the control loop. It returns at once;
// Stop ends it.
func (s *Supervisor) Run(ctx context.Context) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	s.logger = s.opts.Logger
	if s.logger == nil {
		s.logger = log.FromContext(ctx)
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Go(func() { s.loop(ctx) })
	s.wg.Go(func() { s.readyLoop(ctx) })
}

// Stop ends the control loop and kills every replica.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	var handles []Handle
	for _, r := range s.replicas {
		if r.handle != nil {
			handles = append(handles, r.handle)
		}
	}
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	var errs []error
	for _, h := range handles {
		if err := h.Kill(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *Supervisor) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Supervisor) eventLocked(e Event) {
	e.At = s.opts.Clock.Now()
	s.events = append(s.events, e)
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
	if s.logger != nil {
		s.logger.Debug("supervisor event", "type", e.Type, "region", e.Region, "node", e.Node, "replica", e.Replica, "message", e.Message)
	}
}

func (s *Supervisor) loop(ctx context.Context) {
	first := true
	for {
		next := s.reconcile(ctx, first)
		first = false
		var timer clock.Timer
		var timerC <-chan time.Time
		if !next.IsZero() {
			timer = s.opts.Clock.NewTimer(max(next.Sub(s.opts.Clock.Now()), 0))
			timerC = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-s.kick:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// loadLocked counts the replicas on each node that are not terminating.
func (s *Supervisor) loadLocked() map[string]int {
	load := map[string]int{}
	for _, r := range s.replicas {
		if r.Phase != PhaseTerminating {
			load[r.Node]++
		}
	}
	return load
}

// scheduleLocked creates a replica on a schedulable node of region, or
// returns false when there is none.
func (s *Supervisor) scheduleLocked(reg *Region, replacement bool) (*replica, bool) {
	n, ok := pickNode(reg.Nodes, s.unschedulableLocked(), s.loadLocked(), reg.PodsPerNode)
	if !ok {
		return nil, false
	}
	s.seq[reg.Name]++
	now := s.opts.Clock.Now()
	r := &replica{Replica: Replica{
		Name: replicaName(reg.Name, s.seq[reg.Name]), Region: reg.Name, Node: n.Name, Zone: n.Zone, GPU: n.GPU,
		Labels: replicaLabels(n), Phase: PhasePending, Created: now, Replacement: replacement,
	}, gone: make(chan struct{})}
	r.startAt = now
	if replacement {
		r.startAt = now.Add(s.opts.StartDelay)
	}
	s.replicas[r.Name] = r
	s.eventLocked(Event{Type: EventScheduled, Region: reg.Name, Node: n.Name, Replica: r.Name})
	return r, true
}

// reconcile schedules missing replicas, starts due ones, stops evicted and
// down-region ones, and returns when the next pending replica is due.
func (s *Supervisor) reconcile(ctx context.Context, initial bool) time.Time {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return time.Time{}
	}
	now := s.opts.Clock.Now()
	var toStart, toEvict, toKill []*replica
	for _, name := range s.order {
		reg := s.regions[name]
		if s.down[name] {
			for _, r := range s.replicas {
				if r.Region == name && r.Phase != PhaseTerminating {
					r.Phase = PhaseTerminating
					toKill = append(toKill, r)
				}
			}
			continue
		}
		count := 0
		for _, r := range s.replicas {
			if r.Region == name && r.Phase != PhaseTerminating && !r.Evicting {
				count++
			}
		}
		for ; count < reg.Replicas; count++ {
			if _, ok := s.scheduleLocked(reg, !initial); !ok {
				if n := len(s.events); n == 0 || s.events[n-1].Type != EventUnschedulable || s.events[n-1].Region != name {
					s.eventLocked(Event{Type: EventUnschedulable, Region: name, Message: fmt.Sprintf("%d replica(s) have no schedulable node", reg.Replicas-count)})
				}
				break
			}
		}
	}
	var next time.Time
	for _, r := range s.sortedLocked() {
		switch {
		case r.Phase == PhasePending && !r.startAt.After(now):
			r.Phase, r.Started = PhaseStarting, now
			s.eventLocked(Event{Type: EventStarting, Region: r.Region, Node: r.Node, Replica: r.Name, Replacement: r.Replacement})
			toStart = append(toStart, r)
		case r.Phase == PhasePending:
			if next.IsZero() || r.startAt.Before(next) {
				next = r.startAt
			}
		case r.Evicting && r.Phase != PhaseTerminating && s.evictableLocked(r):
			r.Phase = PhaseTerminating
			toEvict = append(toEvict, r)
		}
	}
	s.mu.Unlock()

	for _, r := range toStart {
		s.wg.Go(func() { s.start(ctx, r) })
	}
	if len(toKill) > 0 || len(toEvict) > 0 {
		s.opts.OnChange(ctx)
	}
	for _, r := range toKill {
		if h := s.handleOf(r); h != nil {
			s.wg.Go(func() { _ = h.Kill(context.WithoutCancel(ctx)) })
		} else {
			s.remove(ctx, r, "the region is down")
		}
	}
	for _, r := range toEvict {
		s.mu.Lock()
		s.eventLocked(Event{Type: EventEvicting, Region: r.Region, Node: r.Node, Replica: r.Name})
		s.mu.Unlock()
		if h := s.handleOf(r); h != nil {
			s.wg.Go(func() { _ = h.Terminate(context.WithoutCancel(ctx), s.opts.TerminateGrace) })
		} else {
			s.remove(ctx, r, "evicted before it started")
		}
	}
	return next
}

// evictableLocked says whether a drain may stop r now: its replacement (if
// any) is ready or gone, and the region keeps enough ready replicas.
func (s *Supervisor) evictableLocked(r *replica) bool {
	if w, ok := s.replicas[r.waitFor]; ok && r.waitFor != "" && w.Phase != PhaseReady {
		return false
	}
	reg := s.regions[r.Region]
	readyOthers := 0
	for _, o := range s.replicas {
		if o.Region == r.Region && o != r && o.Phase == PhaseReady && !o.Evicting {
			readyOthers++
		}
	}
	return readyOthers >= reg.Replicas-s.opts.MaxUnavailable
}

func (s *Supervisor) handleOf(r *replica) Handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.handle
}

func (s *Supervisor) sortedLocked() []*replica {
	out := make([]*replica, 0, len(s.replicas))
	for _, r := range s.replicas {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *replica) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// start runs a replica's process and watches it.
func (s *Supervisor) start(ctx context.Context, r *replica) {
	h, err := s.opts.Runtime.StartReplica(ctx, ReplicaSpec{Name: r.Name, Region: r.Region, Node: r.Node})
	s.mu.Lock()
	if err != nil {
		s.eventLocked(Event{Type: EventStartFailed, Region: r.Region, Node: r.Node, Replica: r.Name, Message: err.Error()})
		delete(s.replicas, r.Name)
		s.mu.Unlock()
		if ctx.Err() == nil {
			s.logger.Warn("replica failed to start", "replica", r.Name, "err", err)
		}
		s.poke()
		return
	}
	r.handle, r.Addr, r.Pid = h, h.Addr(), h.Pid()
	doomed := r.Phase == PhaseTerminating || s.stopping
	s.mu.Unlock()
	if doomed {
		_ = h.Kill(context.WithoutCancel(ctx))
	} else {
		s.opts.OnChange(ctx)
	}
	select {
	case <-h.Done():
	case <-ctx.Done():
		<-h.Done() // Stop kills it.
	}
	s.remove(ctx, r, "exited")
}

func (s *Supervisor) remove(ctx context.Context, r *replica, why string) {
	s.mu.Lock()
	if cur, ok := s.replicas[r.Name]; ok && cur == r {
		delete(s.replicas, r.Name)
		close(r.gone)
		s.eventLocked(Event{Type: EventExited, Region: r.Region, Node: r.Node, Replica: r.Name, Message: why})
	}
	stopping := s.stopping
	s.mu.Unlock()
	if !stopping {
		s.opts.OnChange(ctx)
		s.poke()
	}
}

func (r *replica) snapshot() Replica {
	c := r.Replica
	c.Labels = make(map[string]string, len(r.Labels))
	for k, v := range r.Labels {
		c.Labels[k] = v
	}
	return c
}

// Replicas returns every replica, sorted by name.
func (s *Supervisor) Replicas() []Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Replica{}
	for _, r := range s.sortedLocked() {
		out = append(out, r.snapshot())
	}
	return out
}

// Capacity reports desired and ready replicas per region. A region that is
// down desires none.
func (s *Supervisor) Capacity() []Capacity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Capacity, 0, len(s.order))
	for _, name := range s.order {
		c := Capacity{Region: name, Desired: s.regions[name].Replicas}
		if s.down[name] {
			c.Desired = 0
		}
		for _, r := range s.replicas {
			if r.Region == name && r.Phase == PhaseReady {
				c.Ready++
			}
		}
		out = append(out, c)
	}
	return out
}

// Ready reports whether every region that is up has its desired replicas
// ready.
func (s *Supervisor) Ready() bool {
	for _, c := range s.Capacity() {
		if c.Ready < c.Desired {
			return false
		}
	}
	return true
}

// Events returns the events at or after since.
func (s *Supervisor) Events(since time.Time) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		if !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out
}

// Kill stops a replica at once (grace 0) or gracefully and waits until it
// is gone. The supervisor replaces it after the start delay.
func (s *Supervisor) Kill(ctx context.Context, name string, grace time.Duration) error {
	s.mu.Lock()
	r, ok := s.replicas[name]
	var h Handle
	if ok {
		h = r.handle
	}
	s.mu.Unlock()
	if !ok {
		return nil // already gone: idempotent
	}
	if h == nil {
		s.remove(ctx, r, "killed before it started")
		return nil
	}
	var err error
	if grace > 0 {
		err = h.Terminate(ctx, grace)
	} else {
		err = h.Kill(ctx)
	}
	if err != nil {
		return fmt.Errorf("killing replica %s: %w", name, err)
	}
	// Wait until the supervisor has seen the exit, so that callers observe
	// the replica gone.
	select {
	case <-r.gone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for replica %s to be reaped: %w", name, ctx.Err())
	}
}

// SetRegionDown takes a region down (its replicas are killed and not
// replaced) or brings it back (replicas start after the start delay). When
// taking it down it waits until the region's replicas are gone.
func (s *Supervisor) SetRegionDown(ctx context.Context, region string, down bool) error {
	s.mu.Lock()
	if _, ok := s.regions[region]; !ok {
		s.mu.Unlock()
		return fmt.Errorf("no region %s", region)
	}
	if s.down[region] != down {
		s.down[region] = down
		typ := EventRegionUp
		if down {
			typ = EventRegionDown
		}
		s.eventLocked(Event{Type: typ, Region: region})
	}
	s.mu.Unlock()
	s.poke()
	if !down {
		return nil
	}
	s.mu.Lock()
	var gone []chan struct{}
	for _, r := range s.replicas {
		if r.Region == region {
			gone = append(gone, r.gone)
		}
	}
	s.mu.Unlock()
	for _, g := range gone {
		select {
		case <-g:
		case <-ctx.Done():
			return fmt.Errorf("waiting for region %s to go down: %w", region, ctx.Err())
		}
	}
	return nil
}

// RegionDown reports whether a region is down.
func (s *Supervisor) RegionDown(region string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down[region]
}

// Replaced returns the first start of a replacement replica at or after
// since, or nil.
func (s *Supervisor) Replaced(since time.Time) *time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.Type == EventStarting && e.Replacement && !e.At.Before(since) {
			t := e.At
			return &t
		}
	}
	return nil
}
