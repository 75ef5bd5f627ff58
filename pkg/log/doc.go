// Package log is firedrill's one logging facade. It builds log/slog loggers
// with the project's options (level, format, destination) and carries a
// logger through a context so that deep code logs with the caller's
// attributes. Nothing else in firedrill constructs a logger.
//
// Logs are for operators. Output meant for a person at a terminal (tables,
// progress, validation errors) is written by the commands directly, never
// through this package.
package log
