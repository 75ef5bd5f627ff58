package serve

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/history"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/dashboard"
	"github.com/firedrill/firedrill/pkg/server/tokenfile"
	"github.com/firedrill/firedrill/pkg/version"
)

// LocalOptions configure drill serve on one machine. Zero values are
// documented per field.
type LocalOptions struct {
	// Plans is the plans directory. Required.
	Plans string
	// StateDir is firedrill's state directory: the run journals (shared
	// with drill run), the runner's state under serve/, the generated
	// token. Required.
	StateDir string
	// Archive keeps the history: a directory or oci://host/repository;
	// an empty Location means archiveflags.DefaultDir(), the archive drill
	// run and drill reports use by default. A report set the archive
	// cannot take is kept in StateDir/reports until it can.
	Archive archiveflags.Options
	// Listen is the API's address; empty means server.DefaultAddr. Beyond
	// loopback it needs TokenFile.
	Listen string
	// TokenFile lists the API's tokens and their rights; empty means a
	// token with every right, kept in StateDir/serve/token (loopback only).
	TokenFile string
	// TLSCertFile and TLSKeyFile serve the API over HTTPS.
	TLSCertFile, TLSKeyFile string
	// DashboardSecureCookie marks the dashboard's login cookie Secure on
	// plain HTTP too (dashboard.Options.SecureCookie): behind a proxy that
	// terminates TLS.
	DashboardSecureCookie bool
	// Platforms builds the runs' platforms (kubeconfig, context, QPS);
	// its StateDir is set to StateDir.
	Platforms platforms.Options
	// Registry is what /metrics serves; nil means a new registry with the
	// process and Go collectors. The firedrill_ drill metrics
	// (pkg/metrics) register into it.
	Registry *prometheus.Registry
	// Observer is told what the runner does, besides the drill metrics;
	// nil means nobody else.
	Observer plansdir.Observer
	// SnapshotInterval is how often a run in progress is kept on disk;
	// zero means the runner's default (10s).
	SnapshotInterval time.Duration
}

func (o *LocalOptions) validate() error {
	var errs []error
	if o.Plans == "" {
		errs = append(errs, errors.New("a plans directory is required"))
	}
	if o.StateDir == "" {
		errs = append(errs, errors.New("a state directory is required"))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("a TLS certificate and its key go together"))
	}
	return errors.Join(errs...)
}

// Local is drill serve on one machine: the plans-directory runner behind
// the HTTP API. Create it with NewLocal, then Start and Stop it.
type Local struct {
	opts LocalOptions

	mu        sync.Mutex
	runner    *plansdir.Runner
	api       *server.Server
	tokenPath string
}

// NewLocal checks opts and returns a service that is not started.
func NewLocal(opts LocalOptions) (*Local, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid drill serve options: %w", err)
	}
	if opts.Listen == "" {
		opts.Listen = server.DefaultAddr
	}
	if opts.Registry == nil {
		opts.Registry = newRegistry()
	}
	if opts.Archive.Location == "" {
		opts.Archive.Location = archiveflags.DefaultDir()
	}
	opts.Platforms.StateDir = opts.StateDir
	return &Local{opts: opts}, nil
}

// Start opens the history, starts the API (its /readyz fails until the
// runner is ready), then the runner, which reverts what dead runs left
// and starts scheduling. An error leaves nothing running.
func (l *Local) Start(ctx context.Context) error {
	o := &l.opts
	if err := checkListen(ctx, o.Listen, o.TokenFile, o.TLSCertFile != ""); err != nil {
		return err
	}
	tokens, tokenPath, err := l.tokens()
	if err != nil {
		return err
	}
	arch, err := o.Archive.Open()
	if err != nil {
		return err
	}
	hist, err := history.Open(ctx, history.Options{Archive: arch, KeepDir: keepDir(o.StateDir)})
	if err != nil {
		return err
	}
	drills, err := metrics.New(o.Registry)
	if err != nil {
		return err
	}
	observer := plansdir.Observer(drillMetrics{drills})
	if o.Observer != nil {
		observer = observers{observer, o.Observer}
	}
	info := version.Get()
	runner, err := plansdir.New(plansdir.Options{
		Dir: o.Plans, StateDir: filepath.Join(o.StateDir, "serve"), JournalDir: platforms.JournalDir(o.StateDir),
		History: hist, Observer: observer, SnapshotInterval: o.SnapshotInterval,
		Tool: report.Tool{Version: info.Version, Commit: info.Commit, GoVersion: info.GoVersion},
		Platforms: func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error) {
			return platforms.New(ctx, spec, o.Platforms)
		},
	})
	if err != nil {
		return err
	}
	api, err := server.New(server.Options{Addr: o.Listen, Backend: runner, Authenticator: tokens, Authorizer: tokens,
		Gatherer: o.Registry, Ready: runner.Ready, TLSCertFile: o.TLSCertFile, TLSKeyFile: o.TLSKeyFile,
		UI: dashboard.UI(dashboard.Options{SecureCookie: o.DashboardSecureCookie})})
	if err != nil {
		return err
	}
	if err := api.Start(ctx); err != nil {
		return err
	}
	if err := runner.Start(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return errors.Join(err, api.Stop(stopCtx))
	}
	l.mu.Lock()
	l.runner, l.api, l.tokenPath = runner, api, tokenPath
	l.mu.Unlock()
	logger := log.FromContext(ctx)
	restoreMetrics(ctx, drills, runner, arch)
	if tokenPath != "" {
		logger.Info("drill serve is ready; the API's token is in a file", "api", l.URL(), "token", tokenPath, "archive", arch.String())
	} else {
		logger.Info("drill serve is ready", "api", l.URL(), "tokens", o.TokenFile, "archive", arch.String())
	}
	return nil
}

// tokens are the API's tokens: the token file, or the local user's token
// (kept in the state directory, made on first use) with every right.
func (l *Local) tokens() (*tokenfile.File, string, error) {
	if l.opts.TokenFile != "" {
		f, err := tokenfile.Load(l.opts.TokenFile)
		return f, "", err
	}
	path := filepath.Join(l.opts.StateDir, "serve", "token")
	tok, err := tokenfile.EnsureToken(path)
	if err != nil {
		return nil, "", err
	}
	f, err := tokenfile.New(tokenfile.Entry{User: "local", Token: tok, Rights: tokenfile.Rights})
	return f, path, err
}

// Addr is the API's address once started.
func (l *Local) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.api == nil {
		return ""
	}
	return l.api.Addr()
}

// URL is the API's base URL once started.
func (l *Local) URL() string {
	scheme := "http://"
	if l.opts.TLSCertFile != "" {
		scheme = "https://"
	}
	return scheme + l.Addr()
}

// TokenPath is the file of the generated token; "" with a token file.
func (l *Local) TokenPath() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tokenPath
}

// Stop aborts the runs in progress and waits, until ctx ends, for them to
// revert their faults and be stored, then stops the API.
func (l *Local) Stop(ctx context.Context) error {
	l.mu.Lock()
	runner, api := l.runner, l.api
	l.mu.Unlock()
	if runner == nil {
		return nil
	}
	err := runner.Stop(ctx)
	apiCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, api.Stop(apiCtx))
}
