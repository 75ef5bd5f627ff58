// Package serve is the recommender's HTTP serving process. It is embeddable
// (Options, New, Start, Stop, Addr) so that tests and the local sandbox run it
// in-process on 127.0.0.1:0.
//
// At start it loads a model from the OCI model store, from the node-local
// cache when the store is unreachable, or from a local directory; it polls the
// store's tag for new versions and swaps them in atomically, keeping the last
// good model when a reload fails. With no model at all it serves a degraded
// popularity fallback, marked "degraded": true in every response and in the
// recommender_model_degraded metric. Readiness requires a full model only
// with Options.RequireModel.
//
// The JSON API:
//
//	GET /v1/recommendations?user=&k=   personalised top-k (popularity for unknown users)
//	GET /v1/search?q=&user=&k=         search, personalised when the user is known
//	GET /v1/similar?item=&k=           item-to-item neighbours; 404 for an unknown item
//	GET /v1/model                      what is being served and where it came from
//	GET /v1/sample?n=                  users, items and queries for load generators
//	GET /healthz, /readyz, /metrics    liveness, readiness, Prometheus metrics
//
// Every response carries the served model version in the X-Model-Version
// header; errors are {"error": "..."} with a 4xx or 5xx status.
package serve
