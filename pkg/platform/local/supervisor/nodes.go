package supervisor

import "fmt"

// Nodes returns every node of every region with whether it is cordoned.
func (s *Supervisor) Nodes() ([]Node, map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Node
	for _, name := range s.order {
		out = append(out, s.regions[name].Nodes...)
	}
	cordoned := map[string]bool{}
	for k, v := range s.cordoned {
		cordoned[k] = v
	}
	return out, cordoned
}

// DrainPlan says what draining a node involves.
type DrainPlan struct {
	// Victims are the replicas on the node.
	Victims []string
	// Free is how many replicas the region's other schedulable nodes can
	// still take.
	Free int
}

// PlanDrain reports the replicas on node and the room left elsewhere in
// its region.
func (s *Supervisor) PlanDrain(node string) (DrainPlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[node]
	if !ok {
		return DrainPlan{}, fmt.Errorf("no node %s", node)
	}
	reg := s.regions[n.Region]
	load := s.loadLocked()
	var p DrainPlan
	for _, r := range s.sortedLocked() {
		if r.Node == node && r.Phase != PhaseTerminating && !r.Evicting {
			p.Victims = append(p.Victims, r.Name)
		}
	}
	off := s.unschedulableLocked()
	for _, o := range reg.Nodes {
		if o.Name != node && !off[o.Name] {
			p.Free += max(reg.PodsPerNode-load[o.Name], 0)
		}
	}
	return p, nil
}

// Drain cordons node and evicts its replicas: a replacement is scheduled on
// another node first where there is room, and each replica is stopped
// gracefully once its replacement is ready and the region's disruption
// budget allows. It returns at once; Replicas and Events show progress.
func (s *Supervisor) Drain(node string) error {
	s.mu.Lock()
	n, ok := s.nodes[node]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("no node %s", node)
	}
	if !s.cordoned[node] {
		s.cordoned[node] = true
		s.eventLocked(Event{Type: EventCordoned, Region: n.Region, Node: node})
	}
	reg := s.regions[n.Region]
	for _, r := range s.sortedLocked() {
		if r.Node != node || r.Evicting || r.Phase == PhaseTerminating {
			continue
		}
		r.Evicting = true
		if !s.down[n.Region] {
			if rep, ok := s.scheduleLocked(reg, true); ok {
				r.waitFor = rep.Name
			}
		}
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

// Drained reports whether no replica is left on node.
func (s *Supervisor) Drained(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.replicas {
		if r.Node == node {
			return false
		}
	}
	return true
}

// Uncordon makes node schedulable again. It is idempotent.
func (s *Supervisor) Uncordon(node string) error {
	return s.unmark(node, s.cordoned, EventUncordoned)
}

// unmark takes node out of marks (the cordoned nodes, the nodes whose GPU
// failed), recording ev if it was in, and wakes the placement loop. It is
// idempotent.
func (s *Supervisor) unmark(node string, marks map[string]bool, ev EventType) error {
	s.mu.Lock()
	n, ok := s.nodes[node]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("no node %s", node)
	}
	if marks[node] {
		delete(marks, node)
		s.eventLocked(Event{Type: ev, Region: n.Region, Node: node})
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

// Cordoned reports whether node is cordoned.
func (s *Supervisor) Cordoned(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cordoned[node]
}
