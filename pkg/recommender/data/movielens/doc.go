// Package movielens converts the MovieLens "latest" CSV format
// (ratings.csv: userId,movieId,rating,timestamp; movies.csv:
// movieId,title,genres), as published by GroupLens for ml-latest-small,
// ml-latest, ml-25m and ml-32m, into a recommender Dataset that data.Write
// stores as a data directory.
//
// Ratings become implicit-feedback weights (the rating value), timestamps
// are kept, and the first listed genre becomes the item category. Malformed
// input is reported with file, line, column and field, and nothing is
// written.
package movielens
