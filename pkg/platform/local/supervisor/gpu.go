package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// unschedulableLocked are the nodes no replica may be placed on: cordoned
// ones and those whose GPU failed.
func (s *Supervisor) unschedulableLocked() map[string]bool {
	if len(s.gpuLost) == 0 {
		return s.cordoned
	}
	off := make(map[string]bool, len(s.cordoned)+len(s.gpuLost))
	for _, m := range []map[string]bool{s.cordoned, s.gpuLost} {
		for k, v := range m {
			off[k] = v
		}
	}
	return off
}

// FailGPU makes node lose its GPU: no replica is placed on it until
// RestoreGPU, and the replicas on it die, at once (grace 0, SIGKILL) or
// after grace. It returns the replicas it killed once they are gone; the
// supervisor replaces them on other nodes after the start delay. A node
// whose GPU already failed is left as it is.
func (s *Supervisor) FailGPU(ctx context.Context, node string, grace time.Duration) ([]string, error) {
	s.mu.Lock()
	n, ok := s.nodes[node]
	switch {
	case !ok:
		s.mu.Unlock()
		return nil, fmt.Errorf("no node %s", node)
	case !n.GPU:
		s.mu.Unlock()
		return nil, fmt.Errorf("node %s has no GPU to lose", node)
	case s.gpuLost[node]:
		s.mu.Unlock()
		return nil, nil
	}
	s.gpuLost[node] = true
	s.eventLocked(Event{Type: EventGPUFailed, Region: n.Region, Node: node})
	var victims []string
	for _, r := range s.sortedLocked() {
		if r.Node == node && r.Phase != PhaseTerminating {
			victims = append(victims, r.Name)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, name := range victims {
		if err := s.Kill(ctx, name, grace); err != nil {
			errs = append(errs, err)
		}
	}
	return victims, errors.Join(errs...)
}

// RestoreGPU gives node its GPU back: replicas may be placed on it again.
// It is idempotent.
func (s *Supervisor) RestoreGPU(node string) error {
	return s.unmark(node, s.gpuLost, EventGPURestored)
}

// GPULost reports whether node's GPU failed.
func (s *Supervisor) GPULost(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gpuLost[node]
}
