package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/dashboard"
	"github.com/firedrill/firedrill/pkg/server/servertest"
)

// site is the API with the dashboard of opts mounted, as drill serve
// mounts it (dashboard.UI), over HTTP or HTTPS.
func site(t *testing.T, tls bool, opts dashboard.Options) *httptest.Server {
	t.Helper()
	ts, _ := siteSeen(t, tls, opts)
	return ts
}

// siteSeen is site, with the Authorizer that keeps what it was asked.
func siteSeen(t *testing.T, tls bool, opts dashboard.Options) (*httptest.Server, *servertest.SeenAuthorizer) {
	t.Helper()
	b := small()
	tf := tokens(t)
	authz := &servertest.SeenAuthorizer{Next: tf}
	opts.Clock = clocktesting.NewFakePassiveClock(now)
	srv, err := server.New(server.Options{Backend: b, Authenticator: tf, Authorizer: authz, UI: dashboard.UI(opts)})
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(srv.Handler())
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts, authz
}

// send sends a request without following redirects; header holds extra
// headers and cookie the login cookie ("" for none).
func send(t *testing.T, ts *httptest.Server, method, path, cookie string, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "firedrill_token", Value: cookie})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(data)
}

func loginCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "firedrill_token" {
			return c
		}
	}
	t.Fatalf("no login cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil
}

func TestAuthentication(t *testing.T) {
	ts := site(t, false, dashboard.Options{})
	origin := map[string]string{"Origin": ts.URL}
	tests := []struct {
		name           string
		method, path   string
		cookie         string
		form           url.Values
		header         map[string]string
		status         int
		location, body string
	}{
		{name: "without a cookie the index sends the browser to the login page", method: "GET", path: "/", status: 303, location: "/login?next=%2F"},
		{name: "without a cookie a plan's page comes back after the login", method: "GET", path: "/plans/nightly", status: 303, location: "/login?next=%2Fplans%2Fnightly"},
		{name: "without a cookie a report sends the browser to the login page", method: "GET", path: "/runs/weekly-20261130-040000/report", status: 303, location: "/login?next=%2Fruns%2Fweekly-20261130-040000%2Freport"},
		{name: "a cookie whose token is no longer valid is cleared and sent to the login page", method: "GET", path: "/", cookie: "revoked-token-0123456789", status: 303, location: "/login?next=%2F&why=expired"},
		{name: "a bearer header works as the cookie does", method: "GET", path: "/", header: map[string]string{"Authorization": "Bearer " + tokenReader}, status: 200, body: "Drill plans"},
		{name: "a bad bearer header is a 401 page, not a redirect", method: "GET", path: "/", header: map[string]string{"Authorization": "Bearer nope-0123456789abcdef"}, status: 401, body: "The bearer token was not accepted."},
		{name: "the cookie of a user without the read right gets a 403 page", method: "GET", path: "/", cookie: tokenNobody, status: 403, body: "who may not list drillplans"},
		{name: "the cookie of a reader shows the index", method: "GET", path: "/", cookie: tokenReader, status: 200, body: "Drill plans"},
		{name: "the cookie of a reader opens a report", method: "GET", path: "/runs/nightly-20261117-030000/report", cookie: tokenReader, status: 200, body: "<title>report nightly-20261117-030000</title>"},
		{name: "the API does not take the cookie: it stays bearer-only", method: "GET", path: "/api/v1/plans", cookie: tokenReader, status: 401, body: "Unauthorized"},
		{name: "a bad token is refused on the login page", method: "POST", path: "/login", form: url.Values{"token": {"wrong-token-0123456789"}}, header: origin, status: 401, body: "The token was not accepted."},
		{name: "an empty token is refused", method: "POST", path: "/login", form: url.Values{"token": {" "}}, header: origin, status: 400, body: "Paste a token."},
		{name: "a token that cannot be a cookie is refused", method: "POST", path: "/login", form: url.Values{"token": {"two words"}}, header: origin, status: 400, body: "That is not a token"},
		{name: "a login from another site is refused", method: "POST", path: "/login", form: url.Values{"token": {tokenReader}}, header: map[string]string{"Origin": "https://evil.example"}, status: 403, body: "only be sent from the dashboard"},
		{name: "a login without Origin nor Sec-Fetch-Site is refused", method: "POST", path: "/login", form: url.Values{"token": {tokenReader}}, status: 403, body: "only be sent from the dashboard"},
		{name: "a login marked same-origin by Sec-Fetch-Site is taken", method: "POST", path: "/login", form: url.Values{"token": {tokenReader}}, header: map[string]string{"Sec-Fetch-Site": "same-origin"}, status: 303, location: "/"},
		{name: "a login from a cross-site fetch is refused", method: "POST", path: "/login", form: url.Values{"token": {tokenReader}}, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "the login goes back where the browser came from", method: "POST", path: "/login", form: url.Values{"token": {tokenReader}, "next": {"/plans/weekly"}}, header: origin, status: 303, location: "/plans/weekly"},
		{name: "the login never sends the browser to another site", method: "POST", path: "/login", form: url.Values{"token": {tokenReader}, "next": {"//evil.example/x"}}, header: origin, status: 303, location: "/"},
		{name: "logging in takes POST only", method: "PUT", path: "/login", status: 405},
		{name: "a logout from another site is refused", method: "POST", path: "/logout", cookie: tokenReader, header: map[string]string{"Origin": "http://evil.example"}, status: 403},
		{name: "logging out clears the cookie", method: "POST", path: "/logout", cookie: tokenReader, header: origin, status: 303, location: "/login?why=out"},
		{name: "logging out takes POST only: a link cannot sign anyone out", method: "GET", path: "/logout", cookie: tokenReader, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, ts, tt.method, tt.path, tt.cookie, tt.form, tt.header)
			require.Equal(t, tt.status, resp.StatusCode, short(body))
			require.Equal(t, tt.location, resp.Header.Get("Location"))
			require.Contains(t, body, tt.body)
			switch {
			case tt.status == 303 && tt.method == "POST" && tt.path == "/login":
				c := loginCookie(t, resp)
				require.Equal(t, tokenReader, c.Value)
			case strings.Contains(tt.location, "why="):
				c := loginCookie(t, resp)
				require.Empty(t, c.Value, "the cookie is cleared")
				require.Negative(t, c.MaxAge)
			default:
				require.Empty(t, resp.Header.Values("Set-Cookie"), "no cookie is set")
			}
		})
	}
}

