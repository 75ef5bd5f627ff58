package archive

import (
	"context"
	"fmt"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
)

// The files of a report set besides those report.Render writes.
const (
	// HTMLFile is the self-contained page for people.
	HTMLFile = reporthtml.FileName
	// SumsFile lists every other file's sha256 digest.
	SumsFile = sums.FileName
)

// DefaultHistory is how many earlier runs of a plan report.html's trend
// shows.
const DefaultHistory = 20

// Files renders a run's report set: report.md, junit.xml and report.json
// (report.Render), report.html with the trend tr (nil renders none) and
// SHA256SUMS.
func Files(r *report.Report, tr *trend.Trend) ([]report.File, error) {
	files, err := report.Render(r)
	if err != nil {
		return nil, err
	}
	page, err := reporthtml.Render(r, tr)
	if err != nil {
		return nil, err
	}
	files = append(files, report.File{Name: HTMLFile, Data: page})
	return append(files, report.File{Name: SumsFile, Data: sums.Compute(files)}), nil
}

// TrendFor is the trend of r's plan: its last history runs in a that
// started before r, and r itself as the current run. history 0 means
// DefaultHistory.
func TrendFor(ctx context.Context, a Archive, r *report.Report, history int, rule trend.Rule) (*trend.Trend, error) {
	if history <= 0 {
		history = DefaultHistory
	}
	cur := index.FromReport(r)
	q := index.Query{Plan: r.Plan.Name, Last: history}
	if !cur.StartTime.IsZero() {
		q.Before = cur.StartTime
	}
	earlier, _, err := Select(ctx, a, q)
	if err != nil {
		return nil, fmt.Errorf("reading the trend of plan %s from %s: %w", r.Plan.Name, a, err)
	}
	runs := make([]index.Entry, 0, len(earlier)+1)
	for _, e := range earlier {
		if e.RunID != cur.RunID {
			runs = append(runs, e)
		}
	}
	runs = append(runs, cur)
	t := trend.Analyze(r.Plan.Name, runs, cur.RunID, rule)
	return &t, nil
}

// ReadReport decodes the report.json of a report set.
func ReadReport(files []report.File) (*report.Report, error) {
	for _, f := range files {
		if f.Name == report.JSONFile {
			return report.Read(f.Data)
		}
	}
	return nil, fmt.Errorf("the report set has no %s", report.JSONFile)
}

// RenderHTML renders a run's report.html again from the archive, with
// the trend as the archive holds it now.
func RenderHTML(ctx context.Context, a Archive, e index.Entry, rule trend.Rule) ([]byte, error) {
	files, err := a.Get(ctx, e)
	if err != nil {
		return nil, err
	}
	r, err := ReadReport(files)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", e.Key(), err)
	}
	tr, err := TrendFor(ctx, a, r, 0, rule)
	if err != nil {
		return nil, err
	}
	return reporthtml.Render(r, tr)
}
