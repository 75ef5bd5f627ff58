// Package reportdir keeps drill serve's reports in a directory, in the
// layout drill run writes (<root>/<namespace>/<plan>/<run id>/), until the
// evidence archive replaces it. The DrillRun reconciler stores and prunes
// through it and the API backend reads from it.
package reportdir
