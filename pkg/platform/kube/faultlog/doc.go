// Package faultlog is what one platform process remembers about each
// fault of a run, and the evidence events it records from that memory.
//
// Everything remembered can be rebuilt from the cluster's marks, so a new
// process (a resumed run, drill cleanup) acts correctly without it; the
// memory only keeps events once-only and a fault's work idempotent within
// the process: TookEffect is recorded once per fault, a note once per
// message, a pod kill deletes each pod once, restartReplicas runs once, a
// cutover switches traffic once. Cluster observations (a pod waiting for a
// GPU, a Service without endpoints) are noted to every fault under way.
//
// Events go to the evidence.Recorder set with SetRecorder (the one given
// to Start), and to nowhere before Start or after Stop. Fault packages
// report through a Reporter, which implements their Observer interfaces.
package faultlog
