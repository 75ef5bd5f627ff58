// Package kubeauth authenticates and authorizes drill serve's HTTP API in
// a cluster the way kube-rbac-proxy does: a request's bearer token is
// checked with a TokenReview, and each request is allowed by a
// SubjectAccessReview of the user against the DrillPlan and DrillRun
// resources (reading is get and list, triggering is create on drillruns,
// aborting is update on drillruns), so a team grants API rights with the
// same RBAC Roles it grants kubectl rights. Both answers are cached for a
// short time, successes longer than failures, as the API server caches
// its webhook authenticator and authorizer.
package kubeauth
