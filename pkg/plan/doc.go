// Package plan loads DrillPlans from YAML strictly and reports every problem
// at once, each as file:line:column: field: message.
//
// Loading is three passes over each document. A type-directed walk of the
// YAML node tree rejects unknown fields, wrong types, duplicate keys, bad
// durations and oversized or hostile input (alias bombs, deep nesting) and
// records where every field is. The accepted tree is then decoded into the
// v1alpha1 types, defaulted and validated by the functions the controller
// shares, and validation errors are mapped back to lines through the
// recorded positions.
package plan
