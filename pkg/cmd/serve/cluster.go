package serve

// This file is drill serve's cluster mode: the flags only cluster mode has,
// RunCluster, and runCluster, which mounts the HTTP API on it.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
	"github.com/firedrill/firedrill/pkg/controller/cluster"
	"github.com/firedrill/firedrill/pkg/controller/drillrun"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/loopback"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/apiclient"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/dashboard"
	"github.com/firedrill/firedrill/pkg/version"
)

// ClusterAPI serves the HTTP API in cluster mode: the serve command passes
// one built on pkg/server; it runs on every replica until ctx ends.
type ClusterAPI = cluster.API

// ClusterOptions are what drill serve needs in a cluster. Besides the
// flags AddClusterFlags adds, they read the serve command's state-dir,
// kubeconfig, context, kube-qps, kube-burst (platforms.AddFlags) and the
// archive flags (archiveflags.AddFlags).
type ClusterOptions struct {
	// Platforms carries the kubeconfig, context, client rate and state
	// directory (the run journals).
	Platforms platforms.Options
	// Archive keeps the reports: a directory or oci://host/repository
	// (empty: archiveflags.DefaultDir()). A report the archive cannot take
	// is kept under the state directory's reports/.
	Archive archiveflags.Options
	// Namespaces are the namespaces served; empty means all.
	Namespaces []string
	// LeaderElect runs drills on one replica at a time.
	LeaderElect bool
	// LeaderElectionNamespace and LeaderElectionID name the Lease.
	LeaderElectionNamespace, LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// HealthProbeAddr and MetricsAddr are the manager's listeners ("0"
	// disables one).
	HealthProbeAddr, MetricsAddr string
	// StatusInterval is how often a run's status is written between its
	// milestones.
	StatusInterval time.Duration
	// TokenAudiences a bearer token must be valid for; empty accepts the
	// API server's own.
	TokenAudiences []string
	// ReportURL is where the API serves a run's report file, by format,
	// for run listings; nil lists none. The serve command sets it: it
	// knows its routes.
	ReportURL func(namespace, id, format string) string
}

// AddClusterFlags adds the flags only cluster mode has.
func AddClusterFlags(f *pflag.FlagSet) {
	f.StringSlice("watch-namespace", nil, "in a cluster: namespaces whose DrillPlans and DrillRuns are served (default all)")
	f.Bool("leader-elect", true, "in a cluster: elect a leader on a Lease; only the leader runs drills")
	f.String("leader-election-namespace", "", "in a cluster: namespace of the leader Lease (default the namespace drill serve runs in)")
	f.String("leader-election-id", cluster.DefaultLeaderElectionID, "in a cluster: name of the leader Lease")
	f.Duration("lease-duration", cluster.DefaultLeaseDuration, "in a cluster: how long a leader's Lease lasts without renewal; a new leader takes over a dead one's drills after about this long")
	f.Duration("renew-deadline", cluster.DefaultRenewDeadline, "in a cluster: how long the leader retries renewing its Lease before it stops leading")
	f.Duration("retry-period", cluster.DefaultRetryPeriod, "in a cluster: how often candidates try to take the Lease")
	f.String("health-probe-bind-address", cluster.DefaultHealthProbeAddr, "in a cluster: address of /healthz and /readyz (0 disables)")
	f.String("metrics-bind-address", cluster.DefaultMetricsAddr, "in a cluster: address of the controller's /metrics (0 disables)")
	f.Duration("status-interval", drillrun.DefaultStatusInterval, "in a cluster: how often a run's status is written between its steps and fault milestones")
	f.StringSlice("token-audience", nil, "in a cluster: audiences an API bearer token must be valid for (default the API server's)")
}

// ClusterOptionsFromViper reads ClusterOptions from the flags bound into v,
// but the archive (archiveflags.FromViper), whose errors the caller
// reports.
func ClusterOptionsFromViper(v *viper.Viper) ClusterOptions {
	return ClusterOptions{
		Platforms:   platforms.FromViper(v),
		Namespaces:  v.GetStringSlice("watch-namespace"),
		LeaderElect: v.GetBool("leader-elect"), LeaderElectionNamespace: v.GetString("leader-election-namespace"),
		LeaderElectionID: v.GetString("leader-election-id"),
		LeaseDuration:    v.GetDuration("lease-duration"), RenewDeadline: v.GetDuration("renew-deadline"), RetryPeriod: v.GetDuration("retry-period"),
		HealthProbeAddr: v.GetString("health-probe-bind-address"), MetricsAddr: v.GetString("metrics-bind-address"),
		StatusInterval: v.GetDuration("status-interval"), TokenAudiences: v.GetStringSlice("token-audience"),
	}
}

