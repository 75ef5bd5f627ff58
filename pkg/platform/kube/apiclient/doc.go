// Package apiclient builds the Kubernetes platform's clients of one cluster
// and accounts for what they ask of the API server.
//
// A configuration comes from a kubeconfig (or the in-cluster service
// account), with a clear error when there is none. The clients built from
// it share one HTTP client, one REST mapper and one rate limiter, so
// --kube-qps and --kube-burst bound the whole process; every request is
// counted by verb, resource and status, and every wait in the limiter is
// timed (Stats), which is what the scale benchmark reads.
package apiclient
