// Package topk selects the k best scored items of a stream with a
// fixed-capacity heap. Rankings are total and reproducible: a higher score
// ranks first, and equal scores rank by lower index.
package topk
