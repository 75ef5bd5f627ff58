package log

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
		want    string
	}{
		{name: "text at info drops debug", opts: Options{}, want: "level=INFO msg=hello k=v\n"},
		{name: "json encodes records", opts: Options{Format: FormatJSON}, want: `"msg":"hello","k":"v"}` + "\n"},
		{name: "unknown level is refused", opts: Options{Level: "loud"}, wantErr: `unknown log level "loud"`},
		{name: "unknown format is refused", opts: Options{Format: "xml"}, wantErr: `unknown log format "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(&buf, tt.opts)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			l.Debug("hidden")
			l.Info("hello", "k", "v")
			require.Contains(t, buf.String(), tt.want)
			require.NotContains(t, buf.String(), "hidden")
		})
	}
}

func TestContextRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, Options{})
	require.NoError(t, err)
	ctx := IntoContext(context.Background(), l.With("run", "r1"))
	FromContext(ctx).Info("step")
	require.Contains(t, buf.String(), "run=r1")
	require.NotNil(t, FromContext(context.Background()))
}
