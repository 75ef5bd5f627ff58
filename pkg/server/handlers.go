package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
)

// The API's paths.
const (
	pathPlans  = "/api/" + APIVersion + "/plans"
	pathRuns   = "/api/" + APIVersion + "/runs"
	paramNS    = "namespace"
	paramPlan  = "plan"
	paramRun   = "run"
	paramForm  = "format"
	paramVerd  = "verdict"
	paramPhase = "phase"
	paramLimit = "limit"
)

// endpoint is one method of one route.
type endpoint struct {
	// verb and resource are what the request asks, for the Authorizer.
	verb, resource string
	// name is the path parameter naming the object, if any.
	name string
	// query lists the query parameters the endpoint takes besides
	// namespace.
	query []string
	// handle serves the request once it is authorized and its query and
	// name are checked.
	handle func(w http.ResponseWriter, r *http.Request, q query) error
}

// route serves one path: it dispatches on the method (405 for the others,
// GET serving HEAD too), authorizes, checks the name and the query, and
// calls the endpoint.
func route(s *Server, mux *http.ServeMux, pattern string, methods map[string]endpoint) {
	allowed := make([]string, 0, len(methods)+1)
	for m := range methods {
		allowed = append(allowed, m)
		if m == http.MethodGet {
			allowed = append(allowed, http.MethodHead)
		}
	}
	slices.Sort(allowed)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		e, ok := methods[method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, r, newError(http.StatusMethodNotAllowed, "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
			return
		}
		// The query, the namespace and the name are checked before the
		// Authorizer sees them: in a cluster it sends them to the API
		// server in a SubjectAccessReview.
		q, bad := parseQuery(r, append([]string{paramNS}, e.query...)...)
		ns := q.get(paramNS)
		if bad == nil {
			bad = checkNamespace(ns)
		}
		a := Attributes{Verb: e.verb, Resource: e.resource, Namespace: ns}
		if bad == nil && e.name != "" {
			a.Name = r.PathValue(e.name)
			bad = checkName(e.name, a.Name)
		}
		if bad != nil {
			writeError(w, r, bad)
			return
		}
		if !s.authorize(w, r, a) {
			return
		}
		if err := e.handle(w, r, q); err != nil {
			writeError(w, r, err)
		}
	})
}

// api builds the JSON API's routes.
func (s *Server) api() http.Handler {
	mux := http.NewServeMux()
	route(s, mux, pathPlans, map[string]endpoint{
		http.MethodGet: {verb: VerbList, resource: ResourcePlans, handle: s.listPlans},
	})
	route(s, mux, pathPlans+"/{plan}", map[string]endpoint{
		http.MethodGet: {verb: VerbGet, resource: ResourcePlans, name: paramPlan, handle: s.getPlan},
	})
	route(s, mux, pathRuns, map[string]endpoint{
		http.MethodGet:  {verb: VerbList, resource: ResourceRuns, query: []string{paramPlan, paramVerd, paramPhase, paramLimit}, handle: s.listRuns},
		http.MethodPost: {verb: VerbCreate, resource: ResourceRuns, handle: s.trigger},
	})
	route(s, mux, pathRuns+"/{run}", map[string]endpoint{
		http.MethodGet: {verb: VerbGet, resource: ResourceRuns, name: paramRun, handle: s.getRun},
	})
	route(s, mux, pathRuns+"/{run}/abort", map[string]endpoint{
		http.MethodPost: {verb: VerbUpdate, resource: ResourceRuns, name: paramRun, handle: s.abort},
	})
	route(s, mux, pathRuns+"/{run}/report/{format}", map[string]endpoint{
		http.MethodGet: {verb: VerbGet, resource: ResourceRuns, name: paramRun, handle: s.report},
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, newError(http.StatusNotFound, "no such API path: %s", r.URL.Path))
	})
	return mux
}

// List is the body of a listing: {"items": [...]}.
type List[T any] struct {
	// Items are the listed objects.
	Items []T `json:"items"`
}

// RunDetail is a run with its results (GET /api/v1/runs/{run}): the Run's
// fields and the report, live while the run goes.
type RunDetail struct {
	Run
	// Report is the run's report; absent while it has not started.
	Report *report.Report `json:"report,omitempty"`
}

