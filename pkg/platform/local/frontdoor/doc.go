// Package frontdoor is the sandbox's front door: a reverse proxy that sends
// each request to a ready replica of the active region (round robin,
// skipping unhealthy replicas, retrying once on a connection error) and
// fails over between regions by health or by an explicit switch.
//
// It runs as its own process (`drill frontdoor`) with two listeners: the
// traffic address and a control address whose small JSON API sets the
// backends (PUT /v1/regions), switches traffic (POST /v1/switch) and reports
// the state and the history of region switches (GET /v1/state). Client
// talks to that API.
package frontdoor
