// Package probe drives open-loop, constant-rate synthetic traffic at a
// service and records every request as an evidence.Sample.
//
// The load loop is vegeta's (github.com/tsenart/vegeta/v12/lib): its
// constant pacer fixes the send schedule from the rate alone, and its
// attacker starts more workers whenever every worker is busy, so a slow or
// hanging response never delays later sends (no coordinated omission).
// firedrill adds request templates filled from seeded pools of real users,
// items and queries, classification of transport errors (timeout, refused,
// reset, dns, other) and a compact in-memory store of samples that the drill
// engine reads while the probe runs.
//
// A Sample's At is the instant vegeta's worker took the request off the
// schedule and started it; its Latency runs until the whole response body
// was read or the request failed, so a timed-out request carries the
// timeout.
//
// Every request carries X-Firedrill-Route (the template name) and vegeta's
// X-Vegeta-Attack and X-Vegeta-Seq headers, so a service can tell synthetic
// traffic apart.
package probe
