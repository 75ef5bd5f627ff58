package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	"github.com/firedrill/firedrill/pkg/platform/local/modelcache"
	"github.com/firedrill/firedrill/pkg/platform/local/proc"
	"github.com/firedrill/firedrill/pkg/platform/local/sandboxdir"
	"github.com/firedrill/firedrill/pkg/platform/local/storeproxy"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// ModelRepository is the repository and tag the sandbox publishes its model
// under in every store.
const ModelRepository = "recommender:prod"

// Platform is the local sandbox.
type Platform struct {
	opts           Options
	regions        []supervisor.Region
	order          []string
	primary        string
	startDelay     time.Duration
	maxUnavailable int
	model          ModelSpec
	dir            string
	http           *http.Client

	mu        sync.Mutex
	running   bool
	spawner   *proc.Spawner
	proxies   *storeproxy.Proxies
	stores    map[string]*storeProc
	front     *proc.Process
	fd        *frontdoor.Client
	endpoint  string
	sup       *supervisor.Supervisor
	mdl       Model
	published []evidence.ModelObservation
	faults    map[string]*faultState
	// current is the fault injected last: the sandbox's own
	// observations (a replacement ready, a front-door switch) are about it.
	current *faultState
	// rec receives the sandbox's events from Start to Stop.
	rec evidence.Recorder
	// stopWatch ends the watcher Start started.
	stopWatch context.CancelFunc

	pushMu sync.Mutex
}

var _ platform.Platform = (*Platform)(nil)

var errNotStarted = errors.New("the sandbox is not running")

// storeProc is a region's model store process.
type storeProc struct {
	region string
	root   string
	proc   *proc.Process
	addr   string
	// proxy is the toxiproxy address replicas pull through.
	proxy string
}

// modelInfo is the body of a replica's /v1/model.
type modelInfo struct {
	Version   string    `json:"version"`
	Digest    string    `json:"digest"`
	CreatedAt time.Time `json:"createdAt"`
	Source    string    `json:"source"`
	Degraded  bool      `json:"degraded"`
	LoadedAt  time.Time `json:"loadedAt"`
}

// New returns the sandbox a plan's target.local describes; Start brings it
// up.
func New(opts Options) (*Platform, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid sandbox options: %w", err)
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	sb := opts.Sandbox.DeepCopy()
	v1alpha1.SetDefaults_DrillPlanSpec(&v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformLocal, Local: sb}})
	p := &Platform{
		opts: opts, primary: sb.PrimaryRegion, dir: filepath.Join(opts.StateDir, "sandbox", opts.ID),
		http:   &http.Client{Timeout: 2 * time.Second},
		faults: map[string]*faultState{},
	}
	if sb.StartDelay != nil {
		p.startDelay = sb.StartDelay.Duration
	}
	p.maxUnavailable = 1
	if sb.MaxUnavailable != nil {
		p.maxUnavailable = int(*sb.MaxUnavailable)
	}
	p.model = ModelSpec{Users: 50_000, Items: 20_000, Seed: 1}
	if m := sb.Model; m != nil {
		if m.Users != nil {
			p.model.Users = int(*m.Users)
		}
		if m.Items != nil {
			p.model.Items = int(*m.Items)
		}
		if m.Seed != nil {
			p.model.Seed = uint64(*m.Seed) //nolint:gosec // a seed.
		}
	}
	for _, r := range sb.Regions {
		nodes, gpu, replicas, ppn := 3, -1, 3, 2
		if r.Nodes != nil {
			nodes = int(*r.Nodes)
		}
		if r.GPUNodes != nil {
			gpu = int(*r.GPUNodes)
		}
		if gpu < 0 {
			gpu = nodes
		}
		if r.Replicas != nil {
			replicas = int(*r.Replicas)
		}
		if r.PodsPerNode != nil {
			ppn = int(*r.PodsPerNode)
		}
		p.regions = append(p.regions, supervisor.Region{Name: r.Name, Replicas: replicas, PodsPerNode: ppn, Nodes: supervisor.BuildNodes(r.Name, nodes, gpu)})
		p.order = append(p.order, r.Name)
	}
	if p.primary == "" && len(p.order) > 0 {
		p.primary = p.order[0]
	}
	return p, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return string(v1alpha1.PlatformLocal) }

