package history_test

import (
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/report"
)

func indexEntry(r *report.Report) index.Entry { return index.FromReport(r) }
