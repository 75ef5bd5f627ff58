package supervisor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// readyLoop polls the readiness of running replicas.
func (s *Supervisor) readyLoop(ctx context.Context) {
	t := s.opts.Clock.NewTicker(s.opts.ReadyInterval)
	defer t.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		s.pollReady(ctx, tick%5 == 0)
	}
}

func (s *Supervisor) pollReady(ctx context.Context, all bool) {
	type check struct {
		r     *replica
		addr  string
		ready bool
	}
	s.mu.Lock()
	var checks []*check
	for _, r := range s.replicas {
		if r.Addr == "" || r.Phase == PhaseTerminating || r.Phase == PhasePending || (r.Phase == PhaseReady && !all) {
			continue
		}
		checks = append(checks, &check{r: r, addr: r.Addr})
	}
	s.mu.Unlock()
	if len(checks) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			c.ready = s.opts.Runtime.Ready(cctx, c.addr)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	var became []Replica
	changed := false
	s.mu.Lock()
	now := s.opts.Clock.Now()
	for _, c := range checks {
		r := c.r
		if cur, ok := s.replicas[r.Name]; !ok || cur != r || r.Phase == PhaseTerminating {
			continue
		}
		switch {
		case c.ready && r.Phase == PhaseStarting:
			r.Phase = PhaseReady
			if r.ReadyAt.IsZero() {
				r.ReadyAt = now
				became = append(became, r.snapshot())
			}
			s.eventLocked(Event{Type: EventReady, Region: r.Region, Node: r.Node, Replica: r.Name, Message: fmt.Sprintf("ready %s after its start", now.Sub(r.Started).Round(time.Millisecond))})
			changed = true
		case !c.ready && r.Phase == PhaseReady:
			r.Phase = PhaseStarting
			s.eventLocked(Event{Type: EventNotReady, Region: r.Region, Node: r.Node, Replica: r.Name})
			changed = true
		}
	}
	s.mu.Unlock()
	if changed {
		s.opts.OnChange(ctx)
		s.poke()
	}
	if s.opts.OnReady != nil {
		for _, r := range became {
			s.wg.Go(func() { s.opts.OnReady(ctx, r) })
		}
	}
}
