package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/controller/backend"
	"github.com/firedrill/firedrill/pkg/controller/drillplan"
	"github.com/firedrill/firedrill/pkg/controller/drillrun"
	"github.com/firedrill/firedrill/pkg/controller/metrics"
	"github.com/firedrill/firedrill/pkg/controller/reportarchive"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	drillmetrics "github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/kubeauth"
)

// Leader election takes a Lease; its events go to the Lease's namespace.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Defaults of Options.
const (
	// DefaultLeaderElectionID names the Lease.
	DefaultLeaderElectionID = "firedrill-drill-serve"
	// DefaultLeaseDuration, DefaultRenewDeadline and DefaultRetryPeriod
	// are client-go's and controller-runtime's.
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
	// DefaultHealthProbeAddr serves /healthz and /readyz.
	DefaultHealthProbeAddr = ":8081"
	// DefaultMetricsAddr serves /metrics.
	DefaultMetricsAddr = ":8082"
	// DefaultRevertTimeout bounds reverting a drill's faults (the
	// engine's default).
	DefaultRevertTimeout = 2 * time.Minute
)

// API serves drill serve's HTTP API over backend, authenticating with
// authn and authorizing with authz, until ctx ends. The serve command
// builds it (pkg/server); it runs on every replica.
type API func(ctx context.Context, b server.Backend, authn server.Authenticator, authz server.Authorizer) error

// Options configure drill serve in a cluster. Zero values are
// documented per field.
type Options struct {
	// Config reaches the API server. Required.
	Config *rest.Config
	// Platforms builds each run's platform. Required.
	Platforms drillrun.PlatformFactory
	// StateDir holds the run journals (StateDir/journal). Required.
	StateDir string
	// Archive keeps the reports (pkg/controller/reportarchive): a DrillRun's
	// report is run <namespace>.<name> of its plan. Required.
	Archive archive.Archive
	// KeepDir keeps a report the archive cannot take: <state-dir>/reports.
	// Required.
	KeepDir string
	// Namespaces are the namespaces whose plans and runs are served;
	// empty means every namespace.
	Namespaces []string
	// LeaderElection runs drills on one replica only. Off is for one
	// replica that can never have a twin.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; empty means the
	// namespace drill serve runs in (in a cluster).
	LeaderElectionNamespace string
	// LeaderElectionID names the Lease; empty means
	// DefaultLeaderElectionID.
	LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election;
	// zero means the defaults above. A new leader takes over a dead one's
	// drills within about LeaseDuration + RetryPeriod.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// HealthProbeAddr serves /healthz and /readyz; empty means
	// DefaultHealthProbeAddr, "0" none.
	HealthProbeAddr string
	// MetricsAddr serves the manager's registry on /metrics; empty means
	// DefaultMetricsAddr, "0" none.
	MetricsAddr string
	// StatusInterval is how often a run's status is written besides its
	// milestones; zero means drillrun.DefaultStatusInterval.
	StatusInterval time.Duration
	// RevertTimeout bounds reverting a drill's faults; zero means
	// DefaultRevertTimeout. Stopping waits for it.
	RevertTimeout time.Duration
	// Identity names this replica in the runs it holds; empty means
	// <hostname>_<uuid>.
	Identity string
	// API is served on every replica; nil serves none.
	API API
	// ReportURL is where API serves report files, for run listings; nil
	// lists none.
	ReportURL func(namespace, id, format string) string
	// Audiences a bearer token must be valid for; empty accepts the API
	// server's.
	Audiences []string
	// Registerer takes the controllers' metrics and the firedrill_ drill
	// metrics (pkg/metrics); nil means the manager's registry
	// (controller-runtime's metrics.Registry), which the manager's
	// /metrics serves.
	Registerer prometheus.Registerer
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Logger logs; nil discards.
	Logger *slog.Logger
	// Tool identifies the build in reports.
	Tool report.Tool
}

