package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/e2e/framework/pki"
	"github.com/firedrill/firedrill/e2e/framework/podnet"
	"github.com/firedrill/firedrill/e2e/framework/spawn"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

const (
	// BinDirEnv names the environment variable that points at the directory
	// holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler
	// and kwok (the output of hack/kube-binaries.sh).
	BinDirEnv = "FIREDRILL_KUBE_BIN"

	// DefaultPodStartDelay is Options.PodStartDelay when it is zero.
	DefaultPodStartDelay = 2 * time.Second

	// DefaultPodCIDR is Options.PodCIDR when it is empty.
	DefaultPodCIDR = "127.42.0.0/16"

	// NodeIP is podnet.NodeIP, the InternalIP of every kwok node.
	NodeIP = podnet.NodeIP

	// serviceCIDR is the range of ClusterIP Services; apiServiceIP is the
	// first address in it, taken by the "kubernetes" Service.
	serviceCIDR  = "10.96.0.0/16"
	apiServiceIP = "10.96.0.1"

	// componentTimeout bounds how long one component may take to become
	// healthy. The machines that run the suite are small and busy.
	componentTimeout = 2 * time.Minute
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// BinDir holds the control plane binaries. Empty means $FIREDRILL_KUBE_BIN,
	// else the directory printed by hack/kube-binaries.sh, found by walking up
	// from the working directory to the module root (building the binaries
	// when they are not cached yet, which takes 12-15 minutes once).
	BinDir string
	// WorkDir receives credentials, etcd data, the kubeconfig and one log
	// per component (logs/<component>.log). Empty means tb.TempDir().
	WorkDir string
	// PodStartDelay is how long kwok keeps a scheduled pod Running but not
	// Ready, modelling a GPU pod loading its model. Zero means
	// DefaultPodStartDelay; a pod can override it with the annotation
	// pod-ready.stage.kwok.x-k8s.io/delay (a Go duration string).
	PodStartDelay time.Duration
	// PodStartJitter adds a uniformly random extra delay in
	// [0, PodStartJitter] to PodStartDelay. Zero means none: every pod takes
	// exactly PodStartDelay.
	PodStartJitter time.Duration
	// PodCIDR is the range kwok gives pod IPs from. Empty means
	// DefaultPodCIDR, or podnet.RandomPodCIDR() with ProcessPods. Addresses in
	// 127.0.0.0/8 can be bound on this machine, so a test may run a real
	// server behind a pod IP, but the API server refuses them in
	// EndpointSlices.
	PodCIDR string
	// ProcessPods prepares the cluster for procbed.Start: the pod CIDR
	// must lie outside 127.0.0.0/8, so that the EndpointSlice controller
	// can publish pod IPs, and each pod's process listens on its IP's
	// loopback image (see podnet.LoopbackImage).
	ProcessPods bool
	// ComponentQPS and ComponentBurst set --kube-api-qps and
	// --kube-api-burst of the controller manager and the scheduler. Zero
	// keeps their defaults (20/30 and 50/100), which make a cluster of
	// thousands of pods wait on its own controllers for minutes.
	ComponentQPS   float32
	ComponentBurst int
	// KwokParallelism sets how many pods and nodes kwok moves through
	// their stages at once (podPlayStageParallelism and
	// nodePlayStageParallelism). Zero keeps kwok's default of 4, which
	// makes a thousand pod deletions wait on kwok for half a minute.
	KwokParallelism int
	// NodeLeaseDuration is the Lease kwok keeps for every node
	// (--node-lease-duration-seconds); kwok renews it well within that
	// time, which is the heartbeat the node lifecycle controller checks.
	// Zero means DefaultNodeLeaseDuration. Without a lease kwok posts node
	// status only every ten minutes, so after the controller manager's
	// 50 s grace period every node flaps NotReady and its pods lose
	// Ready.
	NodeLeaseDuration time.Duration
}

