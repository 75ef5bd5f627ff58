package procbed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/e2e/framework/netproxy"
	"github.com/firedrill/firedrill/e2e/framework/procpods"
	"github.com/firedrill/firedrill/e2e/framework/spawn"
	"github.com/firedrill/firedrill/e2e/framework/workloads"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// Processes is what makes a cluster's pods real: the node agent that runs
// the pods labelled workloads.ProcessLabel as processes, and the service proxy that
// gives every Service an address on this machine.
type Processes struct {
	// Agent runs the pods; Proxy serves the Services.
	Agent *procpods.NodeAgent
	Proxy *netproxy.ServiceProxy
	// Dir holds the agent's directories and logs
	// (<WorkDir>/processes).
	Dir string

	c *framework.Cluster
}

// Start starts the service proxy and the node agent of a cluster c
// started with framework.Options.ProcessPods. executables maps the first word of a
// container's command to a binary ({"drill": <the drill binary>} for the
// workloads of this package). Both stop in tb.Cleanup, the agent first (it
// kills every pod process still running). Their logs go to
// <WorkDir>/logs/node-agent.log and service-proxy.log.
func Start(ctx context.Context, tb testing.TB, c *framework.Cluster, executables map[string]string) *Processes {
	tb.Helper()
	if !c.ProcessPods() {
		tb.Fatalf("procbed.Start needs a cluster started with Options.ProcessPods")
	}
	pr, err := start(ctx, tb, c, executables)
	if err != nil {
		tb.Fatalf("starting the node agent and the service proxy: %v", err)
	}
	return pr
}

func start(ctx context.Context, tb testing.TB, c *framework.Cluster, executables map[string]string) (*Processes, error) {
	tb.Helper()
	proxyLog, err := componentLogger(tb, c, "service-proxy")
	if err != nil {
		return nil, err
	}
	agentLog, err := componentLogger(tb, c, "node-agent")
	if err != nil {
		return nil, err
	}
	pr := &Processes{Dir: filepath.Join(c.WorkDir, "processes"), c: c}
	if pr.Proxy, err = netproxy.NewServiceProxy(netproxy.ServiceProxyOptions{Clientset: c.Clientset, Logger: proxyLog}); err != nil {
		return nil, err
	}
	if err := pr.Proxy.Start(ctx); err != nil {
		return nil, err
	}
	tb.Cleanup(func() { _ = pr.Proxy.Stop(context.Background()) })
	pr.Agent, err = procpods.NewNodeAgent(procpods.NodeAgentOptions{
		Clientset: c.Clientset, Executables: executables,
		Dir: pr.Dir, ServiceLinks: pr.Proxy, Logger: agentLog,
	})
	if err != nil {
		return nil, err
	}
	if err := pr.Agent.Start(ctx); err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, r := range pr.Agent.Processes() {
				tb.Logf("pod process %s/%s (pid %d) %s→%s %s; log %s:\n%s", r.Namespace, r.Pod, r.Pid,
					r.Started.Format(time.TimeOnly), r.Exited.Format(time.TimeOnly), r.Stop, pr.LogPath(r), spawn.Tail(pr.LogPath(r), 8))
			}
		}
		if err := pr.Agent.Stop(context.Background()); err != nil {
			tb.Errorf("stopping the node agent: %v", err)
		}
	})
	return pr, nil
}

// componentLogger returns a logger writing to c's <WorkDir>/logs/<name>.log
// until the test ends.
func componentLogger(tb testing.TB, c *framework.Cluster, name string) (*slog.Logger, error) {
	tb.Helper()
	f, err := os.OpenFile(c.LogPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of the %s: %w", name, err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), nil
}

// LogPath is the log of a pod's process.
func (pr *Processes) LogPath(r procpods.ProcessRecord) string {
	return filepath.Join(pr.Dir, "logs", fmt.Sprintf("%s_%s_%s.log", r.Namespace, r.Pod, r.UID))
}

// ServiceURL waits until the proxy serves a Service port and returns its
// URL, http://127.0.0.1:<port>.
func (pr *Processes) ServiceURL(ctx context.Context, tb testing.TB, ns, name string, port int32) string {
	tb.Helper()
	addr, err := pr.Proxy.WaitAddr(ctx, ns, name, port)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return "http://" + addr
}

// StartGateway starts a Gateway for the HTTPRoute ns/route, stopped in
// tb.Cleanup. Install the Gateway API CRDs first.
func (pr *Processes) StartGateway(ctx context.Context, tb testing.TB, ns, route string) *netproxy.Gateway {
	tb.Helper()
	dyn, err := dynamic.NewForConfig(pr.c.Config)
	if err != nil {
		tb.Fatalf("gateway: %v", err)
	}
	logger, err := componentLogger(tb, pr.c, "gateway-"+route)
	if err != nil {
		tb.Fatalf("gateway: %v", err)
	}
	g, err := netproxy.NewGateway(netproxy.GatewayOptions{Dynamic: dyn, Namespace: ns, Route: route, Services: pr.Proxy, Logger: logger})
	if err != nil {
		tb.Fatalf("%v", err)
	}
	if err := g.Start(ctx); err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { _ = g.Stop(context.Background()) })
	return g
}

// Model is a model published to the model store.
type Model struct {
	// Ref is where it was pushed (through the proxy); Version and Digest
	// identify it.
	Ref, Version, Digest string
}

// DefaultModel sizes the model the process-backed recommenders serve:
// small enough to train in about a second and load in well under one.
var DefaultModel = local.ModelSpec{Users: 5000, Items: 2000, Seed: 1}

// PublishModel trains the model spec describes (once per machine: it is
// cached in the sandbox's model cache) and pushes it as
// recommender:prod to the model-store Service of ns, through the service
// proxy, as a release pipeline would.
func (pr *Processes) PublishModel(ctx context.Context, tb testing.TB, ns string, spec local.ModelSpec) Model {
	tb.Helper()
	m, err := local.EnsureModel(ctx, clock.RealClock{}, local.DefaultModelCacheDir(), spec)
	if err != nil {
		tb.Fatalf("building the model: %v", err)
	}
	addr, err := pr.Proxy.WaitAddr(ctx, ns, workloads.ModelStoreName, workloads.ModelStorePort)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	cfg, err := json.Marshal(m.Metadata)
	if err != nil {
		tb.Fatalf("encoding the model metadata: %v", err)
	}
	s, err := store.New(store.Options{})
	if err != nil {
		tb.Fatalf("creating a store client: %v", err)
	}
	ref := addr + "/" + workloads.ModelRepository
	desc, err := s.Push(ctx, ref, m.Dir, store.PushOptions{Version: m.Metadata.Version, Created: m.Metadata.CreatedAt, DataHash: m.Metadata.DataHash, Config: cfg})
	if err != nil {
		tb.Fatalf("pushing the model to %s: %v", ref, err)
	}
	return Model{Ref: ref, Version: m.Metadata.Version, Digest: desc.Digest.String()}
}