func (o *Options) validate() error {
	var errs []error
	if o.Config == nil {
		errs = append(errs, errors.New("a cluster configuration is required"))
	}
	if o.Platforms == nil {
		errs = append(errs, errors.New("a platform factory is required"))
	}
	if o.StateDir == "" {
		errs = append(errs, errors.New("a state directory is required"))
	}
	if o.Archive == nil {
		errs = append(errs, errors.New("a report archive is required"))
	}
	if o.KeepDir == "" {
		errs = append(errs, errors.New("a keep directory is required"))
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() {
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.HealthProbeAddr == "" {
		o.HealthProbeAddr = DefaultHealthProbeAddr
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = DefaultMetricsAddr
	}
	if o.RevertTimeout == 0 {
		o.RevertTimeout = DefaultRevertTimeout
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = host + "_" + string(uuid.NewUUID())
	}
	if o.Registerer == nil {
		o.Registerer = ctrlmetrics.Registry
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = log.Discard()
	}
}

// App is drill serve in a cluster.
type App struct {
	opts    Options
	mgr     manager.Manager
	runner  *drillrun.Runner
	backend *backend.Backend
	drills  *metrics.Drills
}

// New builds the manager and everything it runs; Start runs it.
func New(opts Options) (*App, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("drill serve: %w", err)
	}
	opts.defaults()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	namespaces := map[string]cache.Config{}
	for _, ns := range opts.Namespaces {
		namespaces[ns] = cache.Config{}
	}
	// The runs' reverts must finish before the Lease is released.
	grace := opts.RevertTimeout + 30*time.Second
	mgr, err := ctrl.NewManager(opts.Config, ctrl.Options{
		Scheme: scheme,
		Logger: logr.FromSlogHandler(opts.Logger.Handler()),
		Cache: cache.Options{
			DefaultNamespaces: namespaces,
			DefaultTransform:  cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&v1alpha1.DrillRun{}: {Transform: runs.Summarize},
			},
		},
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		HealthProbeBindAddress:        opts.HealthProbeAddr,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		GracefulShutdownTimeout:       &grace,
	})
	if err != nil {
		return nil, fmt.Errorf("building the controller manager: %w", err)
	}
	a := &App{opts: opts, mgr: mgr}
	if err := a.setup(scheme); err != nil {
		return nil, err
	}
	return a, nil
}

