// Package data holds the recommender's training data: a seeded synthetic
// e-commerce generator and the CSV files it writes, which are also the format
// for bring-your-own data.
//
// A Dataset is an interned, columnar view of interactions (user, item,
// weight, timestamp, event, session), item metadata and search queries.
// Generate is deterministic for a Config: the same seed always yields the
// same bytes. Read accepts interactions.csv with a header naming at least the
// user and item columns, and optional items.csv and queries.csv; malformed
// input is reported with file:line and column. The file formats are
// documented in docs/recommender.md.
package data
