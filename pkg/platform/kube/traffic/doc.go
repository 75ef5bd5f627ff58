// Package traffic moves a region cutover's traffic for the Kubernetes
// platform: a Service's selector, a Gateway API HTTPRoute's backend
// weights, or a runbook command or webhook that learns the direction from
// its environment. A Service or HTTPRoute switch records the prior state in
// the object's marks in the same write as the change, so a later process
// restores it after a crash; Check refuses, before any region goes down, a
// switch that could not work.
package traffic