// setup wires the reconcilers, the runner, the probes and the API.
func (a *App) setup(scheme *runtime.Scheme) error {
	o, mgr := &a.opts, a.mgr
	m, err := metrics.New(o.Registerer)
	if err != nil {
		return err
	}
	dm, err := drillmetrics.New(o.Registerer)
	if err != nil {
		return err
	}
	a.drills = metrics.NewDrills(dm)
	if err := runs.Setup(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	journalDir := filepath.Join(o.StateDir, "journal")
	file := func(rec journal.Record) (engine.Journal, error) { return journal.Create(journalDir, rec, o.Clock) }
	eng, err := engine.New(engine.Options{
		JournalDir: journalDir, Clock: o.Clock, Tool: o.Tool, RevertTimeout: o.RevertTimeout,
		NewJournal: drillrun.JournalFactory(mgr.GetClient(), file, o.Clock),
	})
	if err != nil {
		return err
	}
	reports, err := reportarchive.New(o.Archive, o.KeepDir, archive.StoreOptions{})
	if err != nil {
		return err
	}
	a.runner, err = drillrun.NewRunner(drillrun.RunnerOptions{
		Client: mgr.GetClient(), Engine: drillrun.FromEngine(eng), Reports: reports, Identity: o.Identity,
		StatusInterval: o.StatusInterval, Clock: o.Clock, Logger: o.Logger, Metrics: m, Drills: a.drills,
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(a.runner); err != nil {
		return fmt.Errorf("adding the drill runner: %w", err)
	}
	if err := (&drillrun.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme, Clock: o.Clock,
		Runner: a.runner, Platforms: o.Platforms, Actions: &action.Runner{Clock: o.Clock}, Reports: reports,
		Identity: o.Identity, Metrics: m, Drills: a.drills,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DrillRun reconciler: %w", err)
	}
	if err := (&drillplan.Reconciler{
		Client: mgr.GetClient(), Scheme: scheme, Clock: o.Clock, Reports: reports, Metrics: m, Drills: a.drills,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DrillPlan reconciler: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(a.restoreMetrics)); err != nil {
		return fmt.Errorf("adding the metrics restore: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("cache", a.cacheSynced); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	a.backend, err = backend.New(backend.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme, Reports: reports, Live: a.runner, ReportURL: o.ReportURL})
	if err != nil {
		return err
	}
	if o.API != nil {
		if err := a.addAPI(); err != nil {
			return err
		}
	}
	return nil
}

// restoreMetrics runs on the leader, which feeds the drill metrics: once
// the cache has synced, each plan's last archived run is shown in the
// last-value gauges, so that a restart or a new leader loses no verdict.
// A failure is logged; the metrics fill in again as runs finish.
func (a *App) restoreMetrics(ctx context.Context) error {
	if !a.mgr.GetCache().WaitForCacheSync(ctx) {
		return nil
	}
	var plans v1alpha1.DrillPlanList
	if err := a.mgr.GetClient().List(ctx, &plans); err != nil {
		a.opts.Logger.Warn("restoring the drill metrics from the archive", "err", err)
		return nil
	}
	if err := a.drills.Restore(ctx, a.opts.Archive, plans.Items); err != nil {
		a.opts.Logger.Warn("restoring the drill metrics from the archive", "err", err)
	}
	return nil
}

// cacheSynced is ready once the informers have listed everything.
func (a *App) cacheSynced(req *http.Request) error {
	ctx, cancel := context.WithTimeout(req.Context(), time.Second)
	defer cancel()
	if !a.mgr.GetCache().WaitForCacheSync(ctx) {
		return errors.New("the informer caches have not synced")
	}
	return nil
}

// addAPI runs the API on every replica, leader or not.
func (a *App) addAPI() error {
	cs, err := kubernetes.NewForConfig(a.mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("building the review clients: %w", err)
	}
	authn, err := kubeauth.NewAuthenticator(kubeauth.AuthenticatorOptions{Reviews: cs.AuthenticationV1().TokenReviews(), Audiences: a.opts.Audiences, Clock: a.opts.Clock})
	if err != nil {
		return err
	}
	authz, err := kubeauth.NewAuthorizer(kubeauth.AuthorizerOptions{Reviews: cs.AuthorizationV1().SubjectAccessReviews(), Clock: a.opts.Clock})
	if err != nil {
		return err
	}
	api := a.opts.API
	if err := a.mgr.Add(everyReplica(func(ctx context.Context) error { return api(ctx, a.backend, authn, authz) })); err != nil {
		return fmt.Errorf("adding the API: %w", err)
	}
	return nil
}

// everyReplica is a runnable that does not need leader election.
type everyReplica manager.RunnableFunc

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

// Start runs drill serve until ctx ends. Stopping aborts the drills this
// replica runs, waits for their faults to be reverted and their status
// written, then releases the Lease.
func (a *App) Start(ctx context.Context) error {
	a.opts.Logger.Info("drill serve starting in a cluster", "identity", a.opts.Identity, "leaderElection", a.opts.LeaderElection,
		"lease", a.opts.LeaderElectionNamespace+"/"+a.opts.LeaderElectionID)
	if err := a.mgr.Start(ctx); err != nil {
		return fmt.Errorf("drill serve: %w", err)
	}
	return nil
}

// Backend is the API's backend.
func (a *App) Backend() server.Backend { return a.backend }

// Elected is closed once this replica leads (at once without leader
// election).
func (a *App) Elected() <-chan struct{} { return a.mgr.Elected() }

// Identity names this replica.
func (a *App) Identity() string { return a.opts.Identity }
