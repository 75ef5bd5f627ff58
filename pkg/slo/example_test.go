package slo_test

import (
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/slo"
)

// A service probed at 50 req/s refuses connections for 3 s after a fault is
// injected; its deployment is fully ready again 5 s after injection.
func ExampleAnalyzeFault() {
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	injected := start.Add(10 * time.Second)
	var samples []evidence.Sample
	for i := range 40 * 50 {
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		s := evidence.Sample{At: at, Latency: 8 * time.Millisecond, Code: 200, Route: "recommend"}
		if !at.Before(injected) && at.Before(injected.Add(3*time.Second)) {
			s = evidence.Sample{At: at, Latency: time.Millisecond, Err: evidence.ClassRefused, Route: "recommend"}
		}
		samples = append(samples, s)
	}
	res := slo.AnalyzeFault(slo.FaultInput{
		Name:    "kill-all-pods",
		Start:   injected,
		End:     start.Add(40 * time.Second),
		Samples: samples,
		Capacity: []evidence.CapacityPoint{
			{At: injected, Workload: "Deployment/recommender", Desired: 3, Ready: 0},
			{At: injected.Add(5 * time.Second), Workload: "Deployment/recommender", Desired: 3, Ready: 3},
		},
	}, slo.Objectives{
		RTO:       time.Minute,
		Recovered: slo.Criteria{SuccessRate: 99, LatencyP99: 250 * time.Millisecond, For: 10 * time.Second},
	})
	fmt.Println("serving after", res.Instants.Serving.Sub(injected))
	fmt.Println("service RTO", res.ServiceRTO.Duration, "capacity RTO", res.CapacityRTO.Duration, "recovery time", res.RecoveryTime.Duration)
	fmt.Println(res.Verdicts[0].Reason)
	// Output:
	// serving after 3s
	// service RTO 5s capacity RTO 5s recovery time 5s
	// recovered in 5s (service 5s, capacity 5s), within the 1m0s objective
}