// TriggerRequest is the body of POST /api/v1/runs.
type TriggerRequest struct {
	// Plan is the name of the plan to run now. Required.
	Plan string `json:"plan"`
}

// AbortRequest is the body of POST /api/v1/runs/{run}/abort; it may be
// empty.
type AbortRequest struct {
	// Reason is stated in the run's message; at most MaxReasonLength
	// bytes.
	Reason string `json:"reason,omitempty"`
}

func (s *Server) listPlans(w http.ResponseWriter, r *http.Request, q query) error {
	plans, err := s.opts.Backend.Plans(r.Context())
	if err != nil {
		return err
	}
	out := List[Plan]{Items: []Plan{}}
	for _, p := range plans {
		if ns := q.get(paramNS); ns == "" || p.Namespace == ns {
			linkPlan(&p)
			out.Items = append(out.Items, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request, q query) error {
	plans, err := s.opts.Backend.Plans(r.Context())
	if err != nil {
		return err
	}
	name, ns := r.PathValue(paramPlan), q.get(paramNS)
	for _, p := range plans {
		if p.Name == name && p.Namespace == ns {
			linkPlan(&p)
			writeJSON(w, http.StatusOK, p)
			return nil
		}
	}
	return newError(http.StatusNotFound, "no plan %q%s", name, inNamespace(ns))
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, q query) error {
	f := RunFilter{Namespace: q.get(paramNS), Plan: q.get(paramPlan),
		Verdict: v1alpha1.Verdict(q.get(paramVerd)), Phase: v1alpha1.RunPhase(q.get(paramPhase))}
	if _, given := q[paramPlan]; given {
		if bad := checkName(paramPlan, f.Plan); bad != nil {
			return bad
		}
	}
	if bad := oneOf(paramVerd, f.Verdict, v1alpha1.VerdictPass, v1alpha1.VerdictFail, v1alpha1.VerdictNotJudged); bad != nil {
		return bad
	}
	if bad := oneOf(paramPhase, f.Phase, v1alpha1.RunPending, v1alpha1.RunRunning, v1alpha1.RunSucceeded,
		v1alpha1.RunFailed, v1alpha1.RunAborted, v1alpha1.RunError); bad != nil {
		return bad
	}
	if _, given := q[paramLimit]; given {
		n, err := strconv.Atoi(q.get(paramLimit))
		if err != nil || n < 1 || n > MaxLimit {
			return badInput(paramLimit, "must be a whole number from 1 to %d; got %q", MaxLimit, q.get(paramLimit))
		}
		f.Limit = n
	}
	runs, err := s.opts.Backend.Runs(r.Context(), f)
	if err != nil {
		return err
	}
	out := List[listedRun]{Items: make([]listedRun, len(runs))}
	for i := range runs {
		out.Items[i] = listed(runs[i])
	}
	// A run takes about 450 bytes of JSON.
	writeJSONSized(w, http.StatusOK, out, 512*len(runs))
	return nil
}

// listedRun is a Run as a listing writes it: the same JSON as a linked
// Run, with the report links in a struct rather than a map. A map is
// encoded by reflection, key by key: it was a third of the time of a
// listing of 2,000 runs.
type listedRun struct {
	Run
	Reports *runLinks `json:"reports,omitempty"`
}

// runLinks are the links of a run's report formats, in the order a map's
// keys are written.
type runLinks struct {
	HTML  string `json:"html,omitempty"`
	JSON  string `json:"json,omitempty"`
	JUnit string `json:"junit,omitempty"`
	MD    string `json:"md,omitempty"`
}

// listed is a run with its links, as link makes them.
func listed(run Run) listedRun {
	out := listedRun{Run: run}
	if len(run.Reports) == 0 {
		return out
	}
	l := &runLinks{}
	for format := range run.Reports {
		u := runPath(run.Namespace, run.ID, "/report/"+format)
		switch format {
		case FormatHTML:
			l.HTML = u
		case FormatJSON:
			l.JSON = u
		case FormatJUnit:
			l.JUnit = u
		case FormatMD:
			l.MD = u
		}
	}
	out.Reports = l
	return out
}

func (s *Server) trigger(w http.ResponseWriter, r *http.Request, q query) error {
	var req TriggerRequest
	if bad := decodeBody(w, r, &req); bad != nil {
		return bad
	}
	if bad := checkName(paramPlan, req.Plan); bad != nil {
		return bad
	}
	u, _ := UserFrom(r.Context())
	ns := q.get(paramNS)
	run, err := s.opts.Backend.Trigger(r.Context(), ns, req.Plan, u)
	if err != nil {
		return err
	}
	log.FromContext(r.Context()).Info("run triggered through the API", "user", u.Name, "namespace", ns, "plan", req.Plan, "run", run.ID)
	link(&run)
	w.Header().Set("Location", runPath(run.Namespace, run.ID, ""))
	writeJSON(w, http.StatusCreated, run)
	return nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, q query) error {
	run, rep, err := s.opts.Backend.Run(r.Context(), q.get(paramNS), r.PathValue(paramRun))
	if err != nil {
		return err
	}
	link(&run)
	writeJSON(w, http.StatusOK, RunDetail{Run: run, Report: rep})
	return nil
}

func (s *Server) abort(w http.ResponseWriter, r *http.Request, q query) error {
	var req AbortRequest
	if bad := decodeBody(w, r, &req); bad != nil {
		return bad
	}
	if len(req.Reason) > MaxReasonLength {
		return badInput("reason", "is %d bytes; at most %d", len(req.Reason), MaxReasonLength)
	}
	if strings.ContainsFunc(req.Reason, func(c rune) bool { return c < ' ' }) {
		return badInput("reason", "must be one line of text, without control characters")
	}
	u, _ := UserFrom(r.Context())
	ns, id := q.get(paramNS), r.PathValue(paramRun)
	if err := s.opts.Backend.Abort(r.Context(), ns, id, req.Reason, u); err != nil {
		return err
	}
	log.FromContext(r.Context()).Info("run aborted through the API", "user", u.Name, "namespace", ns, "run", id, "reason", req.Reason)
	run, _, err := s.opts.Backend.Run(r.Context(), ns, id)
	if err != nil {
		return err
	}
	link(&run)
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

// ReportPolicy is the Content-Security-Policy of a served HTML report: the
// page is self-contained, loads nothing and runs in a sandbox, away from
// the server's origin.
const ReportPolicy = "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

// contentTypes are the media types of the report formats.
var contentTypes = map[string]string{
	FormatJSON:  "application/json",
	FormatMD:    "text/markdown; charset=utf-8",
	FormatJUnit: "application/xml",
	FormatHTML:  "text/html; charset=utf-8",
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, q query) error {
	format := r.PathValue(paramForm)
	if bad := oneOf(paramForm, format, FormatJSON, FormatMD, FormatJUnit, FormatHTML); bad != nil {
		return bad
	}
	data, err := s.opts.Backend.Report(r.Context(), q.get(paramNS), r.PathValue(paramRun), format)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentTypes[format])
	if format == FormatHTML {
		// A report page is self-contained: it loads nothing and runs in a
		// sandbox, away from the API's origin.
		w.Header().Set("Content-Security-Policy", ReportPolicy)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return nil
}

// link sets a run's Reports to the URLs of its files, in a new map: the
// Backend's stays as it is.
func link(run *Run) {
	if len(run.Reports) == 0 {
		return
	}
	urls := make(map[string]string, len(run.Reports))
	for format := range run.Reports {
		urls[format] = runPath(run.Namespace, run.ID, "/report/"+format)
	}
	run.Reports = urls
}

// linkPlan links the runs a plan shows, in copies.
func linkPlan(p *Plan) {
	if p.LastRun != nil {
		last := *p.LastRun
		link(&last)
		p.LastRun = &last
	}
	if p.Active != nil {
		p.Active = slices.Clone(p.Active)
		for i := range p.Active {
			link(&p.Active[i])
		}
	}
}

// ReportPath is the path the API serves a run's report at, by format
// (FormatHTML, FormatJSON, FormatJUnit, FormatMD).
func ReportPath(ns, id, format string) string { return runPath(ns, id, "/report/"+format) }

// runPath is the API path of a run, or of one of its sub-resources.
func runPath(ns, id, sub string) string {
	p := pathRuns + "/" + url.PathEscape(id) + sub
	if ns != "" {
		p += "?" + paramNS + "=" + url.QueryEscape(ns)
	}
	return p
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace " + quote(ns)
}
