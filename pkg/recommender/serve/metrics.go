package serve

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	inflight     prometheus.Gauge
	modelInfo    *prometheus.GaugeVec
	loadDuration *prometheus.HistogramVec
	reloadFails  *prometheus.CounterVec
	degraded     prometheus.Gauge
	ready        prometheus.Gauge
	cache        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "recommender", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "recommender", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "recommender", Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "recommender", Subsystem: "model", Name: "info",
			Help: "The model being served: 1 for the current version, digest and source.",
		}, []string{"version", "digest", "source"}),
		loadDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "recommender", Subsystem: "model", Name: "load_duration_seconds",
			Help:    "Time to obtain and load a model (pull, verify, decode), by source.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"source"}),
		reloadFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "recommender", Subsystem: "model", Name: "reload_failures_total",
			Help: "Failed attempts to obtain a new model, by stage (resolve, pull, load).",
		}, []string{"stage"}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "recommender", Subsystem: "model", Name: "degraded",
			Help: "1 while the popularity fallback is served instead of a model.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "recommender", Subsystem: "http", Name: "response_cache_lookups_total",
			Help: "Response cache lookups, by route and result (hit, miss).",
		}, []string{"route", "result"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "recommender", Subsystem: "server", Name: "ready",
			Help: "1 while /readyz reports ready.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.latency, m.inflight, m.modelInfo, m.loadDuration, m.reloadFails, m.degraded, m.ready, m.cache,
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("registering metrics (one server per registry): %w", err)
			}
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	for _, stage := range []string{stageResolve, stagePull, stageLoad} {
		m.reloadFails.WithLabelValues(stage)
	}
	return m, nil
}

const (
	stageResolve = "resolve"
	stagePull    = "pull"
	stageLoad    = "load"
)
