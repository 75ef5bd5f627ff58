package ociregistry

import (
	"context"
	"io"
	"log/slog"

	"github.com/sirupsen/logrus" //nolint:depguard // distribution logs only through logrus; this file bridges it into pkg/log.
)

// routeLogs sends the registry's logs to logger. distribution logs through
// logrus's standard logger, which is process-wide, so this is the one global
// side effect of the package: the last started server's logger wins. Request
// logs are dropped below warnings, and client errors (4xx, such as the 404
// answering every "does this blob exist" check during a push) are debug.
func routeLogs(logger *slog.Logger) {
	std := logrus.StandardLogger()
	std.SetOutput(io.Discard)
	std.SetLevel(logrus.WarnLevel)
	std.ReplaceHooks(logrus.LevelHooks{})
	std.AddHook(&slogHook{logger: logger})
}

type slogHook struct {
	logger *slog.Logger
}

// Levels implements logrus.Hook: warnings and worse.
func (h *slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

// Fire implements logrus.Hook by logging e through slog.
func (h *slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelWarn
	if e.Level <= logrus.ErrorLevel {
		level = slog.LevelError
	}
	if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
		level = slog.LevelDebug
	}
	attrs := make([]any, 0, 2*len(e.Data)+2)
	attrs = append(attrs, "component", "registry")
	for k, v := range e.Data {
		attrs = append(attrs, k, v)
	}
	h.logger.Log(context.Background(), level, e.Message, attrs...)
	return nil
}
