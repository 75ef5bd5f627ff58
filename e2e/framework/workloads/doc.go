// Package workloads builds the Kubernetes objects the e2e tests deploy on
// a framework cluster: the recommender and model-store Deployments, their
// PodDisruptionBudgets and Service, their process-backed variants (labelled
// ProcessLabel, run by the node agent) and the GPU fleets of the scale
// tests, with the node labels, taint and GPU resource they are placed by.
// It only builds objects; framework.Cluster creates and waits for them.
package workloads
