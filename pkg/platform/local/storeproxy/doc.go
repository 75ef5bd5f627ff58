// Package storeproxy puts an in-process toxiproxy in front of each model
// store, so that the sandbox's slow and hung store outages are toxiproxy
// toxics (latency, timeout) rather than hand-written proxies.
package storeproxy
