package framework

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// StartMany starts one control plane per name side by side (each on its
// own free ports, with its own work dir when opts.WorkDir is empty) and
// returns them by name. It fails the test when any does not start.
func StartMany(ctx context.Context, tb testing.TB, opts Options, names ...string) map[string]*Cluster {
	tb.Helper()
	out := make(map[string]*Cluster, len(names))
	errs := make(map[string]error, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		o := opts
		if o.WorkDir != "" {
			o.WorkDir = o.WorkDir + "/" + name
		}
		wg.Go(func() {
			c, err := start(ctx, tb, o)
			mu.Lock()
			defer mu.Unlock()
			out[name], errs[name] = c, err
		})
	}
	wg.Wait()
	for _, name := range names {
		if err := errs[name]; err != nil {
			tb.Fatalf("starting the e2e control plane %s: %v", name, err)
		}
		tb.Logf("e2e control plane %s ready (API server %s, work dir %s)", name, out[name].APIServerURL, out[name].WorkDir)
	}
	return out
}

// WriteKubeconfig writes one kubeconfig with a context per cluster, named
// by the map's keys (cluster and user entries are named the same), as a
// multi-cluster plan's target.clusters expects. The current context is the
// first name in sorted order.
func WriteKubeconfig(path string, clusters map[string]*Cluster) error {
	out := clientcmdapi.NewConfig()
	names := slices.Sorted(maps.Keys(clusters))
	for _, name := range names {
		c := clusters[name]
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
		if err != nil {
			return fmt.Errorf("reading the kubeconfig of cluster %s: %w", name, err)
		}
		ctx, ok := cfg.Contexts[cfg.CurrentContext]
		if !ok {
			return fmt.Errorf("the kubeconfig of cluster %s has no current context", name)
		}
		out.Clusters[name] = cfg.Clusters[ctx.Cluster]
		out.AuthInfos[name] = cfg.AuthInfos[ctx.AuthInfo]
		out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	if len(names) > 0 {
		out.CurrentContext = names[0]
	}
	if err := clientcmd.WriteToFile(*out, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
