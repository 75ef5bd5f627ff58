// Command bench measures the recommender from a second process: start-up to
// ready (and RSS) over repeated process starts, and latency under open-loop
// load with vegeta at a constant rate, so that slow responses do not slow
// the offered load (no coordinated omission).
//
//	go run ./pkg/recommender/serve/bench startup -n 5 -addr 127.0.0.1:8080 -- \
//	    /tmp/reco/recommender serve --addr 127.0.0.1:8080 --model-ref 127.0.0.1:5000/recommender:prod
//	go run ./pkg/recommender/serve/bench load -addr 127.0.0.1:8080 -route recommendations -rate 2000 -duration 30s
//
// Numbers are recorded in docs/recommender.md.
package main
