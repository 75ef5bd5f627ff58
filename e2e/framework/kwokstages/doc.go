// Package kwokstages renders the kwok Stage sets a framework cluster runs
// (Render): kwok's own node and pod lifecycles, as hack/kube-binaries.sh
// copies them, with the pod start delays of the cluster's Options and the
// process-backed pods (workloads.ProcessLabel) left to the node agent.
package kwokstages
