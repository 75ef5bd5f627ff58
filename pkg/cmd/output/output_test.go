package output

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	v := map[string]any{"name": "quarterly", "faults": []string{"a<b"}}
	tests := []struct {
		format Format
		want   string
	}{
		{JSON, "{\n  \"faults\": [\n    \"a<b\"\n  ],\n  \"name\": \"quarterly\"\n}\n"},
		{YAML, "faults:\n- a<b\nname: quarterly\n"},
		{Text, "text\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, Write(&b, tt.format, v, func(w io.Writer) error {
				_, err := io.WriteString(w, "text\n")
				return err
			}))
			require.Equal(t, tt.want, b.String())
		})
	}
	_, err := Parse("xml")
	require.ErrorContains(t, err, "--output must be text, json or yaml")
}
