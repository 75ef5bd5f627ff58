// Package evidence is the vocabulary that the probe, the platforms, the
// engine, the journal and the report share: probe samples, capacity points,
// model observations, typed fault targets and timeline events.
//
// It holds data types only. It imports nothing of firedrill, so every other
// package can depend on it without pulling in a platform or the engine.
package evidence
