// Package metrics holds the Prometheus metrics of drill serve's
// controllers (firedrill_controller_*), registered on the registry the
// manager serves.
package metrics
