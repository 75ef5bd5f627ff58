// Package platforms builds the platform a plan targets; drill run and drill
// cleanup share it.
package platforms
