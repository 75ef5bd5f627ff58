// Package proc starts the sandbox's child processes so that none of them can
// outlive the process that started it.
//
// Every child runs in its own process group (so a signal reaches anything
// it spawns) and carries PR_SET_PDEATHSIG=SIGKILL, so the kernel kills it
// when its parent dies, even by SIGKILL. Linux delivers the parent-death
// signal when the *thread* that forked the child exits, not the process, so
// a Spawner forks every child from one goroutine locked to its OS thread for
// the Spawner's whole life: Go never reuses or ends that thread while
// children run.
package proc
