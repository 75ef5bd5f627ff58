package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/tokenfile"
)

// fakeBackend serves fixed plans and runs and records every call that
// changes something.
type fakeBackend struct {
	mu       sync.Mutex
	plans    []server.Plan
	runs     []server.Run // newest first
	reports  map[string]map[string][]byte
	filters  []server.RunFilter
	triggers []string // namespace/plan by user
	aborts   []string // namespace/id: reason by user
}

func (b *fakeBackend) Plans(context.Context) ([]server.Plan, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.plans), nil
}

func (b *fakeBackend) Runs(_ context.Context, f server.RunFilter) ([]server.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.filters = append(b.filters, f)
	var out []server.Run
	for _, r := range b.runs {
		if (f.Plan == "" || r.Plan == f.Plan) && (f.Verdict == "" || r.Verdict == f.Verdict) && (f.Phase == "" || r.Phase == f.Phase) && r.Namespace == f.Namespace {
			out = append(out, r)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (b *fakeBackend) Run(_ context.Context, ns, id string) (server.Run, *report.Report, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.runs {
		if r.ID == id && r.Namespace == ns {
			return r, &report.Report{Schema: report.SchemaVersion, RunID: id, Plan: report.Plan{Name: r.Plan}}, nil
		}
	}
	return server.Run{}, nil, fmt.Errorf("run %q: %w", id, server.ErrNotFound)
}

func (b *fakeBackend) Trigger(_ context.Context, ns, plan string, by server.User) (server.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.ContainsFunc(b.plans, func(p server.Plan) bool { return p.Name == plan && p.Namespace == ns }) {
		return server.Run{}, fmt.Errorf("plan %q: %w", plan, server.ErrNotFound)
	}
	for _, r := range b.runs {
		if r.Plan == plan && r.Phase == v1alpha1.RunRunning {
			return server.Run{}, fmt.Errorf("%w: plan %s has run %s going", server.ErrConflict, plan, r.ID)
		}
	}
	b.triggers = append(b.triggers, ns+"/"+plan+" by "+by.Name)
	run := server.Run{Namespace: ns, ID: plan + "-new", Plan: plan, Trigger: v1alpha1.TriggerAPI, Phase: v1alpha1.RunPending}
	b.runs = append([]server.Run{run}, b.runs...)
	return run, nil
}

func (b *fakeBackend) Abort(_ context.Context, ns, id, reason string, by server.User) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.runs {
		if r.ID == id && r.Namespace == ns {
			if r.Phase.IsTerminal() {
				return fmt.Errorf("%w: run %s has finished", server.ErrConflict, id)
			}
			b.aborts = append(b.aborts, ns+"/"+id+": "+reason+" by "+by.Name)
			return nil
		}
	}
	return fmt.Errorf("run %q: %w", id, server.ErrNotFound)
}

func (b *fakeBackend) Report(_ context.Context, ns, id, format string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if data, ok := b.reports[ns+"/"+id][format]; ok {
		return data, nil
	}
	return nil, fmt.Errorf("report %s of run %q: %w", format, id, server.ErrNotFound)
}

// changes lists the calls that changed something.
func (b *fakeBackend) changes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Concat(b.triggers, b.aborts)
}

// Tokens of the test token file, by what they may do.
const (
	tokenAll     = "all-rights-token-0123456789"
	tokenRead    = "read-only-token-0123456789"
	tokenTrigger = "trigger-only-token-0123456789"
	tokenNone    = "no-rights-token-0123456789"
)

func testTokens(t *testing.T) *tokenfile.File {
	t.Helper()
	f, err := tokenfile.Parse("tokens.yaml", []byte(`tokens:
  - {user: admin, token: `+tokenAll+`, rights: [read, trigger, abort, metrics]}
  - {user: reader, token: `+tokenRead+`, rights: [read]}
  - {user: trigger, token: `+tokenTrigger+`, rights: [trigger]}
  - {user: nobody, token: `+tokenNone+`, rights: []}
`))
	require.NoError(t, err)
	return f
}

func newBackend() *fakeBackend {
	start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	end := start.Add(4 * time.Minute)
	return &fakeBackend{
		plans: []server.Plan{
			{Name: "nightly", Source: "drills/nightly.yaml", Platform: v1alpha1.PlatformNone, Schedule: "0 3 * * *", NextRun: &end},
			{Name: "on-demand", Source: "drills/on-demand.yaml", Platform: v1alpha1.PlatformLocal},
		},
		runs: []server.Run{
			{ID: "nightly-20261202-030000", Plan: "nightly", Trigger: v1alpha1.TriggerSchedule, Phase: v1alpha1.RunRunning, StartTime: &end},
			{ID: "nightly-20261201-030000", Plan: "nightly", Trigger: v1alpha1.TriggerSchedule, Phase: v1alpha1.RunSucceeded,
				Verdict: v1alpha1.VerdictPass, StartTime: &start, CompletionTime: &end, Reports: map[string]string{"json": "report.json", "md": "report.md"}},
		},
		reports: map[string]map[string][]byte{
			"/nightly-20261201-030000": {"json": []byte(`{"runID":"nightly-20261201-030000"}`), "md": []byte("# nightly\n")},
		},
	}
}

// do sends a request with a token ("" for none) and returns the status,
// the headers and the body.
func do(t *testing.T, base, token, method, path, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(data)
}
