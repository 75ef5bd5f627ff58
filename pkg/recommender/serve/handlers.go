package serve

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firedrill/firedrill/pkg/recommender/model"
)

// Response is the body of the list endpoints.
type Response struct {
	// Version is the served model version.
	Version string `json:"version"`
	// Degraded is true when the results come from the popularity fallback.
	Degraded bool `json:"degraded"`
	// Personalized is true when the results were ranked for the user.
	Personalized bool `json:"personalized"`
	// Results are the ranked items.
	Results []model.Result `json:"results"`
}

// SampleResponse is the body of /v1/sample.
type SampleResponse struct {
	// Version is the served model version.
	Version string `json:"version"`
	// Degraded is true when the sample comes from the popularity fallback.
	Degraded bool `json:"degraded"`
	// Users, Items and Queries are request parameters for load generators.
	Users   []string `json:"users"`
	Items   []string `json:"items"`
	Queries []string `json:"queries"`
}

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	// Error says what went wrong.
	Error string `json:"error"`
}

type routeHandler func(w http.ResponseWriter, r *http.Request, st *served)

// Handler returns the server's HTTP handler, with metrics and the model
// version header on every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		path, name string
		h          routeHandler
	}{
		{"/v1/recommendations", "recommendations", s.handleRecommendations},
		{"/v1/search", "search", s.handleSearch},
		{"/v1/similar", "similar", s.handleSimilar},
		{"/v1/model", "model", s.handleModel},
		{"/v1/sample", "sample", s.handleSample},
		{"/healthz", "healthz", s.handleHealthz},
		{"/readyz", "readyz", s.handleReadyz},
		{"/metrics", "metrics", s.metricsHandler()},
	}
	for _, rt := range routes {
		mux.Handle(rt.path, s.instrument(rt.name, rt.h))
	}
	mux.Handle("/", s.instrument("other", func(w http.ResponseWriter, r *http.Request, st *served) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	}))
	return mux
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the first status code.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument loads the serving state once for the request, checks the
// method, sets the version header and records metrics.
func (s *Server) instrument(route string, h routeHandler) http.Handler {
	latency := s.metrics.latency.WithLabelValues(route)
	requests := s.metrics.requests.MustCurryWith(prometheus.Labels{"route": route})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Clock.Now()
		s.metrics.inflight.Inc()
		st := s.current.Load()
		sw := &statusWriter{ResponseWriter: w}
		sw.Header()["X-Model-Version"] = st.header
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			sw.Header().Set("Allow", "GET, HEAD")
			writeError(sw, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		} else {
			h(sw, r, st)
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.metrics.inflight.Dec()
		latency.Observe(s.opts.Clock.Since(start).Seconds())
		requests.WithLabelValues(strconv.Itoa(sw.code)).Inc()
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorResponse{Error: msg})
}

// errBadRequest is a parameter problem reported as 400.
type errBadRequest string

// Error implements error.
func (e errBadRequest) Error() string { return string(e) }

