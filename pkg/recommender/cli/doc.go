// Package cli is the recommender command tree: gen, train and eval for data
// and models, push and pull for the model store, modelstore to run the
// registry, and serve for the HTTP API. cmd/recommender and `drill
// recommender` both mount it.
package cli
