package cleanup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
)

// t0 anchors every fake clock.
var t0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// fakePlatform records the recoveries cleanup asks of it and acts on the
// clusters it is given; the rest of platform.Platform is platform.None's.
type fakePlatform struct {
	platform.None
	mu       sync.Mutex
	calls    []string
	clusters []evidence.Cluster
}

func newFakePlatform() *fakePlatform { return &fakePlatform{} }

func (p *fakePlatform) Name() string { return "fake" }

func (p *fakePlatform) Recover(_ context.Context, f platform.Fault, ts []evidence.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("recover %s %s", f.ID, evidence.TargetNames(ts)))
	return nil
}

func (p *fakePlatform) Clusters() []evidence.Cluster { return p.clusters }

// Calls are the recoveries asked so far.
func (p *fakePlatform) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}
