package plansdir

import (
	"context"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

// History is where the runner keeps finished runs: their report files and
// a listing fast enough to serve the API. Package history implements it
// on the report archive.
type History interface {
	// Put stores a finished run's report set (every format of rep).
	// Storing a run that is already stored keeps the stored one: archived
	// evidence is never overwritten. An error means the run is not in the
	// history; the runner tries again.
	Put(ctx context.Context, rep *report.Report) error
	// List returns the runs q selects, newest first (by start time, then
	// by id).
	List(ctx context.Context, q Query) ([]Entry, error)
	// Get returns one run; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (Entry, error)
	// File returns one report file of a run in a format (server.FormatJSON,
	// FormatMD, FormatJUnit, FormatHTML); ErrNotFound when the run or the
	// format is not there.
	File(ctx context.Context, id, format string) ([]byte, error)
	// Delete removes runs and their report files; ids not stored are
	// skipped.
	Delete(ctx context.Context, ids []string) error
}

// ErrNotFound is what History returns for a run or a file it does not
// hold: the API's ErrNotFound, so that it maps to 404.
var ErrNotFound = server.ErrNotFound

// Query selects runs from History.
type Query struct {
	// Plan, Verdict and Phase match when set.
	Plan    string
	Verdict v1alpha1.Verdict
	Phase   v1alpha1.RunPhase
	// Limit bounds the answer; 0 means no bound.
	Limit int
}

// Matches says whether e is selected by q (the Limit aside).
func (q Query) Matches(e *Entry) bool {
	return (q.Plan == "" || e.Plan == q.Plan) && (q.Verdict == "" || e.Verdict == q.Verdict) && (q.Phase == "" || e.Phase == q.Phase)
}

// Entry is what History lists about a finished run.
type Entry struct {
	// ID is the run's id, unique in a history.
	ID string `json:"id"`
	// Plan is the plan's name.
	Plan string `json:"plan"`
	// Trigger is what started the run.
	Trigger v1alpha1.Trigger `json:"trigger,omitempty"`
	// Phase, Verdict and Message are the run's outcome.
	Phase   v1alpha1.RunPhase `json:"phase"`
	Verdict v1alpha1.Verdict  `json:"verdict,omitempty"`
	Message string            `json:"message,omitempty"`
	// StartTime and CompletionTime bound the run; zero when unknown.
	StartTime      time.Time `json:"startTime,omitzero"`
	CompletionTime time.Time `json:"completionTime,omitzero"`
	// WorstRecovery is the longest recovery against its objective
	// ("12.1s/30s").
	WorstRecovery string `json:"worstRecovery,omitempty"`
	// Formats are the report formats stored for the run.
	Formats []string `json:"formats,omitempty"`
}

// EntryOf is the entry of a run's report, holding formats.
func EntryOf(rep *report.Report, formats []string) Entry {
	e := Entry{ID: rep.RunID, Plan: rep.Plan.Name, Trigger: rep.Trigger, Phase: rep.Phase, Verdict: rep.Verdict,
		Message: rep.Message, WorstRecovery: rep.WorstRecovery, Formats: formats}
	if t := rep.StartTime; t != nil {
		e.StartTime = t.Time
	}
	if t := rep.CompletionTime; t != nil {
		e.CompletionTime = t.Time
	}
	return e
}

// Fire is the scheduled time of a run the schedule started, read from its
// name (scheduler.RunName: <plan>-<yyyymmdd>-<hhmmss>, UTC); zero for a
// run started otherwise. The schedule rules need it to prune and to know
// which fires started, and a report does not record it.
func Fire(e *Entry) time.Time {
	if e.Trigger != v1alpha1.TriggerSchedule {
		return time.Time{}
	}
	stamp, ok := strings.CutPrefix(e.ID, e.Plan+"-")
	if !ok {
		return time.Time{}
	}
	t, err := time.ParseInLocation("20060102-150405", stamp, time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}
