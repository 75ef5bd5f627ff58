// Package sandbox implements `drill sandbox up|status|down`, which keep one
// local sandbox running for exploring it by hand: the reference
// recommender's replicas in two regions, their model stores and the front
// door, with their endpoints printed.
package sandbox
