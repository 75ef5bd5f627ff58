// Package preflight checks, before a drill starts or touches anything,
// that each fault of a plan can work on a cluster: namespaces are in
// safety.namespaces, the named model store and traffic switch objects
// exist, the Gateway API and Chaos Mesh are installed where a fault needs
// them, a cutover's lost region has something to take down and its
// surviving region can take over. Every check is a live read; the caller
// joins the problems of every step so the user sees them all at once.
package preflight
