// Package promtest runs the real Prometheus tools for tests: Debian's
// prometheus server and prometheus-pushgateway, each started on a free
// loopback port with its own temporary directory and stopped when the test
// ends, and promtool check metrics. A missing binary fails the test with
// the package to install; it never skips.
package promtest
