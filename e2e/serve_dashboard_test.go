//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkDashboard signs in to drill serve's dashboard at base with token
// through the login form (TokenReview checks the cookie's token,
// SubjectAccessReview the read rights) and reads the index and plan's
// page in namespace, and the last run's HTML report.
func checkDashboard(ctx context.Context, t *testing.T, base, token, namespace, plan string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, cookie string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		require.NoError(t, err)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "firedrill_token", Value: cookie})
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(data)
	}
	index := "/?namespace=" + namespace
	resp, _ := do(http.MethodGet, index, "", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "without a cookie the dashboard asks to sign in")
	require.Equal(t, "/login?next="+url.QueryEscape(index), resp.Header.Get("Location"))

	resp, body := do(http.MethodPost, "/login", "", url.Values{"token": {"not-a-token-0123456789"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "TokenReview refuses a bad token")
	require.Contains(t, body, "The token was not accepted.")
	resp, _ = do(http.MethodPost, "/login", "", url.Values{"token": {token}, "next": {index}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "firedrill_token" {
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, c.SameSite)
			cookie = c.Value
		}
	}
	require.Equal(t, token, cookie, "the login keeps the token in the cookie")

	resp, body = do(http.MethodGet, index, cookie, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `href="/plans/`+plan+`?namespace=`+namespace+`"`)
	require.Contains(t, body, "PASS")
	require.Contains(t, body, "(this quarter)")

	resp, body = do(http.MethodGet, "/plans/"+plan+"?namespace="+namespace, cookie, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `<figure class="chart"`, "the plan's recovery is charted")
	_, link, ok := strings.Cut(body, `<a class="report" href="`)
	require.True(t, ok, "the plan's page links its run's report")
	link, _, _ = strings.Cut(link, `"`)
	resp, body = do(http.MethodGet, strings.ReplaceAll(link, "&amp;", "&"), cookie, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "<title>Drill "+plan+" — PASS</title>", "the run's HTML report")
}
