package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile to $FIREDRILL_CPUPROFILE and, at stop, a
// heap profile to $FIREDRILL_MEMPROFILE, for profiling a run (make bench-kube
// sets them with FIREDRILL_SCALE_PROFILE_DIR; docs/benchmarks.md).
func startProfiles() (stop func()) {
	cpu := os.Getenv("FIREDRILL_CPUPROFILE")
	var f *os.File
	if cpu != "" {
		var err error
		if f, err = os.Create(cpu); err != nil {
			fmt.Fprintln(os.Stderr, "cpu profile:", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "cpu profile:", err)
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			_ = f.Close()
		}
		if mem := os.Getenv("FIREDRILL_MEMPROFILE"); mem != "" {
			if m, err := os.Create(mem); err == nil {
				runtime.GC()
				_ = pprof.WriteHeapProfile(m)
				_ = m.Close()
			}
		}
	}
}
