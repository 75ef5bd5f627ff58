package suggest

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDidYouMean(t *testing.T) {
	known := []string{"log-level", "log-format", "output", "kube-qps"}
	tests := []struct {
		name, in, want string
	}{
		{"a transposition", "log-levle", ` (did you mean "log-level"?)`}, //nolint:misspell // the misspelling is the input
		{"case does not matter", "OUTPUT", ` (did you mean "output"?)`},
		{"nothing close", "timezone", ""},
		{"a tie picks the first alphabetically", "log-f", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, DidYouMean(tt.in, slices.Values(known)))
		})
	}
	require.Equal(t, 3, distance("kitten", "sitting"))
}