func required(q map[string][]string, name string) (string, error) {
	v := strings.TrimSpace(first(q[name]))
	if v == "" {
		return "", errBadRequest("missing required parameter " + name)
	}
	return v, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// intParam parses a required positive integer parameter bounded by limit.
func intParam(q map[string][]string, name string, limit int) (int, error) {
	raw, err := required(q, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, errBadRequest(name + " must be a positive integer, got " + strconv.Quote(raw))
	}
	if n > limit {
		return 0, errBadRequest(name + " must be at most " + strconv.Itoa(limit) + ", got " + raw)
	}
	return n, nil
}

// keyAndK reads a route's required parameter and k, answering 400 when
// either is missing or invalid.
func (s *Server) keyAndK(w http.ResponseWriter, q url.Values, name string) (string, int, bool) {
	v, err := required(q, name)
	if badRequest(w, err) {
		return "", 0, false
	}
	k, err := intParam(q, "k", s.opts.MaxK)
	if badRequest(w, err) {
		return "", 0, false
	}
	return v, k, true
}

func badRequest(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	var br errBadRequest
	if errors.As(err, &br) {
		writeError(w, http.StatusBadRequest, br.Error())
	} else {
		writeError(w, http.StatusInternalServerError, err.Error())
	}
	return true
}

func (s *Server) handleRecommendations(w http.ResponseWriter, r *http.Request, st *served) {
	q := r.URL.Query()
	user, k, ok := s.keyAndK(w, q, "user")
	if !ok {
		return
	}
	resp := Response{Version: st.info.Version, Degraded: st.model == nil}
	switch {
	case st.model == nil:
		resp.Results = st.fallback.popular("", k)
	case st.model.KnownUser(user):
		s.cached(w, r, st, "recommendations", user+"\x00"+strconv.Itoa(k), func() Response {
			resp.Personalized = true
			resp.Results = st.model.Recommend(user, k)
			return resp
		})
		return
	default:
		resp.Results = st.model.Popular(first(q["category"]), k)
	}
	writeJSON(w, http.StatusOK, resp)
}

// cached writes the response for key from the state's response cache, or
// computes, encodes and caches it. Only answers computed from the model are
// cached; the cache belongs to the model version.
func (s *Server) cached(w http.ResponseWriter, r *http.Request, st *served, route, key string, compute func() Response) {
	key = route + "\x00" + key
	if st.responses != nil {
		if body, ok := st.responses.Get(key); ok {
			s.metrics.cache.WithLabelValues(route, "hit").Inc()
			writeBody(w, http.StatusOK, body)
			return
		}
		s.metrics.cache.WithLabelValues(route, "miss").Inc()
	}
	select {
	case s.scoring <- struct{}{}:
	case <-r.Context().Done():
		writeError(w, http.StatusServiceUnavailable, "request cancelled while waiting to be scored")
		return
	}
	resp := func() Response {
		defer func() { <-s.scoring }()
		return compute()
	}()
	if resp.Results == nil {
		resp.Results = []model.Result{}
	}
	body, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	body = append(body, '\n')
	if st.responses != nil {
		st.responses.Add(key, body)
	}
	writeBody(w, http.StatusOK, body)
}

func writeBody(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, st *served) {
	q := r.URL.Query()
	query, k, ok := s.keyAndK(w, q, "q")
	if !ok {
		return
	}
	user := first(q["user"])
	resp := Response{Version: st.info.Version, Degraded: st.model == nil}
	if st.model == nil {
		resp.Results = st.fallback.search(query, k)
		writeJSON(w, http.StatusOK, resp)
		return
	}
	s.cached(w, r, st, "search", query+"\x00"+user+"\x00"+strconv.Itoa(k), func() Response {
		resp.Personalized = user != "" && st.model.KnownUser(user)
		resp.Results = st.model.Search(query, user, k)
		return resp
	})
}

func (s *Server) handleSimilar(w http.ResponseWriter, r *http.Request, st *served) {
	q := r.URL.Query()
	item, k, ok := s.keyAndK(w, q, "item")
	if !ok {
		return
	}
	resp := Response{Version: st.info.Version, Degraded: st.model == nil}
	if st.model == nil {
		resp.Results = st.fallback.similar(item, k)
		writeJSON(w, http.StatusOK, resp)
		return
	}
	res, err := st.model.Similar(item, k)
	if errors.Is(err, model.ErrUnknownItem) {
		writeError(w, http.StatusNotFound, "unknown item "+strconv.Quote(item))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	resp.Results = res
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleModel(w http.ResponseWriter, _ *http.Request, st *served) {
	writeJSON(w, http.StatusOK, st.info)
}

func (s *Server) handleSample(w http.ResponseWriter, r *http.Request, st *served) {
	q := r.URL.Query()
	n := 100
	if _, ok := q["n"]; ok {
		var err error
		if n, err = intParam(q, "n", s.opts.MaxSample); badRequest(w, err) {
			return
		}
	}
	resp := SampleResponse{Version: st.info.Version, Degraded: st.model == nil}
	if st.model == nil {
		resp.Items = st.fallback.sample(n)
	} else {
		resp.Users, resp.Items, resp.Queries = st.model.Sample(n)
	}
	for _, p := range []*[]string{&resp.Users, &resp.Items, &resp.Queries} {
		if *p == nil {
			*p = []string{}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// Status is the body of /healthz and /readyz.
type Status struct {
	// Status is "ok" or "unavailable".
	Status string `json:"status"`
	// Reason explains an unavailable status.
	Reason string `json:"reason,omitempty"`
	// Degraded is true while the popularity fallback is served.
	Degraded bool `json:"degraded"`
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request, st *served) {
	writeJSON(w, http.StatusOK, Status{Status: "ok", Degraded: st.model == nil})
}

func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request, st *served) {
	if s.Ready() {
		writeJSON(w, http.StatusOK, Status{Status: "ok", Degraded: st.model == nil})
		return
	}
	reason := "loading model"
	switch {
	case s.draining.Load():
		reason = "draining"
	case s.attempted.Load():
		reason = "no model loaded and a model is required"
	}
	writeJSON(w, http.StatusServiceUnavailable, Status{Status: "unavailable", Reason: reason, Degraded: st.model == nil})
}

func (s *Server) metricsHandler() routeHandler {
	h := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{})
	return func(w http.ResponseWriter, r *http.Request, _ *served) { h.ServeHTTP(w, r) }
}