// DefaultNodeLeaseDuration is Options.NodeLeaseDuration when it is zero
// (the kubelet's default).
const DefaultNodeLeaseDuration = 40 * time.Second

// Cluster is a running control plane. Its fields are set by Start and must
// not be changed.
type Cluster struct {
	// Kubeconfig is the path of an admin kubeconfig (static token in
	// system:masters, server certificate verified against the cluster CA).
	Kubeconfig string
	// Config is the admin REST config.
	Config *rest.Config
	// Client is a controller-runtime client whose scheme holds client-go's
	// kinds, apiextensions/v1 and firedrill.dev/v1alpha1.
	Client client.Client
	// Clientset is a client-go clientset for the same cluster.
	Clientset kubernetes.Interface
	// Scheme is Client's scheme.
	Scheme *runtime.Scheme
	// WorkDir holds the cluster's files; logs/<component>.log has each
	// component's output.
	WorkDir string
	// APIServerURL is https://127.0.0.1:<port>.
	APIServerURL string

	opts    Options
	pki     *pki.PKI
	spawner *spawn.Spawner
	mu      sync.Mutex
	procs   []*spawn.Process
	nodeSeq int
}

// component names, in start order.
const (
	compEtcd      = "etcd"
	compAPIServer = "kube-apiserver"
	compKCM       = "kube-controller-manager"
	compScheduler = "kube-scheduler"
	compKwok      = "kwok"
)

var components = []string{compEtcd, compAPIServer, compKCM, compScheduler, compKwok}

// Start runs a control plane and returns once every component is healthy and
// the controller manager has created the default ServiceAccount. It stops
// everything in tb.Cleanup. When a component does not start, Start fails the
// test with the tail of that component's log.
func Start(ctx context.Context, tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	begin := time.Now()
	c, err := start(ctx, tb, opts)
	if err != nil {
		tb.Fatalf("starting the e2e control plane: %v", err)
	}
	tb.Logf("e2e control plane ready in %s (API server %s, work dir %s)",
		time.Since(begin).Round(time.Millisecond), c.APIServerURL, c.WorkDir)
	return c
}

