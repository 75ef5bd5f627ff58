package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/servertest"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// start runs a server on a free loopback port and returns its base URL.
func start(t *testing.T, b server.Backend, ready func() error) string {
	t.Helper()
	base, _ := startSeen(t, b, ready)
	return base
}

// startSeen is start, with the Authorizer that keeps what it was asked.
func startSeen(t *testing.T, b server.Backend, ready func() error) (string, *servertest.SeenAuthorizer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	tokens := testTokens(t)
	authz := &servertest.SeenAuthorizer{Next: tokens}
	s, err := server.New(server.Options{Addr: "127.0.0.1:0", Backend: b, Authenticator: tokens, Authorizer: authz, Gatherer: reg, Ready: ready})
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, s.Stop(ctx))
	})
	return "http://" + s.Addr(), authz
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	_, err := server.New(server.Options{TLSCertFile: "cert.pem"})
	require.EqualError(t, err, "invalid API server options: a Backend is required\nan Authenticator is required\nan Authorizer is required\n"+
		"a TLS certificate and its key go together: set both or neither")
}

func TestProbesNeedNoToken(t *testing.T) {
	notReady := fmt.Errorf("recovering the runs of the last start")
	base := start(t, newBackend(), func() error { return notReady })
	code, _, body := do(t, base, "", http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, _, body = do(t, base, "", http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "not ready: recovering the runs of the last start\n", body)

	base = start(t, newBackend(), nil)
	code, _, _ = do(t, base, "", http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusOK, code)
}

// TestAuthentication: no token gives 401, a token without the right 403,
// a token with it 2xx; only an allowed request changes anything.
func TestAuthentication(t *testing.T) {
	type call struct{ method, path, body string }
	var (
		listPlans = call{http.MethodGet, "/api/v1/plans", ""}
		getPlan   = call{http.MethodGet, "/api/v1/plans/nightly", ""}
		listRuns  = call{http.MethodGet, "/api/v1/runs?plan=nightly", ""}
		getRun    = call{http.MethodGet, "/api/v1/runs/nightly-20261201-030000", ""}
		getReport = call{http.MethodGet, "/api/v1/runs/nightly-20261201-030000/report/md", ""}
		trigger   = call{http.MethodPost, "/api/v1/runs", `{"plan":"on-demand"}`}
		abort     = call{http.MethodPost, "/api/v1/runs/nightly-20261202-030000/abort", `{"reason":"wrong day"}`}
		metrics   = call{http.MethodGet, "/metrics", ""}
	)
	tests := []struct {
		name    string
		call    call
		token   string
		want    int
		changes []string
	}{
		{name: "listing plans without a token is 401", call: listPlans, want: http.StatusUnauthorized},
		{name: "listing plans with an unknown token is 401", call: listPlans, token: "not-a-token-at-all-0123456789", want: http.StatusUnauthorized},
		{name: "listing plans with a token without rights is 403", call: listPlans, token: tokenNone, want: http.StatusForbidden},
		{name: "listing plans with a trigger-only token is 403", call: listPlans, token: tokenTrigger, want: http.StatusForbidden},
		{name: "listing plans with a read token is 200", call: listPlans, token: tokenRead, want: http.StatusOK},
		{name: "getting a plan with a read token is 200", call: getPlan, token: tokenRead, want: http.StatusOK},
		{name: "getting a plan without a token is 401", call: getPlan, want: http.StatusUnauthorized},
		{name: "listing runs without a token is 401", call: listRuns, want: http.StatusUnauthorized},
		{name: "listing runs with a token without rights is 403", call: listRuns, token: tokenNone, want: http.StatusForbidden},
		{name: "listing runs with a read token is 200", call: listRuns, token: tokenRead, want: http.StatusOK},
		{name: "getting a run with a token without rights is 403", call: getRun, token: tokenNone, want: http.StatusForbidden},
		{name: "getting a run with a read token is 200", call: getRun, token: tokenRead, want: http.StatusOK},
		{name: "getting a report without a token is 401", call: getReport, want: http.StatusUnauthorized},
		{name: "getting a report with a trigger-only token is 403", call: getReport, token: tokenTrigger, want: http.StatusForbidden},
		{name: "getting a report with a read token is 200", call: getReport, token: tokenRead, want: http.StatusOK},
		{name: "triggering without a token is 401 and starts nothing", call: trigger, want: http.StatusUnauthorized},
		{name: "triggering with a token without rights is 403 and starts nothing", call: trigger, token: tokenNone, want: http.StatusForbidden},
		{name: "triggering with a read token is 403 and starts nothing", call: trigger, token: tokenRead, want: http.StatusForbidden},
		{name: "triggering with a trigger token is 201", call: trigger, token: tokenTrigger, want: http.StatusCreated, changes: []string{"/on-demand by trigger"}},
		{name: "aborting with a read token is 403 and aborts nothing", call: abort, token: tokenRead, want: http.StatusForbidden},
		{name: "aborting with a trigger token is 403: aborting is its own right", call: abort, token: tokenTrigger, want: http.StatusForbidden},
		{name: "aborting with an abort token is 202", call: abort, token: tokenAll, want: http.StatusAccepted, changes: []string{"/nightly-20261202-030000: wrong day by admin"}},
		{name: "scraping metrics without a token is 401", call: metrics, want: http.StatusUnauthorized},
		{name: "scraping metrics with a read token is 403", call: metrics, token: tokenRead, want: http.StatusForbidden},
		{name: "scraping metrics with a metrics token is 200", call: metrics, token: tokenAll, want: http.StatusOK},
		{name: "a bad namespace with a token without rights is 400: it never reaches the Authorizer", call: call{http.MethodGet, "/api/v1/plans?namespace=Kube_System", ""}, token: tokenNone, want: http.StatusBadRequest},
		{name: "a bad namespace without a token is 401", call: call{http.MethodGet, "/api/v1/plans?namespace=Kube_System", ""}, want: http.StatusUnauthorized},
		{name: "an unknown API path without a token is 401, not 404", call: call{http.MethodGet, "/api/v1/nothing", ""}, want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			base := start(t, b, nil)
			code, hdr, body := do(t, base, tt.token, tt.call.method, tt.call.path, tt.call.body)
			require.Equal(t, tt.want, code, body)
			require.Equal(t, tt.changes, b.changes())
			if code == http.StatusUnauthorized {
				require.Equal(t, `Bearer realm="firedrill"`, hdr.Get("WWW-Authenticate"))
			}
			if code >= 400 {
				var e struct{ Error server.Error }
				require.NoError(t, json.Unmarshal([]byte(body), &e), body)
				require.Equal(t, code, e.Error.Code)
			}
		})
	}
}

