// Package netproxy is the network in front of a framework cluster's
// process-backed pods: a ServiceProxy that follows the EndpointSlices the
// real EndpointSlice controller writes and forwards each Service port to a
// ready endpoint's loopback image, as kube-proxy does, and a Gateway that
// follows an HTTPRoute's rules and weights and sends each request through
// the ServiceProxy, as a Gateway API implementation does.
package netproxy
