// Package plans is the plans directory of drill serve on one machine: the
// DrillPlans in its *.yaml and *.yml files (not in subdirectories, hidden
// files skipped), as the runner schedules them.
//
// Dir.Reload reads the directory again: a file whose content changed is
// loaded with the strict plan loader (pkg/plan); a broken edit, or a plan
// name another file already provides, is refused as file:line:column:
// field: message, and the last good version of the file's plans stays.
// A file read again with the same content is not loaded again. Watch
// turns the directory's fsnotify events into change notices; the runner
// waits for them to settle, and reads the directory every minute anyway.
//
// A Dir is not safe for concurrent use: package plansdir's Runner guards
// it with its lock and reloads it from its worker.
package plans
