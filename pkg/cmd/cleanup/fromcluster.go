package cleanup

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

// FromCluster is what drill cleanup --from-cluster looked at.
type FromCluster struct {
	// Server is the cluster's API server; Context the kubeconfig context.
	Server  string `json:"server"`
	Context string `json:"context,omitempty"`
	// Grace is how old a heartbeat may be before its run is taken for
	// dead.
	Grace string `json:"grace"`
	// Namespaces are the namespaces looked in; empty is every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
}

// fromCluster reverts, with no journal, what dead runs left marked on the
// cluster.
func fromCluster(ctx context.Context, opts Options) error {
	if opts.Grace == 0 {
		opts.Grace = kube.DefaultHeartbeatGrace
	}
	p, err := kube.New(kube.Options{
		// No plan: the platform only reads marks and heartbeats and
		// restores objects from their marks.
		Spec:       &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes}},
		Kubeconfig: opts.Platforms.Kubeconfig, Context: opts.Platforms.KubeContext,
		QPS: opts.Platforms.KubeQPS, Burst: opts.Platforms.KubeBurst,
	})
	if err != nil {
		return err
	}
	fc := &FromCluster{Grace: opts.Grace.String(), Namespaces: opts.Namespaces}
	if cs := p.Clusters(); len(cs) > 0 {
		fc.Server, fc.Context = cs[0].Server, cs[0].Context
	}
	orphans, err := p.RecoverOrphans(ctx, kube.OrphanOptions{Namespaces: opts.Namespaces, Grace: opts.Grace, DryRun: opts.DryRun})
	res := orphanResult(opts.DryRun, fc, orphans, err)
	if werr := output.Write(opts.Out, opts.Output, res, func(w io.Writer) error {
		writeOrphans(w, res)
		return nil
	}); werr != nil {
		return werr
	}
	if err != nil {
		if opts.Output.Machine() {
			log.FromContext(ctx).Error("some faults are still active", "err", err)
		}
		return &exitcode.Error{Code: 1}
	}
	return nil
}

// orphanResult is the document of drill cleanup --from-cluster.
func orphanResult(dryRun bool, fc *FromCluster, orphans []kube.Orphan, err error) Result {
	res := Result{DryRun: dryRun, FromCluster: fc, Leftovers: make([]Leftover, 0, len(orphans))}
	for _, o := range orphans {
		l := Leftover{Run: o.RunID, Step: o.Fault, Targets: o.Objects, Heartbeat: o.Heartbeat.String()}
		switch {
		case o.Err != nil:
			l.State, l.Error = StateNotReverted, o.Err.Error()
		case o.Live():
			l.State = StateLive
		case o.Reverted:
			l.State = StateReverted
		default:
			l.State = StateWouldBeReverted
		}
		if l.Targets == nil {
			l.Targets = []evidence.Target{}
		}
		res.Leftovers = append(res.Leftovers, l)
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// writeOrphans writes the document of --from-cluster for people.
func writeOrphans(w io.Writer, res Result) {
	fc := res.FromCluster
	where := "every namespace"
	if len(fc.Namespaces) > 0 {
		where = "namespaces " + strings.Join(fc.Namespaces, ", ")
	}
	cluster := fc.Server
	if fc.Context != "" {
		cluster += fmt.Sprintf(" (context %s)", fc.Context)
	}
	fmt.Fprintf(w, "marks on cluster %s, nodes and %s; a run is dead when its heartbeat is older than %s\n", cluster, where, fc.Grace)
	live := 0
	for _, l := range res.Leftovers {
		var state string
		switch l.State {
		case StateLive:
			live++
			state = "left alone, the run is live"
		case StateReverted:
			state = "reverted"
		case StateWouldBeReverted:
			state = "would be reverted"
		default:
			state = "NOT reverted: " + l.Error
		}
		fmt.Fprintf(w, "run %s, step %s (%s): %s; %s\n", l.Run, l.Step, evidence.TargetNames(l.Targets), state, l.Heartbeat)
	}
	switch {
	case res.Error != "":
		fmt.Fprintln(w, "some faults are still active: "+res.Error)
	case len(res.Leftovers) == 0:
		fmt.Fprintln(w, "no run's marks on the cluster")
	case live == len(res.Leftovers):
		fmt.Fprintf(w, "no dead run's marks on the cluster; %d fault(s) of live runs left alone\n", live)
	case live > 0:
		fmt.Fprintf(w, "%d fault(s) of live runs left alone\n", live)
	}
}
