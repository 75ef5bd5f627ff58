// Package schema is the JSON Schema of report.json
// (firedrill.dev/report/v2): generated from the Go types and their comments,
// committed as report-v2.schema.json, and used to validate reports.
package schema
