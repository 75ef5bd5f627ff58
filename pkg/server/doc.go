// Package server is drill serve's HTTP API, the same in a cluster and on
// one machine: a versioned JSON API over plans, runs and their reports,
// /healthz, /readyz and /metrics, authenticated and authorized on every
// request.
//
// The API serves a Backend, which the cluster controller (DrillPlans and
// DrillRuns on the API server) and the plans-directory runner (plans in
// files, history in the archive) implement. Who a request comes from is an
// Authenticator's business (TokenReview in a cluster, a token file on one
// machine) and what they may do an Authorizer's (SubjectAccessReview, or
// the rights in the token file); reading and triggering are separate
// rights.
package server
