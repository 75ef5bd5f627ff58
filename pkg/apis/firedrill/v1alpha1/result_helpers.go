package v1alpha1

// Float is the percentage as a number, as ParsePercent reads it.
func (p Percent) Float() (float64, error) { return ParsePercent(p) }

// SuccessRate is the window's success rate in percent, computed from its
// counts; 0 when there were no requests.
func (w WindowStats) SuccessRate() float64 {
	if w.Requests == 0 {
		return 0
	}
	return 100 * float64(w.Requests-w.Failures) / float64(w.Requests)
}

// IsTerminal says whether a run or step in phase p is over.
func (p RunPhase) IsTerminal() bool {
	return p == RunSucceeded || p == RunFailed || p == RunAborted || p == RunError || p == RunInterrupted
}

// Unfinished says whether a journaled fault in state s may still be in
// effect.
func (s FaultState) Unfinished() bool {
	return s == FaultInjecting || s == FaultActive || s == FaultReverting
}
