package serve

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/loopback"
	"github.com/firedrill/firedrill/pkg/server"
)

// Options are the flags of drill serve.
type Options struct {
	// Plans is the plans directory: set, drill serve runs on this machine;
	// empty, in a cluster.
	Plans string
	// Archive is where the history goes, in both modes: the report
	// archive drill run --archive writes and drill reports reads.
	Archive archiveflags.Options
	// Listen is the API's address; loopback unless TokenFile is set.
	Listen string
	// TokenFile lists the API's tokens and their rights (one machine).
	TokenFile string
	// TLSCertFile and TLSKeyFile serve the API over HTTPS.
	TLSCertFile, TLSKeyFile string
	// DashboardSecureCookie marks the dashboard's login cookie Secure
	// on plain HTTP too: behind a proxy that terminates TLS.
	DashboardSecureCookie bool
	// ShutdownTimeout bounds how long a stop waits for the runs in
	// progress to revert their faults.
	ShutdownTimeout time.Duration
	// Platforms carries the state directory and the platform flags.
	Platforms platforms.Options
	// Cluster holds the flags only cluster mode reads (AddClusterFlags).
	Cluster ClusterOptions
}

// NewCommand returns the serve command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run drills on their schedules and serve their history over HTTP",
		Long: `Run the drill service: every plan on its schedule (spec.schedule), runs on
request through the HTTP API, and the history of every run with its
reports.

With --plans DIR it runs on this machine: it reads every plan in DIR and
reloads a file when it changes (a broken edit is logged as
file:line:column: field: message and the last good version stays
scheduled), runs each plan on its platform (the local sandbox, none, or
kubernetes through --kubeconfig), keeps the history in the report archive
(--archive: a directory, by default the one drill run and drill reports use,
or oci://host/repository) and its schedule state under --state-dir. On start it reverts what runs that
died left behind (as drill cleanup does). SIGTERM or Ctrl-C aborts every run
in progress, which reverts its faults, within --shutdown-timeout.

The API (docs/serve.md) listens on --listen, loopback by default. Every
request but /healthz and /readyz needs a bearer token: the tokens of
--token-file, which is required beyond loopback, or else the token drill
serve writes to <state-dir>/serve/token (mode 0600) for the local user.

Without --plans, drill serve runs in a cluster (docs/serve.md#in-a-cluster):
it reconciles the DrillPlan and DrillRun objects of --watch-namespace (all
by default), runs drills on the replica that holds the leader Lease, and
serves the API on every replica. A bearer token is a Kubernetes token
(TokenReview) and its rights are RBAC on firedrill.dev
(SubjectAccessReview).`,
		Example: `  # Serve the example plans on this machine
  drill serve --plans drills/

  # Its history is the report archive drill run and drill reports use
  drill reports list --plan quarterly

  # Keep the history in a registry instead, as drill run --archive does
  drill serve --plans drills/ --archive oci://registry.example.com/drills

  # Ask it what is scheduled
  curl -H "Authorization: Bearer $(cat ~/.local/state/firedrill/serve/token)" \
    http://127.0.0.1:8090/api/v1/plans

  # Serve beyond loopback, with tokens and their rights from a file
  drill serve --plans drills/ --listen :8090 --token-file /etc/firedrill/tokens.yaml \
    --tls-cert-file tls.crt --tls-private-key-file tls.key

  # Behind a proxy that terminates TLS: the dashboard's login cookie is Secure
  drill serve --plans drills/ --listen :8090 --token-file /etc/firedrill/tokens.yaml \
    --dashboard-secure-cookie

  # In a cluster (the Helm chart runs this): the plans are DrillPlan objects
  drill serve --listen :8090 --watch-namespace recsys`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			arch, err := archiveflags.FromViper(v)
			if err != nil {
				return err
			}
			opts := Options{
				Plans: v.GetString("plans"), Archive: arch, Listen: v.GetString("listen"),
				TokenFile: v.GetString("token-file"), TLSCertFile: v.GetString("tls-cert-file"), TLSKeyFile: v.GetString("tls-private-key-file"),
				DashboardSecureCookie: v.GetBool("dashboard-secure-cookie"),
				ShutdownTimeout:       v.GetDuration("shutdown-timeout"), Platforms: platforms.FromViper(v),
				Cluster: ClusterOptionsFromViper(v),
			}
			return run(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.String("plans", "", "directory of plan files to serve on this machine (without it: cluster mode)")
	f.String("listen", server.DefaultAddr, "address the HTTP API listens on; beyond loopback it needs --token-file")
	f.String("token-file", "", "file of the API's bearer tokens and their rights (docs/serve.md#authentication)")
	f.String("tls-cert-file", "", "serve the API over HTTPS with this certificate (PEM)")
	f.String("tls-private-key-file", "", "the private key of --tls-cert-file (PEM)")
	f.Bool("dashboard-secure-cookie", false, "mark the dashboard's login cookie Secure on plain HTTP too: behind a proxy that terminates TLS (over --tls-cert-file it always is)")
	f.Duration("shutdown-timeout", 3*time.Minute, "how long a stop waits for runs in progress to revert their faults")
	archiveflags.AddFlags(f)
	archiveflags.AddReportDirAlias(f)
	platforms.AddFlags(f)
	AddClusterFlags(f)
	return cmd
}

func (o *Options) validate() error {
	var errs []error
	if o.Listen == "" {
		errs = append(errs, errors.New("--listen must not be empty"))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file go together: give both or neither"))
	}
	if o.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
	}
	if o.Platforms.StateDir == "" {
		errs = append(errs, errors.New("--state-dir must not be empty"))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if opts.Plans == "" {
		return runCluster(ctx, opts)
	}
	app, err := NewLocal(LocalOptions{
		Plans: opts.Plans, StateDir: opts.Platforms.StateDir, Archive: opts.Archive, Listen: opts.Listen,
		TokenFile: opts.TokenFile, TLSCertFile: opts.TLSCertFile, TLSKeyFile: opts.TLSKeyFile, Platforms: opts.Platforms,
		DashboardSecureCookie: opts.DashboardSecureCookie,
	})
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.FromContext(ctx).Info("stopping: aborting the runs in progress", "timeout", opts.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer cancel()
	return app.Stop(stopCtx)
}

// newRegistry is the metrics registry of drill serve, with the process
// and Go collectors; firedrill's own metrics register into it.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return reg
}

// keepDir is where a report set goes when the archive cannot take it, as
// drill run keeps it: <state-dir>/reports (drill reports push sends it on).
func keepDir(stateDir string) string { return filepath.Join(stateDir, "reports") }

// checkListen refuses an address beyond loopback without tokens of the
// operator's choosing, and says what a listener beyond loopback without
// TLS risks.
func checkListen(ctx context.Context, listen, tokenFile string, tls bool) error {
	if loopback.Listen(listen) {
		return nil
	}
	if tokenFile == "" {
		return fmt.Errorf("--listen %s is beyond loopback: give --token-file with the API's tokens and their rights (or listen on 127.0.0.1)", listen)
	}
	if !tls {
		log.FromContext(ctx).Warn("the API listens beyond loopback without TLS: bearer tokens cross the network in the clear; give --tls-cert-file and --tls-private-key-file, or put a TLS proxy in front",
			"listen", listen)
	}
	return nil
}
