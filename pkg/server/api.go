package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
)

// APIVersion prefixes every API path: /api/v1/....
const APIVersion = "v1"

// Plan is a plan as the API lists it.
type Plan struct {
	// Namespace is the plan's namespace in a cluster; empty on one machine.
	Namespace string `json:"namespace,omitempty"`
	// Name is the plan's name.
	Name string `json:"name"`
	// Source is the file a plan came from on one machine.
	Source string `json:"source,omitempty"`
	// Platform is the plan's target platform.
	Platform v1alpha1.PlatformType `json:"platform"`
	// Schedule, TimeZone and Suspend are the plan's.
	Schedule string `json:"schedule,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
	Suspend  bool   `json:"suspend,omitempty"`
	// NextRun is when the schedule fires next; absent without a schedule
	// or while suspended.
	NextRun *time.Time `json:"nextRun,omitempty"`
	// LastRun is the plan's most recent run.
	LastRun *Run `json:"lastRun,omitempty"`
	// Active are the plan's runs in progress.
	Active []Run `json:"active,omitempty"`
	// Error is why the plan's latest edit was refused (file:line: field:
	// message); the last good version stays scheduled.
	Error string `json:"error,omitempty"`
}

// Run is a run as the API lists it.
type Run struct {
	// Namespace and ID name the run (the DrillRun in a cluster).
	Namespace string `json:"namespace,omitempty"`
	ID        string `json:"id"`
	// Plan is the plan's name.
	Plan string `json:"plan"`
	// Trigger is what started it.
	Trigger v1alpha1.Trigger `json:"trigger,omitempty"`
	// Phase, Verdict, Message, StartTime, CompletionTime, CurrentStep and
	// WorstRecovery are the run's status.
	Phase          v1alpha1.RunPhase `json:"phase,omitempty"`
	Verdict        v1alpha1.Verdict  `json:"verdict,omitempty"`
	Message        string            `json:"message,omitempty"`
	StartTime      *time.Time        `json:"startTime,omitempty"`
	CompletionTime *time.Time        `json:"completionTime,omitempty"`
	CurrentStep    string            `json:"currentStep,omitempty"`
	WorstRecovery  string            `json:"worstRecovery,omitempty"`
	// Reports are the URLs of the run's report files, by format (json,
	// md, junit, html), once they exist. A Backend sets a key for each
	// format it holds, with any value; the API replaces the values with
	// the URLs it serves the files at.
	Reports map[string]string `json:"reports,omitempty"`
}

// RunFilter selects runs.
type RunFilter struct {
	// Namespace, Plan, Verdict and Phase match when set.
	Namespace string
	Plan      string
	Verdict   v1alpha1.Verdict
	Phase     v1alpha1.RunPhase
	// Limit bounds the answer, newest first; 0 means no bound.
	Limit int
}

// Report formats a run's report is served in.
const (
	FormatJSON  = "json"
	FormatMD    = "md"
	FormatJUnit = "junit"
	FormatHTML  = "html"
)

// Backend is what the API serves. Both modes implement it.
type Backend interface {
	// Plans lists every plan with its schedule and latest runs.
	Plans(ctx context.Context) ([]Plan, error)
	// Runs lists runs, newest first.
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	// Run returns one run with its full results (a live snapshot while it
	// runs); ErrNotFound when there is none.
	Run(ctx context.Context, namespace, id string) (Run, *report.Report, error)
	// Trigger starts a run of a plan now; ErrNotFound for an unknown
	// plan, ErrConflict when the plan's concurrency policy refuses it.
	Trigger(ctx context.Context, namespace, plan string, by User) (Run, error)
	// Abort stops a run: every active fault is reverted and it ends
	// Aborted. ErrNotFound for an unknown run, ErrConflict for a finished
	// one.
	Abort(ctx context.Context, namespace, id, reason string, by User) error
	// Report returns a run's report file in a format; ErrNotFound when it
	// does not exist (yet).
	Report(ctx context.Context, namespace, id, format string) ([]byte, error)
}

// Errors a Backend returns, mapped to HTTP statuses.
var (
	// ErrNotFound is 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict is 409.
	ErrConflict = errors.New("conflict")
)

// User is who a request comes from.
type User struct {
	// Name and Groups are the user's identity.
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
}

// ErrUnauthenticated says a request carries no valid credential (401).
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticator says who a request comes from.
type Authenticator interface {
	// Authenticate returns the request's user, or ErrUnauthenticated.
	Authenticate(ctx context.Context, r *http.Request) (User, error)
}

// Verbs and resources an Authorizer judges, as Kubernetes RBAC names them:
// reading is get and list on drillplans and drillruns, triggering is
// create on drillruns, aborting is update on drillruns, and scraping
// metrics is get on the non-resource path /metrics.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbCreate = "create"
	VerbUpdate = "update"

	ResourcePlans = "drillplans"
	ResourceRuns  = "drillruns"
)

// Attributes are what a request asks to do: a verb on a resource (a
// namespace, and a name when the request is about one object), or, for a
// request that is about no resource (/metrics), a verb on a URL path, as a
// SubjectAccessReview's nonResourceAttributes.
type Attributes struct {
	// Verb is one of the Verb constants.
	Verb string
	// Resource is ResourcePlans or ResourceRuns; empty for a non-resource
	// request.
	Resource string
	// Namespace is the request's namespace; empty on one machine and for
	// a list across every namespace.
	Namespace string
	// Name is the object's name; empty for a list or a create.
	Name string
	// Path is the URL path of a non-resource request (PathMetrics); empty
	// when Resource is set.
	Path string
}

// PathMetrics is the non-resource path scraping metrics is authorized
// on: get on /metrics, as kube-rbac-proxy and controller-runtime's
// metrics filter authorize it.
const PathMetrics = "/metrics"

// Authorizer says whether a user may do something (403 when not).
type Authorizer interface {
	// Authorize returns whether u may do a, and why not.
	Authorize(ctx context.Context, u User, a Attributes) (allowed bool, reason string, err error)
}
