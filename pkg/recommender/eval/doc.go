// Package eval measures the recommender's models offline.
//
// Evaluate splits a dataset into training and test interactions, fits each
// model on the training part with the train package, and ranks the FULL
// catalogue for every evaluated user (no sampled negatives), excluding the
// user's training items. It reports NDCG@K and Recall@K per model. Two
// splits exist: a per-user random holdout, and, where timestamps exist, a
// global time split. The protocol is documented in docs/recommender.md.
package eval
