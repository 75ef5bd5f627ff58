// Package repodir finds the firedrill repository on this machine (Root) and
// the directories its build scripts print (Printed): the kube binaries of
// hack/kube-binaries.sh and the Chaos Mesh CRDs, each built once per test
// binary unless an environment variable names it.
package repodir
