// Package dashboards builds firedrill's Grafana dashboard as code with the
// Grafana Foundation SDK. `make dashboards` writes it to
// charts/firedrill/dashboards/firedrill.json, which the Helm chart ships as
// a ConfigMap; `make verify` fails when the committed JSON drifts from
// this code.
//
// Every panel reads the firedrill_ metrics of pkg/metrics, from drill
// serve's /metrics or from a Pushgateway that drill run --pushgateway fed,
// through a Prometheus data source chosen by the datasource variable and
// filtered by the plan variable. Queries aggregate by the metric's own
// labels (max by plan, step, ...), so the job and instance labels of
// several sources or replicas never split a series. Each query is tested
// against a real Prometheus that scraped real drills.
package dashboards
