package archivetest

import (
	_ "embed"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/report"
)

//go:embed testdata/quickstart-report.json
var quickstartReport []byte

//go:embed testdata/quickstart-index.json
var quickstartIndex []byte

// Quickstart is the report of the newest of six real quickstart runs.
func Quickstart(tb testing.TB) *report.Report {
	tb.Helper()
	r, err := report.Read(quickstartReport)
	require.NoError(tb, err)
	return r
}

// QuickstartJSON is the report.json of Quickstart, as drill run wrote it.
func QuickstartJSON() []byte { return append([]byte(nil), quickstartReport...) }

// QuickstartIndex is the archive index of six real quickstart runs, the
// newest being Quickstart.
func QuickstartIndex(tb testing.TB) *index.Index {
	tb.Helper()
	idx, err := index.Decode(quickstartIndex)
	require.NoError(tb, err)
	return idx
}