// TestBadInput: a namespace or a name in the address that cannot be one
// is a 400 page naming the parameter, for a signed-in user, before the
// Authorizer is asked about it (in a cluster: a SubjectAccessReview).
func TestBadInput(t *testing.T) {
	tests := []struct {
		name, path, cookie string
		status             int
		location           string
		body               []string
	}{
		{name: "a namespace that cannot be one on the index", path: "/?namespace=Team_A", cookie: tokenReader, status: 400,
			body: []string{"Bad request", "namespace: &#34;Team_A&#34; is not a valid namespace: lowercase letters, digits and &#39;-&#39;", "Correct or remove ?namespace= in the address."}},
		{name: "a namespace with a dot: a subdomain, not a label", path: "/?namespace=team.a", cookie: tokenReader, status: 400, body: []string{"namespace: &#34;team.a&#34; is not a valid namespace"}},
		{name: "a namespace of 64 characters", path: "/?namespace=" + strings.Repeat("a", 64), cookie: tokenReader, status: 400, body: []string{"at most 63 characters"}},
		{name: "a namespace with a path in it on a plan's page", path: "/plans/nightly?namespace=..%2Fkube-system", cookie: tokenReader, status: 400, body: []string{"namespace: &#34;../kube-system&#34; is not a valid namespace"}},
		{name: "a namespace that cannot be one on a report", path: "/runs/nightly-20261117-030000/report?namespace=A", cookie: tokenReader, status: 400, body: []string{"namespace: &#34;A&#34; is not a valid namespace"}},
		{name: "a plan name that cannot be one", path: "/plans/Nightly_Plan", cookie: tokenReader, status: 400,
			body: []string{"plan: &#34;Nightly_Plan&#34; is not a valid name", "The address names a plan or a run that cannot exist."}},
		{name: "a run name that cannot be one", path: "/runs/Run_1/report", cookie: tokenReader, status: 400, body: []string{"run: &#34;Run_1&#34; is not a valid name"}},
		{name: "a user without rights gets the 400 too: the Authorizer is never asked", path: "/?namespace=Kube_System", cookie: tokenNobody, status: 400, body: []string{"is not a valid namespace"}},
		{name: "without a cookie the browser signs in first", path: "/?namespace=Team_A", status: 303, location: "/login?next=%2F%3Fnamespace%3DTeam_A"},
		{name: "a valid namespace is served", path: "/?namespace=recsys", cookie: tokenReader, status: 200, body: []string{"Drill plans"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, authz := siteSeen(t, false, dashboard.Options{})
			resp, body := send(t, ts, "GET", tt.path, tt.cookie, nil, nil)
			require.Equal(t, tt.status, resp.StatusCode, short(body))
			require.Equal(t, tt.location, resp.Header.Get("Location"))
			for _, want := range tt.body {
				require.Contains(t, body, want)
			}
			if tt.status != http.StatusOK {
				require.Empty(t, authz.Asked(), "the Authorizer is not asked about bad input")
			} else {
				require.NotEmpty(t, authz.Asked())
			}
		})
	}
}

func TestCookieFlags(t *testing.T) {
	tests := []struct {
		name         string
		tls          bool
		secureCookie bool // Options.SecureCookie
		secure       bool
	}{
		{name: "over HTTP the cookie is HttpOnly and SameSite=Strict", tls: false, secure: false},
		{name: "over HTTPS it is Secure too", tls: true, secure: true},
		{name: "over HTTP with SecureCookie (behind a TLS proxy) it is Secure", tls: false, secureCookie: true, secure: true},
		{name: "over HTTPS with SecureCookie it is Secure", tls: true, secureCookie: true, secure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := site(t, tt.tls, dashboard.Options{SecureCookie: tt.secureCookie})
			resp, body := send(t, ts, "POST", "/login", "", url.Values{"token": {tokenReader}}, map[string]string{"Origin": ts.URL})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, short(body))
			c := loginCookie(t, resp)
			require.True(t, c.HttpOnly, "scripts cannot read the token")
			require.Equal(t, http.SameSiteStrictMode, c.SameSite, "other sites never send it")
			require.Equal(t, tt.secure, c.Secure)
			require.Equal(t, "/", c.Path)
			require.Equal(t, 12*60*60, c.MaxAge)

			resp, body = send(t, ts, "GET", "/", c.Value, nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "the cookie signs the browser in")
			require.Contains(t, body, "reader")

			resp, _ = send(t, ts, "POST", "/logout", c.Value, nil, map[string]string{"Origin": ts.URL})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			gone := loginCookie(t, resp)
			require.Empty(t, gone.Value, "signing out clears the cookie")
			require.Equal(t, tt.secure, gone.Secure, "with the same attributes, so the browser replaces it")
			require.True(t, gone.HttpOnly)
		})
	}
}
