// Package pods finds and kills pods for the Kubernetes platform: the
// candidates of a pod kill, the running pods of the inference workloads,
// and a kill that deletes one pod by uid, so that repeating it never kills
// the pod's replacement.
package pods