func start(ctx context.Context, tb testing.TB, opts Options) (*Cluster, error) {
	tb.Helper()
	if opts.PodStartDelay < 0 || opts.PodStartJitter < 0 {
		return nil, errors.New("PodStartDelay and PodStartJitter must not be negative")
	}
	if opts.PodStartDelay == 0 {
		opts.PodStartDelay = DefaultPodStartDelay
	}
	switch {
	case opts.PodCIDR == "" && opts.ProcessPods:
		cidr, err := podnet.RandomPodCIDR()
		if err != nil {
			return nil, err
		}
		opts.PodCIDR = cidr
	case opts.PodCIDR == "":
		opts.PodCIDR = DefaultPodCIDR
	}
	if opts.ProcessPods {
		if err := podnet.CheckProcessPodCIDR(opts.PodCIDR); err != nil {
			return nil, err
		}
	}
	if opts.NodeLeaseDuration <= 0 {
		opts.NodeLeaseDuration = DefaultNodeLeaseDuration
	}
	if opts.BinDir == "" {
		dir, err := defaultBinDir(ctx)
		if err != nil {
			return nil, err
		}
		opts.BinDir = dir
	}
	for _, b := range components {
		if _, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil {
			return nil, fmt.Errorf("control plane binary %s missing (run hack/kube-binaries.sh): %w", b, err)
		}
	}
	if opts.WorkDir == "" {
		opts.WorkDir = tb.TempDir()
	}
	if err := os.MkdirAll(filepath.Join(opts.WorkDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("creating work dir: %w", err)
	}

	c := &Cluster{opts: opts, WorkDir: opts.WorkDir, spawner: spawn.NewSpawner()}
	tb.Cleanup(func() { c.stop(tb) })

	p, err := pki.New(filepath.Join(opts.WorkDir, "pki"), apiServiceIP, time.Now())
	if err != nil {
		return nil, err
	}
	c.pki = p

	etcdURL, err := c.startEtcd(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.startAPIServer(ctx, etcdURL); err != nil {
		return nil, err
	}
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := c.newClients(); err != nil {
		return nil, err
	}

	// The last three only need the API server; start them together.
	errs := make(chan error, 3)
	go func() { errs <- c.startControllerManager(ctx) }()
	go func() { errs <- c.startScheduler(ctx) }()
	go func() { errs <- c.startKwok(ctx) }()
	var all []error
	for range 3 {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return nil, err
	}

	// The ServiceAccount controller creating "default" shows that the
	// controller manager is not only serving /healthz but reconciling.
	err = poll(ctx, componentTimeout, func(ctx context.Context) (bool, error) {
		_, err := c.Clientset.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for the default ServiceAccount: %w\n%s", err, c.LogTail(compKCM))
	}
	return c, nil
}

// writeKubeconfig writes the admin kubeconfig into the work dir.
func (c *Cluster) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: c.APIServerURL, CertificateAuthorityData: c.pki.CACert}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.pki.Token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin"}
	cfg.CurrentContext = "e2e"
	c.Kubeconfig = filepath.Join(c.WorkDir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// newClients builds Config, Scheme, Client and Clientset from the kubeconfig.
func (c *Cluster) newClients() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	// Tests create bursts of objects; client-go's default of 5 QPS would
	// make them wait on the client instead of the cluster.
	cfg.QPS, cfg.Burst = 100, 200
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return fmt.Errorf("building scheme: %w", err)
		}
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	c.Config, c.Scheme, c.Client, c.Clientset = cfg, scheme, cl, cs
	return nil
}

// stop ends every component, newest first, and reports their logs when the
// test failed.
func (c *Cluster) stop(tb testing.TB) {
	tb.Helper()
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	c.mu.Unlock()
	if tb.Failed() {
		for _, p := range procs {
			tb.Logf("--- last lines of %s ---\n%s", p.LogPath, p.LogTail(15))
		}
	}
	var wg sync.WaitGroup
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		if p.Name == compEtcd {
			// etcd last, so the API server can shut down cleanly.
			wg.Wait()
		}
		wg.Go(func() { p.Stop(10 * time.Second) })
	}
	wg.Wait()
	c.spawner.Close()
}

// MemoryRSS returns the resident set size in bytes of each running
// component, keyed by component name.
func (c *Cluster) MemoryRSS() (map[string]uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]uint64{}
	for _, p := range c.procs {
		if p.Exited() {
			continue
		}
		rss, err := p.RSS()
		if err != nil {
			return nil, err
		}
		out[p.Name] = rss
	}
	return out, nil
}

// LogPath returns the path of a component's log: one of "etcd",
// "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok".
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.WorkDir, "logs", component+".log")
}

// LogTail returns the last lines of a component's log, for error messages.
func (c *Cluster) LogTail(component string) string {
	return fmt.Sprintf("--- last lines of %s ---\n%s", c.LogPath(component), spawn.Tail(c.LogPath(component), 30))
}

// poll calls cond every 100 ms until it returns true, an error, or timeout
// passes.
func poll(ctx context.Context, timeout time.Duration, cond wait.ConditionWithContextFunc) error {
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, cond); err != nil {
		return fmt.Errorf("after %s: %w", timeout, err)
	}
	return nil
}

// ignoreNotFound returns nil for a NotFound error.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// PodCIDR is the range the cluster's pods get their IPs from.
func (c *Cluster) PodCIDR() string { return c.opts.PodCIDR }

// ProcessPods reports whether the cluster was started with
// Options.ProcessPods (see package procbed).
func (c *Cluster) ProcessPods() bool { return c.opts.ProcessPods }

// PIDs returns the process id of each running component, keyed by
// component name.
func (c *Cluster) PIDs() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, p := range c.procs {
		if !p.Exited() {
			out[p.Name] = p.Cmd.Process.Pid
		}
	}
	return out
}