// TestBadInput: bad input is a 400 (or 413, 415) naming the field, and
// changes nothing. The answers are in testdata/bad-input.golden.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name, method, path, body, contentType string
		want                                  int
		field                                 string
		// route: the route refuses it (query, namespace, the path's name)
		// before it asks the Authorizer; an endpoint checks its filters
		// and body after.
		route bool
	}{
		{name: "a verdict that is not one", method: http.MethodGet, path: "/api/v1/runs?verdict=pass", want: 400, field: "verdict"},
		{name: "a phase that is not one", method: http.MethodGet, path: "/api/v1/runs?phase=Done", want: 400, field: "phase"},
		{name: "a limit of zero", method: http.MethodGet, path: "/api/v1/runs?limit=0", want: 400, field: "limit"},
		{name: "a limit that is not a number", method: http.MethodGet, path: "/api/v1/runs?limit=ten", want: 400, field: "limit"},
		{name: "a limit above the maximum", method: http.MethodGet, path: "/api/v1/runs?limit=10001", want: 400, field: "limit"},
		{name: "a plan name that cannot be one", method: http.MethodGet, path: "/api/v1/runs?plan=Nightly_Plan", want: 400, field: "plan"},
		{name: "an empty plan filter", method: http.MethodGet, path: "/api/v1/runs?plan=", want: 400, field: "plan"},
		{name: "an unknown query parameter", method: http.MethodGet, path: "/api/v1/runs?verdcit=Pass", want: 400, route: true, field: "verdcit"},
		{name: "a query parameter given twice", method: http.MethodGet, path: "/api/v1/runs?verdict=Pass&verdict=Fail", want: 400, route: true, field: "verdict"},
		{name: "a query parameter on an endpoint that takes none", method: http.MethodGet, path: "/api/v1/plans?plan=x", want: 400, route: true, field: "plan"},
		{name: "a namespace that cannot be one", method: http.MethodGet, path: "/api/v1/plans?namespace=Team_A", want: 400, route: true, field: "namespace"},
		{name: "a namespace with a dot: a subdomain, not a label", method: http.MethodGet, path: "/api/v1/runs?namespace=team.a", want: 400, route: true, field: "namespace"},
		{name: "a namespace of 64 characters", method: http.MethodGet, path: "/api/v1/runs?namespace=" + strings.Repeat("a", 64), want: 400, route: true, field: "namespace"},
		{name: "a namespace with a path in it, on a plan", method: http.MethodGet, path: "/api/v1/plans/nightly?namespace=..%2Fkube-system", want: 400, route: true, field: "namespace"},
		{name: "a bad namespace on a run", method: http.MethodGet, path: "/api/v1/runs/nightly-20261201-030000?namespace=-a", want: 400, route: true, field: "namespace"},
		{name: "a bad namespace on a report", method: http.MethodGet, path: "/api/v1/runs/nightly-20261201-030000/report/md?namespace=A", want: 400, route: true, field: "namespace"},
		{name: "a bad namespace on a trigger", method: http.MethodPost, path: "/api/v1/runs?namespace=a%20b", body: `{"plan": "nightly"}`, want: 400, route: true, field: "namespace"},
		{name: "a bad namespace on an abort", method: http.MethodPost, path: "/api/v1/runs/nightly-20261202-030000/abort?namespace=a_b", want: 400, route: true, field: "namespace"},
		{name: "a plan name that cannot be one, on a plan", method: http.MethodGet, path: "/api/v1/plans/Nightly", want: 400, route: true, field: "plan"},
		{name: "a run id that cannot be one, on an abort", method: http.MethodPost, path: "/api/v1/runs/Run_1/abort", want: 400, route: true, field: "run"},
		{name: "a run id that cannot be one, on a report", method: http.MethodGet, path: "/api/v1/runs/Run_1/report/md", want: 400, route: true, field: "run"},
		{name: "a broken query string", method: http.MethodGet, path: "/api/v1/runs?plan=%zz", want: 400, route: true, field: "query"},
		{name: "a run id that cannot be one", method: http.MethodGet, path: "/api/v1/runs/Run_1", want: 400, route: true, field: "run"},
		{name: "a report format that is not one", method: http.MethodGet, path: "/api/v1/runs/nightly-20261201-030000/report/pdf", want: 400, field: "format"},
		{name: "a trigger without a body", method: http.MethodPost, path: "/api/v1/runs", want: 400, field: "plan"},
		{name: "a trigger without a plan", method: http.MethodPost, path: "/api/v1/runs", body: `{}`, want: 400, field: "plan"},
		{name: "a trigger with a plan that is a number", method: http.MethodPost, path: "/api/v1/runs", body: `{"plan": 7}`, want: 400, field: "plan"},
		{name: "a trigger with a plan name that cannot be one", method: http.MethodPost, path: "/api/v1/runs", body: `{"plan": "../etc"}`, want: 400, field: "plan"},
		{name: "a trigger with an unknown field", method: http.MethodPost, path: "/api/v1/runs", body: `{"plan": "nightly", "force": true}`, want: 400, field: "force"},
		{name: "a trigger body that is not JSON", method: http.MethodPost, path: "/api/v1/runs", body: `plan=nightly`, want: 400, field: "body"},
		{name: "a trigger body that is cut short", method: http.MethodPost, path: "/api/v1/runs", body: `{"plan": "nightly"`, want: 400, field: "body"},
		{name: "a trigger body that is a list", method: http.MethodPost, path: "/api/v1/runs", body: `["nightly"]`, want: 400, field: "body"},
		{name: "a trigger body with trailing data", method: http.MethodPost, path: "/api/v1/runs", body: `{"plan": "nightly"} {"plan": "nightly"}`, want: 400, field: "body"},
		{name: "a trigger body that is not JSON by its type", method: http.MethodPost, path: "/api/v1/runs", body: `plan: nightly`, contentType: "application/yaml", want: 415},
		{name: "a trigger body over 64 KiB", method: http.MethodPost, path: "/api/v1/runs", body: `{"plan": "` + strings.Repeat("a", 70<<10) + `"}`, want: 413},
		{name: "an abort reason over 1 KiB", method: http.MethodPost, path: "/api/v1/runs/nightly-20261202-030000/abort", body: `{"reason": "` + strings.Repeat("x", 1025) + `"}`, want: 400, field: "reason"},
		{name: "an abort reason of two lines", method: http.MethodPost, path: "/api/v1/runs/nightly-20261202-030000/abort", body: `{"reason": "one\ntwo"}`, want: 400, field: "reason"},
		{name: "an abort reason that is not text", method: http.MethodPost, path: "/api/v1/runs/nightly-20261202-030000/abort", body: `{"reason": ["x"]}`, want: 400, field: "reason"},
	}
	var transcript bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			base, authz := startSeen(t, b, nil)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, base+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tokenAll)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			var e struct{ Error server.Error }
			require.NoError(t, json.Unmarshal(raw, &e))
			require.Equal(t, tt.want, resp.StatusCode, e.Error.Message)
			require.Equal(t, tt.field, e.Error.Field, e.Error.Message)
			require.Empty(t, b.changes(), "bad input changes nothing")
			require.Empty(t, b.filters, "bad input reaches no backend")
			for _, a := range authz.Asked() {
				require.NoError(t, server.CheckNamespace(a.Namespace), "the Authorizer is never asked about a bad namespace")
				if a.Name != "" {
					require.NoError(t, server.CheckName("name", a.Name), "the Authorizer is never asked about a bad name")
				}
			}
			if tt.route {
				require.Empty(t, authz.Asked(), "a bad namespace, name or query is refused before the Authorizer is asked")
			}
			path := tt.path
			if len(path) > 100 {
				path = path[:100] + "..."
			}
			fmt.Fprintf(&transcript, "# %s\n%s %s\n%d %s\n", tt.name, tt.method, path, resp.StatusCode, raw)
		})
	}
	golden.Assert(t, filepath.Join("testdata", "bad-input.golden"), transcript.Bytes())
}