// Dir is the sandbox's directory (logs, stores, node caches).
func (p *Platform) Dir() string { return p.dir }

// Endpoint is the front door's URL once started.
func (p *Platform) Endpoint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endpoint
}

func (p *Platform) childEnv() []string {
	return append(append(os.Environ(), EnvSandbox+"="+p.dir), p.opts.Env...)
}

func (p *Platform) logPath(name string) string { return filepath.Join(p.dir, "logs", name+".log") }

// Start brings every store, replica and the front door up, and returns
// once every region has its replicas ready and the front door serves.
func (p *Platform) Start(ctx context.Context, rec evidence.Recorder) (info platform.Info, err error) {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return p.info(), nil
	}
	if rec == nil {
		rec = evidence.Discard
	}
	p.rec = rec
	p.mu.Unlock()
	logger := log.FromContext(ctx)
	if killed, err := KillLeftovers(p.opts.StateDir); err != nil {
		logger.Warn("cleaning up after dead sandboxes", "err", err)
	} else if len(killed) > 0 {
		logger.Warn("killed processes of a dead sandbox", "pids", killed)
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	t0 := p.opts.Clock.Now()
	for _, d := range []string{"logs", "nodes", "stores"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			return platform.Info{}, fmt.Errorf("creating the sandbox directory: %w", err)
		}
	}
	p.mu.Lock()
	p.spawner = proc.NewSpawner()
	p.proxies = storeproxy.New()
	p.stores = map[string]*storeProc{}
	p.running = true
	p.mu.Unlock()
	defer func() {
		if err != nil {
			_ = p.Stop(context.WithoutCancel(ctx))
		}
	}()
	if err := p.writeState(false); err != nil {
		return platform.Info{}, err
	}
	logger.Info("starting the local sandbox", "dir", p.dir, "regions", len(p.regions))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		m, err := EnsureModel(gctx, p.opts.Clock, p.opts.ModelCacheDir, p.model)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.mdl = m
		p.mu.Unlock()
		return nil
	})
	for _, region := range p.order {
		g.Go(func() error {
			st := &storeProc{region: region, root: filepath.Join(p.dir, "stores", region)}
			pr, err := p.startStore(gctx, st, "127.0.0.1:0")
			if err != nil {
				return err
			}
			st.proc, st.addr = pr, pr.Addr("listening")
			if st.proxy, err = p.proxies.Add("store-"+region, st.addr); err != nil {
				return fmt.Errorf("proxying the %s store: %w", region, err)
			}
			p.mu.Lock()
			p.stores[region] = st
			p.mu.Unlock()
			return nil
		})
	}
	g.Go(func() error {
		fp, err := p.spawner.Start(gctx, proc.Spec{
			Name: "frontdoor", Path: p.opts.Executable, Env: p.childEnv(), LogPath: p.logPath("frontdoor"),
			Args:     []string{"frontdoor", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--primary", p.primary, "--health-interval", p.opts.HealthInterval.String()},
			Announce: []string{"listening", "control"},
		})
		if err != nil {
			return fmt.Errorf("starting the front door: %w", err)
		}
		p.mu.Lock()
		p.front, p.endpoint = fp, "http://"+fp.Addr("listening")
		p.fd = &frontdoor.Client{Base: "http://" + fp.Addr("control"), HTTP: p.http}
		p.mu.Unlock()
		return nil
	})
	if err := g.Wait(); err != nil {
		return platform.Info{}, err
	}

	// Publish the model to every region's store.
	now := p.opts.Clock.Now()
	g, gctx = errgroup.WithContext(ctx)
	for _, region := range p.order {
		st := p.stores[region]
		g.Go(func() error { return modelcache.Push(gctx, p.mdl, st.addr+"/"+ModelRepository) })
		p.published = append(p.published, evidence.ModelObservation{At: now, Replica: "store/" + region, Version: p.mdl.Metadata.Version, CreatedAt: p.mdl.Metadata.CreatedAt})
	}
	if err := g.Wait(); err != nil {
		return platform.Info{}, err
	}

	sup, err := supervisor.New(supervisor.Options{
		Regions: p.regions, StartDelay: p.startDelay, MaxUnavailable: p.maxUnavailable,
		Runtime: &replicaRuntime{p: p}, Clock: p.opts.Clock, Logger: logger,
		OnChange: p.pushEndpoints, OnReady: p.replicaReady, OnEvent: p.supervisorEvent,
	})
	if err != nil {
		return platform.Info{}, err
	}
	p.mu.Lock()
	p.sup = sup
	p.mu.Unlock()
	// The supervisor outlives Start's context: Stop ends it.
	sup.Run(log.IntoContext(context.WithoutCancel(ctx), logger))

	if err := p.waitReady(ctx); err != nil {
		return platform.Info{}, err
	}
	if err := p.writeState(true); err != nil {
		return platform.Info{}, err
	}
	p.watch(log.IntoContext(context.WithoutCancel(ctx), logger))
	logger.Info("local sandbox ready", "endpoint", p.endpoint, "duration", p.opts.Clock.Since(t0).Round(time.Millisecond), "model", p.mdl.Metadata.Version)
	return p.info(), nil
}

