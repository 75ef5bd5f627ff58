package reports

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/report"
)

func setOf(tb testing.TB, r *report.Report) (index.Entry, []report.File) {
	tb.Helper()
	files, err := archive.Files(r, nil)
	require.NoError(tb, err)
	return index.FromReport(r), files
}