// RunCluster runs drill serve in a cluster until ctx ends: DrillPlans on
// their schedules, DrillRuns through the engine on the leader, and api
// (nil serves none) on every replica with TokenReview authentication and
// SubjectAccessReview authorization. Plans run on platform kubernetes
// (through the serve process's kubeconfig, or in-cluster) or none.
func RunCluster(ctx context.Context, opts ClusterOptions, api ClusterAPI) error {
	po := opts.Platforms
	cfg, err := apiclient.RESTConfig(po.Kubeconfig, po.KubeContext, po.KubeQPS, po.KubeBurst)
	if err != nil {
		return err
	}
	if opts.Archive.Location == "" {
		opts.Archive.Location = archiveflags.DefaultDir()
	}
	arch, err := opts.Archive.Open()
	if err != nil {
		return err
	}
	if err := arch.Check(ctx); err != nil {
		return err
	}
	info := version.Get()
	app, err := cluster.New(cluster.Options{
		Config: cfg, StateDir: po.StateDir, Archive: arch, KeepDir: keepDir(po.StateDir), Namespaces: opts.Namespaces,
		Platforms: func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error) {
			if spec.Target.Platform == v1alpha1.PlatformLocal {
				return nil, fmt.Errorf("platform %s runs on one machine, not in a cluster", spec.Target.Platform)
			}
			return platforms.New(ctx, spec, po)
		},
		LeaderElection: opts.LeaderElect, LeaderElectionNamespace: opts.LeaderElectionNamespace, LeaderElectionID: opts.LeaderElectionID,
		LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod,
		HealthProbeAddr: opts.HealthProbeAddr, MetricsAddr: opts.MetricsAddr, StatusInterval: opts.StatusInterval,
		API: api, Audiences: opts.TokenAudiences, ReportURL: opts.ReportURL,
		Logger: log.FromContext(ctx), Tool: report.Tool{Version: info.Version, Commit: info.Commit, GoVersion: info.GoVersion},
	})
	if err != nil {
		return err
	}
	return app.Start(ctx)
}

// runCluster is drill serve without --plans: RunCluster with the HTTP API
// on opts.Listen, bearer tokens checked by TokenReview and rights by
// SubjectAccessReview. Its /metrics serves the controller's registry.
func runCluster(ctx context.Context, opts Options) error {
	if opts.TokenFile != "" {
		return errors.New("--token-file is for one machine (--plans): in a cluster the API's bearer tokens are Kubernetes tokens, checked by TokenReview, and rights are RBAC on firedrill.dev (docs/serve.md#authentication)")
	}
	if !loopback.Listen(opts.Listen) && opts.TLSCertFile == "" {
		log.FromContext(ctx).Warn("the API listens beyond loopback without TLS: bearer tokens cross the network in the clear; give --tls-cert-file and --tls-private-key-file, or put a TLS proxy in front",
			"listen", opts.Listen)
	}
	co := opts.Cluster
	co.Platforms = opts.Platforms
	co.Archive = opts.Archive
	co.ReportURL = server.ReportPath
	api := func(ctx context.Context, b server.Backend, authn server.Authenticator, authz server.Authorizer) error {
		srv, err := server.New(server.Options{Addr: opts.Listen, Backend: b, Authenticator: authn, Authorizer: authz,
			Gatherer: ctrlmetrics.Registry, TLSCertFile: opts.TLSCertFile, TLSKeyFile: opts.TLSKeyFile,
			UI: dashboard.UI(dashboard.Options{SecureCookie: opts.DashboardSecureCookie})})
		if err != nil {
			return err
		}
		if err := srv.Start(ctx); err != nil {
			return err
		}
		log.FromContext(ctx).Info("drill serve's API is listening", "addr", srv.Addr())
		<-ctx.Done()
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Stop(stopCtx)
	}
	return RunCluster(ctx, co, api)
}
