package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
	"github.com/firedrill/firedrill/pkg/server"
)

// Backend is what the dashboard reads: the part of server.Backend that
// lists and reads, never what changes anything.
type Backend interface {
	// Plans lists every plan with its schedule and latest runs.
	Plans(ctx context.Context) ([]server.Plan, error)
	// Runs lists runs, newest first.
	Runs(ctx context.Context, f server.RunFilter) ([]server.Run, error)
	// Run returns one run with its report.
	Run(ctx context.Context, namespace, id string) (server.Run, *report.Report, error)
	// Report returns a run's report file in a format.
	Report(ctx context.Context, namespace, id, format string) ([]byte, error)
}

// Defaults of Options.
const (
	// DefaultRunsPerPlan is how many of a plan's latest finished runs the
	// charts and the index's recoveries read.
	DefaultRunsPerPlan = 20
	// DefaultQuarters is how many quarters the pass share goes back.
	DefaultQuarters = 8
	// DefaultCacheSize bounds the cached run summaries: 200 plans of 50
	// runs.
	DefaultCacheSize = 10_000
	// MaxRunsListed bounds the runs a plan's page lists, newest first.
	MaxRunsListed = 500
)

// Options configure a Dashboard. Zero values are documented per field.
type Options struct {
	// Backend is what the dashboard shows. Required.
	Backend Backend
	// Authenticator says who a request comes from, given the cookie's
	// token as a bearer token. Required.
	Authenticator server.Authenticator
	// Authorizer says whether they may read. Required.
	Authorizer server.Authorizer
	// Clock tells the time (next runs, quarters); nil means the real one.
	Clock clock.PassiveClock
	// RunsPerPlan is how many of a plan's latest finished runs are
	// charted; 0 means DefaultRunsPerPlan.
	RunsPerPlan int
	// Quarters is how many quarters the pass share shows; 0 means
	// DefaultQuarters.
	Quarters int
	// CacheSize bounds the cached run summaries; 0 means
	// DefaultCacheSize.
	CacheSize int
	// SecureCookie marks the login cookie Secure even on a plain HTTP
	// request: for a server behind a proxy that terminates TLS. Requests
	// that arrive over TLS always get a Secure cookie.
	SecureCookie bool
}

func (o *Options) validate() error {
	var errs []error
	if o.Backend == nil {
		errs = append(errs, errors.New("a Backend is required"))
	}
	if o.Authenticator == nil {
		errs = append(errs, errors.New("an Authenticator is required"))
	}
	if o.Authorizer == nil {
		errs = append(errs, errors.New("an Authorizer is required"))
	}
	if o.RunsPerPlan < 0 || o.Quarters < 0 || o.CacheSize < 0 {
		errs = append(errs, errors.New("RunsPerPlan, Quarters and CacheSize may not be negative"))
	}
	return errors.Join(errs...)
}

// Dashboard is the dashboard as an http.Handler; mount it at / (see
// server.Options.UI).
type Dashboard struct {
	opts    Options
	cache   *summaries
	recent  *recent
	handler http.Handler
}

// New checks opts and returns the dashboard.
func New(opts Options) (*Dashboard, error) {
	if err := opts.validate(); err != nil {
		return nil, errors.Join(errors.New("invalid dashboard options"), err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.RunsPerPlan == 0 {
		opts.RunsPerPlan = DefaultRunsPerPlan
	}
	if opts.Quarters == 0 {
		opts.Quarters = DefaultQuarters
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	d := &Dashboard{opts: opts, cache: newSummaries(opts.CacheSize), recent: newRecent(opts.CacheSize)}
	d.handler = d.routes()
	return d, nil
}

// ForServer is the dashboard of a server.Server with the defaults, for
// server.Options.UI.
func ForServer(b server.Backend, authn server.Authenticator, authz server.Authorizer) (http.Handler, error) {
	return UI(Options{})(b, authn, authz)
}

// UI builds, for server.Options.UI, the dashboard of a server.Server with
// opts: its Backend, Authenticator and Authorizer are the server's.
func UI(opts Options) func(server.Backend, server.Authenticator, server.Authorizer) (http.Handler, error) {
	return func(b server.Backend, authn server.Authenticator, authz server.Authorizer) (http.Handler, error) {
		o := opts
		o.Backend, o.Authenticator, o.Authorizer = b, authn, authz
		return New(o)
	}
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.handler.ServeHTTP(w, r) }

// Paths the dashboard serves.
const (
	pathLogin  = "/login"
	pathLogout = "/logout"
	pathPlans  = "/plans/"
	paramNS    = "namespace"
)

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.guard(listRights, d.index))
	mux.HandleFunc("GET "+pathPlans+"{plan}", d.guard(planRights, d.plan))
	mux.HandleFunc("GET /runs/{run}/report", d.guard(reportRights, d.report))
	mux.HandleFunc("GET "+pathLogin, d.loginForm)
	mux.HandleFunc("POST "+pathLogin, d.login)
	mux.HandleFunc("POST "+pathLogout, d.logout)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		d.page(w, r, http.StatusNotFound, "error", errorView{Title: "Not found", Message: "There is no page at " + r.URL.Path + "."})
	})
	return securityHeaders(mux)
}