// TestAPI walks the API with a token that may do everything; the answers
// people read are in testdata/api.golden.
func TestAPI(t *testing.T) {
	b := newBackend()
	base := start(t, b, nil)
	var transcript bytes.Buffer
	step := func(method, path, body string, want int) (http.Header, string) {
		t.Helper()
		code, hdr, got := do(t, base, tokenAll, method, path, body)
		require.Equal(t, want, code, got)
		var pretty bytes.Buffer
		if json.Indent(&pretty, []byte(got), "", "  ") != nil {
			pretty.Reset()
			pretty.WriteString(got)
		}
		fmt.Fprintf(&transcript, "# %s %s %s\n%d %s\n%s\n", method, path, body, code, hdr.Get("Content-Type"), strings.TrimSpace(pretty.String()))
		return hdr, got
	}
	step(http.MethodGet, "/api/v1/plans", "", 200)
	step(http.MethodGet, "/api/v1/plans/nightly", "", 200)
	step(http.MethodGet, "/api/v1/plans/weekly", "", 404)
	step(http.MethodGet, "/api/v1/runs?plan=nightly&verdict=Pass&limit=5", "", 200)
	require.Equal(t, server.RunFilter{Plan: "nightly", Verdict: "Pass", Limit: 5}, b.filters[len(b.filters)-1])
	step(http.MethodGet, "/api/v1/runs?phase=Failed", "", 200)
	step(http.MethodGet, "/api/v1/runs/nightly-20261201-030000/report/md", "", 200)
	step(http.MethodGet, "/api/v1/runs/nightly-20261201-030000/report/junit", "", 404)
	step(http.MethodGet, "/api/v1/runs/nightly-20991201-030000", "", 404)
	step(http.MethodPost, "/api/v1/runs", `{"plan":"weekly"}`, 404)
	step(http.MethodPost, "/api/v1/runs", `{"plan":"nightly"}`, 409)
	hdr, _ := step(http.MethodPost, "/api/v1/runs", `{"plan":"on-demand"}`, 201)
	require.Equal(t, "/api/v1/runs/on-demand-new", hdr.Get("Location"))
	step(http.MethodPost, "/api/v1/runs/nightly-20261201-030000/abort", "", 409)
	step(http.MethodPost, "/api/v1/runs/nightly-20261202-030000/abort", "", 202)
	hdr, _ = step(http.MethodDelete, "/api/v1/runs/nightly-20261202-030000", "", 405)
	require.Equal(t, "GET, HEAD", hdr.Get("Allow"))
	step(http.MethodGet, "/api/v1/runs/nightly-20261202-030000/abort", "", 405)
	step(http.MethodGet, "/api/v2/plans", "", 404)
	require.Equal(t, []string{"/on-demand by admin", "/nightly-20261202-030000:  by admin"}, b.changes())
	golden.Assert(t, filepath.Join("testdata", "api.golden"), transcript.Bytes())

	code, _, body := do(t, base, tokenRead, http.MethodPost, "/api/v1/runs", `{"plan":"on-demand"}`)
	require.Equal(t, http.StatusForbidden, code)
	require.JSONEq(t, `{"error": {"code": 403, "reason": "Forbidden",
		"message": "user \"reader\" may not create drillruns: it needs the right trigger; the token file gives this user read"}}`, body)

	code, hdr, body = do(t, base, tokenAll, http.MethodHead, "/api/v1/runs/nightly-20261201-030000/report/json", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
	require.Empty(t, body)
}

// TestRunDetail: a run comes with its report, and its report links point
// at the API.
func TestRunDetail(t *testing.T) {
	base := start(t, newBackend(), nil)
	_, _, body := do(t, base, tokenRead, http.MethodGet, "/api/v1/runs/nightly-20261201-030000", "")
	var got server.RunDetail
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, "nightly-20261201-030000", got.ID)
	require.NotNil(t, got.Report)
	require.Equal(t, "nightly", got.Report.Plan.Name)
	require.Equal(t, map[string]string{
		"json": "/api/v1/runs/nightly-20261201-030000/report/json",
		"md":   "/api/v1/runs/nightly-20261201-030000/report/md",
	}, got.Reports)
	code, _, md := do(t, base, tokenRead, http.MethodGet, got.Reports["md"], "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "# nightly\n", md)
}

// TestStopEndsRequestsInFlight: Stop waits for a request in flight and
// then the port is closed.
func TestStopEndsRequestsInFlight(t *testing.T) {
	tokens := testTokens(t)
	s, err := server.New(server.Options{Addr: "127.0.0.1:0", Backend: newBackend(), Authenticator: tokens, Authorizer: tokens})
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	base := "http://" + s.Addr()
	code, _, _ := do(t, base, tokenRead, http.MethodGet, "/api/v1/plans", "")
	require.Equal(t, http.StatusOK, code)
	code, _, _ = do(t, base, tokenAll, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusNotFound, code, "no Gatherer, no /metrics")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	_, err = http.Get(base + "/healthz") //nolint:noctx // a closed port.
	require.Error(t, err)
}

// TestTLS: with a certificate the API speaks HTTPS only.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drill serve"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))

	tokens := testTokens(t)
	s, err := server.New(server.Options{Addr: "127.0.0.1:0", Backend: newBackend(), Authenticator: tokens, Authorizer: tokens,
		TLSCertFile: certFile, TLSKeyFile: keyFile})
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+s.Addr()+"/api/v1/plans", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokenRead)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	plain, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+s.Addr()+"/healthz", nil)
	require.NoError(t, err)
	if resp, err := http.DefaultClient.Do(plain); err == nil {
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP gets no answer but TLS's")
	}

	bad, err := server.New(server.Options{Addr: "127.0.0.1:0", Backend: newBackend(), Authenticator: tokens, Authorizer: tokens,
		TLSCertFile: certFile, TLSKeyFile: filepath.Join(dir, "missing.key")})
	require.NoError(t, err)
	require.ErrorContains(t, bad.Start(t.Context()), "loading the TLS certificate")
}
