package log

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Format selects how log records are encoded.
type Format string

const (
	// FormatText writes logfmt-style key=value records.
	FormatText Format = "text"
	// FormatJSON writes one JSON object per record.
	FormatJSON Format = "json"
)

// Options configure a logger. The zero value logs at info level as text.
type Options struct {
	// Level is one of debug, info, warn, error. Empty means info.
	Level string
	// Format is text or json. Empty means text.
	Format Format
}

// ParseLevel turns a level name into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
	}
}

// New returns a logger writing to w.
func New(w io.Writer, opts Options) (*slog.Logger, error) {
	level, err := ParseLevel(opts.Level)
	if err != nil {
		return nil, err
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch opts.Format {
	case "", FormatText:
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, fmt.Errorf("unknown log format %q (want text or json)", opts.Format)
	}
}

// Discard returns a logger that drops every record; tests use it.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

type ctxKey struct{}

// IntoContext returns a copy of ctx carrying logger.
func IntoContext(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, logger)
}

// FromContext returns the logger carried by ctx, or a discarding logger
// when there is none, so library code never needs a nil check.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return Discard()
}