// policy is the dashboard's Content-Security-Policy: nothing is loaded,
// nothing runs; forms post to the dashboard only.
const policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// listRights are what the index needs: list plans and runs in the
// namespace asked for (every namespace when none is).
func listRights(r *http.Request) ([]server.Attributes, error) {
	ns := r.URL.Query().Get(paramNS)
	if err := server.CheckNamespace(ns); err != nil {
		return nil, err
	}
	return []server.Attributes{
		{Verb: server.VerbList, Resource: server.ResourcePlans, Namespace: ns},
		{Verb: server.VerbList, Resource: server.ResourceRuns, Namespace: ns},
	}, nil
}

// planRights are what a plan's page needs: listRights, for a plan whose
// name can be one.
func planRights(r *http.Request) ([]server.Attributes, error) {
	if err := server.CheckName("plan", r.PathValue("plan")); err != nil {
		return nil, err
	}
	return listRights(r)
}

// reportRights are what a run's report needs: get on the run.
func reportRights(r *http.Request) ([]server.Attributes, error) {
	ns, id := r.URL.Query().Get(paramNS), r.PathValue("run")
	if err := server.CheckNamespace(ns); err != nil {
		return nil, err
	}
	if err := server.CheckName("run", id); err != nil {
		return nil, err
	}
	return []server.Attributes{{Verb: server.VerbGet, Resource: server.ResourceRuns, Namespace: ns, Name: id}}, nil
}

// report serves a run's HTML report as the API does, under the API's
// sandboxing policy, for the cookie's holder. A finished run whose
// Backend keeps no HTML report (only its report.json) gets one rendered
// from its report, with its plan's trend from the cached summaries.
func (d *Dashboard) report(w http.ResponseWriter, r *http.Request, u server.User) {
	ns, id := r.URL.Query().Get(paramNS), r.PathValue("run")
	data, err := d.opts.Backend.Report(r.Context(), ns, id, server.FormatHTML)
	if errors.Is(err, server.ErrNotFound) {
		data, err = d.renderReport(r.Context(), ns, id)
	}
	switch {
	case errors.Is(err, server.ErrNotFound):
		d.page(w, r, http.StatusNotFound, "error", errorView{Title: "No report", User: u.Name, Message: "Run " + id + " has no report (yet): it is written when the run has finished."})
		return
	case err != nil:
		d.failed(w, r, "reading a report", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", server.ReportPolicy)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// renderReport renders a finished run's report.html from its report, with
// the trend of its plan's finished runs up to it.
func (d *Dashboard) renderReport(ctx context.Context, ns, id string) ([]byte, error) {
	run, rep, err := d.opts.Backend.Run(ctx, ns, id)
	if err != nil {
		return nil, err
	}
	if rep == nil || (!run.Phase.IsTerminal() && !rep.Phase.IsTerminal()) {
		return nil, fmt.Errorf("run %s has not finished: %w", id, server.ErrNotFound)
	}
	list, err := d.opts.Backend.Runs(ctx, server.RunFilter{Namespace: ns, Plan: run.Plan})
	if err != nil {
		return nil, fmt.Errorf("listing the runs of plan %s: %w", run.Plan, err)
	}
	var upTo []*server.Run
	for i := range list {
		if list[i].ID == id {
			upTo = make([]*server.Run, 0, len(list)-i)
			for j := i; j < len(list); j++ {
				upTo = append(upTo, &list[j])
			}
			break
		}
	}
	entries, _ := d.summariesOf(ctx, latestFinished(upTo, d.opts.RunsPerPlan))
	tr := trend.Analyze(run.Plan, entries, id, trend.DefaultRule())
	page, err := reporthtml.Render(rep, &tr)
	if err != nil {
		return nil, fmt.Errorf("rendering the report of run %s: %w", id, err)
	}
	return page, nil
}

// failed answers 500 and logs the cause.
func (d *Dashboard) failed(w http.ResponseWriter, r *http.Request, what string, err error) {
	log.FromContext(r.Context()).Error("dashboard request failed", "path", r.URL.Path, "while", what, "err", err)
	d.page(w, r, http.StatusInternalServerError, "error", errorView{Title: "Something went wrong", Message: "The dashboard failed " + what + "; the drill serve log says why."})
}
