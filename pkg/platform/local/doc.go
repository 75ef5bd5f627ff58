// Package local is the embedded sandbox platform: `target.platform: local`.
//
// Start brings up, as real OS processes of the drill binary itself, one OCI
// model store per region (`drill recommender modelstore`), the recommender
// replicas of every region placed on simulated nodes (`drill recommender
// serve`), and a front door (`drill frontdoor`) that routes to the primary
// region and fails over by health. Replicas pull the model from their
// region's store through an in-process toxiproxy, so slow and hung stores
// are toxics. A supervisor keeps every region at its desired replicas,
// restarting dead ones after the plan's startDelay.
//
// The model is generated and trained on first use from the plan's
// target.local.model and cached under $XDG_CACHE_HOME/firedrill/models.
//
// Faults: podKill is SIGKILL of replicas; nodeDrain cordons a node, starts
// replacements elsewhere, then stops the node's replicas gracefully;
// gpuFailure takes a node's GPU away: its replicas die and none is placed
// on it until revert, as a NoExecute taint keeps pods off a Kubernetes
// node whose every GPU failed;
// modelStoreOutage stops a store (unavailable) or adds a toxic (slow, hang)
// and can kill replicas so that they restart without a store; regionCutover
// takes a region's replicas and store down and moves the front door.
//
// Every child runs in its own process group with a parent-death signal
// (package proc), so no child outlives the drill, even after kill -9.
//
// The platform is a façade over small packages: supervisor (replicas on
// simulated nodes), proc (child processes), storeproxy (the toxiproxy in
// front of each store), frontdoor, modelcache (the model, built once and
// cached), targets (a fault's targets and the plan's topology checks),
// faults (what each fault does to the started sandbox) and sandboxdir (the
// state file and the cleanup of dead sandboxes). The platform starts and
// stops the processes, dispatches to these packages and turns what they
// and the sandbox observe into events.
package local
