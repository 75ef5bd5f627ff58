// Package output is how every drill command writes its result, by one
// rule:
//
//   - stdout carries the command's result: text for people by default,
//     or, with -o json or -o yaml, the same result as one JSON or YAML
//     document for machines, and nothing else;
//   - stderr carries progress and logs: progress as plain lines, or, with
//     --log-format json, as JSON log records like every other log line, so
//     stderr is then JSON only.
package output
