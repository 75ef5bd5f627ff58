package dashboard

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/server"
)

func run(start string, phase v1alpha1.RunPhase, verdict v1alpha1.Verdict) *server.Run {
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		panic(err)
	}
	return &server.Run{ID: start, Phase: phase, Verdict: verdict, StartTime: &t}
}

func TestQuarterShares(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	pass := func(start string) *server.Run { return run(start, v1alpha1.RunSucceeded, v1alpha1.VerdictPass) }
	tests := []struct {
		name string
		runs []*server.Run
		n    int
		want []string // label: passed/total share
	}{
		{name: "without runs only this quarter shows, with no share", n: 8, want: []string{"2026 Q4: 0/0 -"}},
		{
			name: "quarters are UTC: a run started on 31 March at 20:30 in New York is in Q2",
			runs: []*server.Run{pass("2026-03-31T20:30:00-04:00"), pass("2026-03-31T23:59:59Z")},
			n:    8,
			want: []string{"2026 Q4: 0/0 -", "2026 Q3: 0/0 -", "2026 Q2: 1/1 100%", "2026 Q1: 1/1 100%"},
		},
		{
			name: "failed, aborted and broken runs count against the share; runs in progress do not count",
			runs: []*server.Run{
				pass("2026-10-01T00:00:00Z"), pass("2026-11-01T00:00:00Z"), pass("2026-11-02T00:00:00Z"),
				run("2026-11-03T00:00:00Z", v1alpha1.RunFailed, v1alpha1.VerdictFail),
				run("2026-11-04T00:00:00Z", v1alpha1.RunAborted, ""),
				run("2026-11-05T00:00:00Z", v1alpha1.RunError, ""),
				run("2026-12-07T11:00:00Z", v1alpha1.RunRunning, ""),
			},
			n:    8,
			want: []string{"2026 Q4: 3/6 50%"},
		},
		{
			name: "a run that succeeded without a judged verdict did not pass",
			runs: []*server.Run{pass("2026-10-01T00:00:00Z"), run("2026-10-02T00:00:00Z", v1alpha1.RunSucceeded, v1alpha1.VerdictNotJudged)},
			n:    8,
			want: []string{"2026 Q4: 1/2 50%"},
		},
		{
			name: "it goes back n quarters at most, across a year",
			runs: []*server.Run{pass("2025-01-15T00:00:00Z"), pass("2026-01-15T00:00:00Z")},
			n:    4,
			want: []string{"2026 Q4: 0/0 -", "2026 Q3: 0/0 -", "2026 Q2: 0/0 -", "2026 Q1: 1/1 100%"},
		},
		{
			name: "a third is written to a tenth of a percent",
			runs: []*server.Run{pass("2026-10-01T00:00:00Z"), run("2026-10-02T00:00:00Z", v1alpha1.RunFailed, v1alpha1.VerdictFail), run("2026-10-03T00:00:00Z", v1alpha1.RunFailed, v1alpha1.VerdictFail)},
			n:    8,
			want: []string{"2026 Q4: 1/3 33.3%"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, q := range quarterShares(tt.runs, now, tt.n) {
				got = append(got, q.Label+": "+itoa(q.Passed)+"/"+itoa(q.Total)+" "+q.Share)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestWhen(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "seconds ahead", at: now.Add(42 * time.Second), want: "2026-12-07 12:00 UTC (in 42s)"},
		{name: "minutes ahead", at: now.Add(12*time.Minute + 5*time.Second), want: "2026-12-07 12:12 UTC (in 12m 5s)"},
		{name: "hours ago, in UTC whatever the zone", at: now.Add(-5*time.Hour - 2*time.Minute).In(time.FixedZone("CET", 3600)), want: "2026-12-07 06:58 UTC (5h 2m ago)"},
		{name: "days ahead", at: now.Add(75 * time.Hour), want: "2026-12-10 15:00 UTC (in 3d 3h)"},
		{name: "within a second is now", at: now.Add(300 * time.Millisecond), want: "2026-12-07 12:00 UTC (now)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, when(tt.at, now))
		})
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct{ next, want string }{
		{"/plans/nightly?namespace=a", "/plans/nightly?namespace=a"},
		{"/", "/"},
		{"", ""},
		{"https://evil.example/", ""},
		{"//evil.example/", ""},
		{"/\\evil.example", ""},
		{"/login?next=/", ""},
		{"plans", ""},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			require.Equal(t, tt.want, localPath(tt.next))
		})
	}
}
