// Package tune searches the recommender's hyper-parameters within a time
// budget.
//
// Run carves a validation fold out of a training matrix (eval.HoldOut, so
// the test items of the evaluation never take part), then searches, in
// turn, item-kNN (neighbours, shrink) and EASE (λ, item cap) by random
// search over log-scaled ranges, and ALS: successive halving over random
// log-scaled regularisation and alpha at the caller's factors with ALS
// sweeps as the resource, then a local search around the best settings
// that perturbs regularisation and alpha and doubles the factors while
// that validates better. Every search starts with the caller's settings,
// so the result is never worse on validation than no tuning. The budget is
// checked between fits (between sweeps for ALS); when it runs out or the
// context is cancelled Run stops and returns the best settings found so
// far, saying why it stopped.
package tune
