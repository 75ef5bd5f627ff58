package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// get sends a GET with a bearer token ("" for none) through h and
// returns the response and its body.
func get(t *testing.T, h http.Handler, token, path string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(data)
}

func TestPages(t *testing.T) {
	tests := []struct {
		name, path, token string
		status            int
		golden            string
	}{
		{name: "the index lists every plan, the one that needs attention first", path: "/", token: tokenReader, status: 200, golden: "index"},
		{name: "a plan's page charts each fault's recoveries and lists its runs", path: "/plans/nightly", token: tokenReader, status: 200, golden: "plan-nightly"},
		{name: "a failing plan's page shows what went wrong", path: "/plans/weekly", token: tokenReader, status: 200, golden: "plan-weekly"},
		{name: "a plan never run says so", path: "/plans/on-demand", token: tokenReader, status: 200, golden: "plan-on-demand"},
		{name: "an unknown plan is a 404 page", path: "/plans/nope", token: tokenReader, status: 404, golden: "no-plan"},
		{name: "an unknown path is a 404 page", path: "/nope", token: tokenReader, status: 404, golden: "not-found"},
		{name: "the login page is a form posting the token", path: "/login?next=%2Fplans%2Fnightly", status: 200, golden: "login"},
		{name: "a user without the read right gets a 403 page naming it", path: "/", token: tokenNobody, status: 403, golden: "forbidden"},
		{name: "a namespace no plan is in shows none", path: "/?namespace=team-a", token: tokenReader, status: 200, golden: "index-empty"},
	}
	d := newDashboard(t, small())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, d, tt.token, tt.path)
			require.Equal(t, tt.status, resp.StatusCode, short(body))
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
			for _, bad := range []string{"<script", "src=", `href="http`, "url(", "@import"} {
				require.False(t, strings.Contains(body, bad), "the page runs no script and loads nothing from elsewhere, yet has %q", bad)
			}
			golden.Assert(t, filepath.Join("testdata", tt.golden+".golden"), []byte(outline(t, []byte(body))))
		})
	}
}

func TestReportLinks(t *testing.T) {
	b := small()
	d := newDashboard(t, b)
	_, index := get(t, d, tokenReader, "/")
	_, plan := get(t, d, tokenReader, "/plans/nightly")
	var links []string
	for _, page := range []string{index, plan} {
		for _, part := range strings.Split(page, `href="`)[1:] {
			if link, _, _ := strings.Cut(part, `"`); strings.HasPrefix(link, "/runs/") {
				links = append(links, link)
			}
		}
	}
	require.Len(t, links, (2+1)+(6+1)+(6+1), "the index links weekly's two runs and nightly's six finished ones, and both last verdicts; nightly's page its six finished runs and its last verdict")
	for _, link := range links {
		resp, body := get(t, d, tokenReader, link)
		require.Equal(t, http.StatusOK, resp.StatusCode, link)
		if strings.HasPrefix(link, "/runs/weekly-") {
			// The Backend keeps only weekly's report.json: the page is
			// rendered from it, with the plan's trend.
			require.Contains(t, body, "<title>Drill weekly — ")
			require.Contains(t, body, "trend")
		} else {
			require.Contains(t, body, "<title>report ")
		}
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox", "a report runs sandboxed, away from the dashboard's origin")
	}
	resp, body := get(t, d, tokenReader, "/runs/nightly-20261207-030000/report")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "has no report (yet)")
}

func TestFinishedRunsAreReadOnce(t *testing.T) {
	b := small()
	d := newDashboard(t, b)
	get(t, d, tokenReader, "/")
	first := b.reads.Load()
	require.Equal(t, int64(8), first, "the eight finished runs' reports are read once")
	get(t, d, tokenReader, "/")
	get(t, d, tokenReader, "/plans/nightly")
	get(t, d, tokenReader, "/plans/weekly")
	require.Equal(t, first, b.reads.Load(), "then they come from the cache")
}

// short is the readable part of a page, for a failure message.
func short(page string) string {
	if _, main, ok := strings.Cut(page, "<main"); ok {
		page = main
	}
	return page[:min(len(page), 600)]
}
