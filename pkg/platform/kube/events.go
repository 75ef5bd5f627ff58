package kube

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/faultlog"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// begin is the start of an Inject of f. The first one makes the
// informers watch for the fault's replacement capacity from now (one
// EventReplaced) and reports the cluster observations under way (pods
// waiting for a GPU, Services without endpoints) as the fault's notes.
func (p *Platform) begin(ctx context.Context, f platform.Fault) *faultlog.Fault {
	st, created := p.log.State(f.ID)
	if created {
		p.expectReplacement(ctx, f, st.Started())
		p.mu.Lock()
		w := p.watch
		p.mu.Unlock()
		if w != nil {
			for _, msg := range w.Open() {
				p.log.Note(f.ID, nil, msg)
			}
		}
	}
	return st
}

// beginRevert is the start of a Revert of f. The first one watches for the
// fail-back's replacement capacity from now (one more EventReplaced).
func (p *Platform) beginRevert(ctx context.Context, f platform.Fault) *faultlog.Fault {
	st, _ := p.log.State(f.ID)
	now := p.opts.Clock.Now()
	if st.BeginRevert() {
		p.expectReplacement(ctx, f, now)
	}
	return st
}

// expectReplacement asks the informers for the first pod after since that
// replaces capacity for f: a pod of a watched workload or, for a pod kill,
// one its selector matches.
func (p *Platform) expectReplacement(ctx context.Context, f platform.Fault, since time.Time) {
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	if w == nil {
		return
	}
	var extra labels.Selector
	ns := p.scope.namespace
	if pk := f.Spec.PodKill; pk != nil {
		if s, err := objects.SelectorOf(pk.Selector); err == nil && pk.Selector != nil {
			extra = s
		}
		if pk.Namespace != "" {
			ns = pk.Namespace
		}
	}
	w.Expect(ctx, f.ID, since, ns, extra)
}

// markOf is the bookkeeping of fault f: its run and step, and where the
// run's heartbeat is on this cluster.
func (p *Platform) markOf(f platform.Fault) marks.Mark {
	return marks.Mark{RunID: f.RunID, Fault: f.ID, Heartbeat: p.hb.Key(f.RunID).String()}
}
