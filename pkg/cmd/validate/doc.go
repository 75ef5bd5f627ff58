// Package validate implements `drill validate`: load plans strictly, apply
// defaults and report every problem with its file, line and field.
package validate