// waitReady waits until every region is ready and the front door answers
// through to a replica.
func (p *Platform) waitReady(ctx context.Context) error {
	for {
		if p.sup.Ready() && p.serves(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the sandbox to be ready (%s): %w", p.describeCapacity(), ctx.Err())
		case <-p.opts.Clock.After(50 * time.Millisecond):
		}
	}
}

func (p *Platform) describeCapacity() string {
	s := ""
	for _, c := range p.sup.Capacity() {
		s += fmt.Sprintf("%s %d/%d ready; ", c.Region, c.Ready, c.Desired)
	}
	return s + "logs in " + filepath.Join(p.dir, "logs")
}

// serves reports whether the front door answers /v1/model with 200.
func (p *Platform) serves(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.endpoint+"/v1/model", nil)
	if err != nil {
		return false
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (p *Platform) info() platform.Info {
	d := map[string]string{"sandbox": p.dir, "frontDoor": p.endpoint, "model": p.mdl.Metadata.Version}
	if p.fd != nil {
		d["frontDoorControl"] = p.fd.Base
	}
	for r, st := range p.stores {
		d["store/"+r] = st.addr
	}
	return platform.Info{Endpoint: p.endpoint, Details: d, Published: slices.Clone(p.published)}
}

// startStore starts a region's store on addr with its root.
func (p *Platform) startStore(ctx context.Context, st *storeProc, addr string) (*proc.Process, error) {
	pr, err := p.spawner.Start(ctx, proc.Spec{
		Name: "store-" + st.region, Path: p.opts.Executable, Env: p.childEnv(), LogPath: p.logPath("store-" + st.region),
		Args:     []string{"recommender", "modelstore", "--addr", addr, "--root", st.root, "--stop-timeout", "1s"},
		Announce: []string{"listening"}, StartTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the %s model store: %w", st.region, err)
	}
	return pr, nil
}

// pushEndpoints tells the front door which replicas run in each region.
func (p *Platform) pushEndpoints(ctx context.Context) {
	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	p.mu.Lock()
	sup, fd := p.sup, p.fd
	p.mu.Unlock()
	if sup == nil || fd == nil {
		return
	}
	byRegion := map[string][]frontdoor.Backend{}
	for _, r := range sup.Replicas() {
		if r.Addr == "" || (r.Phase != supervisor.PhaseReady && r.Phase != supervisor.PhaseStarting) {
			continue
		}
		byRegion[r.Region] = append(byRegion[r.Region], frontdoor.Backend{Name: r.Name, URL: "http://" + r.Addr})
	}
	regions := make([]frontdoor.Region, 0, len(p.order))
	for _, name := range p.order {
		regions = append(regions, frontdoor.Region{Name: name, Backends: append([]frontdoor.Backend{}, byRegion[name]...)})
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := fd.SetRegions(cctx, regions); err != nil {
		log.FromContext(ctx).Warn("updating the front door", "err", err)
	}
}

func (p *Platform) fetchModel(ctx context.Context, addr string) (modelInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/model", nil)
	if err != nil {
		return modelInfo{}, fmt.Errorf("building a model request: %w", err)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return modelInfo{}, fmt.Errorf("asking %s for its model: %w", addr, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var mi modelInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&mi); err != nil {
		return modelInfo{}, fmt.Errorf("decoding the model of %s: %w", addr, err)
	}
	return mi, nil
}

// Stop tears everything down: no process and no listener is left. It is
// idempotent.
func (p *Platform) Stop(ctx context.Context) error {
	p.mu.Lock()
	if !p.running {
		p.mu.Unlock()
		return nil
	}
	p.running = false
	sup, spawner, proxies, stopWatch := p.sup, p.spawner, p.proxies, p.stopWatch
	p.mu.Unlock()
	if stopWatch != nil {
		stopWatch()
	}
	var errs []error
	if sup != nil {
		if err := sup.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping replicas: %w", err))
		}
	}
	if spawner != nil {
		if err := spawner.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the sandbox's processes: %w", err))
		}
	}
	if proxies != nil {
		proxies.Close()
	}
	p.http.CloseIdleConnections()
	if !p.opts.KeepState {
		for _, d := range []string{"nodes", "stores"} {
			if err := os.RemoveAll(filepath.Join(p.dir, d)); err != nil {
				errs = append(errs, fmt.Errorf("removing sandbox data: %w", err))
			}
		}
	}
	if err := os.Remove(filepath.Join(p.dir, sandboxdir.StateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing the sandbox state: %w", err))
	}
	return errors.Join(errs...)
}

// replicaRuntime starts replicas as `recommender serve` processes.
type replicaRuntime struct{ p *Platform }

// StartReplica implements supervisor.Runtime.
func (rt *replicaRuntime) StartReplica(ctx context.Context, r supervisor.ReplicaSpec) (supervisor.Handle, error) {
	p := rt.p
	p.mu.Lock()
	st, spawner := p.stores[r.Region], p.spawner
	p.mu.Unlock()
	if st == nil || spawner == nil {
		return nil, errNotStarted
	}
	cache := filepath.Join(p.dir, "nodes", r.Node, "cache")
	pr, err := spawner.Start(ctx, proc.Spec{
		Name: r.Name, Path: p.opts.Executable, Env: p.childEnv(), LogPath: p.logPath(r.Name),
		Args: []string{"recommender", "serve", "--addr", "127.0.0.1:0", "--model-ref", st.proxy + "/" + ModelRepository,
			"--cache-dir", cache, "--poll-interval", p.opts.PollInterval.String(), "--drain-timeout", "2s"},
		Announce: []string{"listening"}, StartTimeout: 60 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	return procHandle{pr}, nil
}

// Ready implements supervisor.Runtime.
func (rt *replicaRuntime) Ready(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := rt.p.http.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// procHandle adapts a process to supervisor.Handle.
type procHandle struct{ p *proc.Process }

func (h procHandle) Addr() string          { return h.p.Addr("listening") }
func (h procHandle) Pid() int              { return h.p.Pid() }
func (h procHandle) Done() <-chan struct{} { return h.p.Done() }
func (h procHandle) Kill(ctx context.Context) error {
	return h.p.Kill(ctx) //nolint:wrapcheck // already names the process.
}
func (h procHandle) Terminate(ctx context.Context, grace time.Duration) error {
	return h.p.Terminate(ctx, grace) //nolint:wrapcheck // already names the process.
}

func (p *Platform) writeState(ready bool) error {
	p.mu.Lock()
	st := State{ID: p.opts.ID, Pid: os.Getpid(), Ready: ready, Endpoint: p.endpoint, Model: p.mdl.Metadata.Version, Logs: filepath.Join(p.dir, "logs"), Stores: map[string]string{}}
	if p.fd != nil {
		st.Control = p.fd.Base
	}
	for r, s := range p.stores {
		st.Stores[r] = s.addr
	}
	p.mu.Unlock()
	return sandboxdir.WriteState(p.dir, st)
}

// Supervisor exposes the supervisor of a started sandbox (nil before).
func (p *Platform) Supervisor() *supervisor.Supervisor {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sup
}

// FrontDoor returns a client of the started sandbox's front door.
func (p *Platform) FrontDoor() *frontdoor.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fd
}

// StoreProxy returns the address replicas of region pull their model
// through (the toxiproxy in front of the region's store).
func (p *Platform) StoreProxy(region string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stores[region]; st != nil {
		return st.proxy
	}
	return ""
}
