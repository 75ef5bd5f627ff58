package tokenfile_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/tokenfile"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

const secret = "s3cr3t-value-that-must-never-print"

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestParseProblems: every problem of a file at once, as
// file:line:column: field: message, none of them quoting a token. The
// messages are in testdata/problems.golden.
func TestParseProblems(t *testing.T) {
	tests := []struct{ name, content string }{
		{"an empty file", ""},
		{"a file that is a list", "- user: a\n"},
		{"no tokens key", "users: []\n"},
		{"tokens that are not a list", "tokens: {user: a}\n"},
		{"a file that is not YAML", "tokens: [\n"},
		{"two documents", "tokens: []\n---\ntokens: []\n"},
		{"an entry with everything wrong", `tokens:
  - user: ""
    token: short
    sha256: abc
    rights: [read, wrte, read]
    expires: never
`},
		{"an entry without token or rights", "tokens:\n  - user: ci\n"},
		{"a token that is a number and a sha256 that is not hex", `tokens:
  - {user: a, token: 123456789012345678901234567890, rights: []}
  - {user: b, sha256: ` + strings.Repeat("z", 64) + `, rights: []}
`},
		{"a user twice and a token twice", `tokens:
  - {user: a, token: ` + secret + `, rights: [read]}
  - {user: a, token: other-token-0123456789, rights: [read]}
  - {user: b, sha256: ` + sum(secret) + `, rights: [read]}
`},
		{"rights that are not a list", "tokens:\n  - {user: a, token: " + secret + ", rights: read}\n"},
	}
	var transcript bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenfile.Parse("tokens.yaml", []byte(tt.content))
			require.Error(t, err)
			require.NotContains(t, err.Error(), secret, "a problem never quotes a token")
			fmt.Fprintf(&transcript, "# %s\n%s\n\n", tt.name, err)
		})
	}
	golden.Assert(t, filepath.Join("testdata", "problems.golden"), transcript.Bytes())
}

func TestAuthenticate(t *testing.T) {
	f, err := tokenfile.Parse("tokens.yaml", []byte(`tokens:
  - {user: alice, token: `+secret+`, rights: [read]}
  - {user: prometheus, sha256: `+sum("scrape-token-0123456789")+`, rights: [metrics]}
`))
	require.NoError(t, err)
	tests := []struct {
		name, header, user, err string
	}{
		{name: "a token in the clear authenticates its user", header: "Bearer " + secret, user: "alice"},
		{name: "a token held as a digest authenticates its user", header: "Bearer scrape-token-0123456789", user: "prometheus"},
		{name: "the scheme is case-insensitive", header: "bearer " + secret, user: "alice"},
		{name: "no header is unauthenticated", err: "unauthenticated: send the header Authorization: Bearer TOKEN"},
		{name: "basic auth is unauthenticated", header: "Basic YWxpY2U6cHc=", err: "unauthenticated: the Authorization header is not a bearer token"},
		{name: "an empty bearer token is unauthenticated", header: "Bearer ", err: "unauthenticated: the Authorization header is not a bearer token"},
		{name: "a token one character short is unauthenticated", header: "Bearer " + secret[:len(secret)-1], err: "unauthenticated: the bearer token is not valid"},
		{name: "a digest is not a token", header: "Bearer " + sum("scrape-token-0123456789"), err: "unauthenticated: the bearer token is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/plans", nil)
			require.NoError(t, err)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			u, err := f.Authenticate(t.Context(), r)
			if tt.err != "" {
				require.ErrorIs(t, err, server.ErrUnauthenticated)
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, server.User{Name: tt.user}, u)
		})
	}
}

func TestAuthorize(t *testing.T) {
	f, err := tokenfile.Parse("tokens.yaml", []byte(`tokens:
  - {user: reader, token: reader-token-0123456789, rights: [read]}
  - {user: operator, token: operator-token-0123456789, rights: [read, trigger, abort]}
  - {user: scraper, token: scraper-token-0123456789, rights: [metrics]}
  - {user: nobody, token: nobody-token-0123456789, rights: []}
`))
	require.NoError(t, err)
	var (
		listPlans = server.Attributes{Verb: server.VerbList, Resource: server.ResourcePlans}
		getRun    = server.Attributes{Verb: server.VerbGet, Resource: server.ResourceRuns, Name: "r"}
		trigger   = server.Attributes{Verb: server.VerbCreate, Resource: server.ResourceRuns}
		abort     = server.Attributes{Verb: server.VerbUpdate, Resource: server.ResourceRuns, Name: "r"}
		metrics   = server.Attributes{Verb: server.VerbGet, Path: server.PathMetrics}
	)
	tests := []struct {
		name   string
		user   string
		a      server.Attributes
		want   bool
		reason string
	}{
		{name: "read lists plans", user: "reader", a: listPlans, want: true},
		{name: "read gets runs", user: "reader", a: getRun, want: true},
		{name: "read does not trigger", user: "reader", a: trigger, reason: "it needs the right trigger; the token file gives this user read"},
		{name: "read does not abort", user: "reader", a: abort, reason: "it needs the right abort; the token file gives this user read"},
		{name: "read does not scrape metrics", user: "reader", a: metrics, reason: "it needs the right metrics; the token file gives this user read"},
		{name: "trigger triggers", user: "operator", a: trigger, want: true},
		{name: "abort aborts", user: "operator", a: abort, want: true},
		{name: "metrics scrapes", user: "scraper", a: metrics, want: true},
		{name: "metrics does not read", user: "scraper", a: listPlans, reason: "it needs the right read; the token file gives this user metrics"},
		{name: "no rights allow nothing", user: "nobody", a: listPlans, reason: "it needs the right read; the token file gives this user none"},
		{name: "a user not in the file may do nothing", user: "mallory", a: listPlans, reason: "the user is not in the token file"},
		{name: "creating a plan is no right of a token file", user: "operator", a: server.Attributes{Verb: server.VerbCreate, Resource: server.ResourcePlans},
			reason: "no right of a token file allows it"},
		{name: "another path is no right of a token file", user: "scraper", a: server.Attributes{Verb: server.VerbGet, Path: "/debug/pprof"},
			reason: "no right of a token file allows it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason, err := f.Authorize(t.Context(), server.User{Name: tt.user}, tt.a)
			require.NoError(t, err)
			require.Equal(t, tt.want, ok)
			require.Equal(t, tt.reason, reason)
		})
	}
}

func TestLoadRefusesTokensOpenToOthers(t *testing.T) {
	dir := t.TempDir()
	clear := filepath.Join(dir, "clear.yaml")
	require.NoError(t, os.WriteFile(clear, []byte("tokens:\n  - {user: a, token: "+secret+", rights: [read]}\n"), 0o644))
	_, err := tokenfile.Load(clear)
	require.EqualError(t, err, "the token file "+clear+" holds tokens in the clear and is open to other users (mode 0644): chmod 600 "+clear+", or keep only sha256 digests in it")

	require.NoError(t, os.Chmod(clear, 0o600))
	f, err := tokenfile.Load(clear)
	require.NoError(t, err)
	require.NotNil(t, f)

	digests := filepath.Join(dir, "digests.yaml")
	require.NoError(t, os.WriteFile(digests, []byte("tokens:\n  - {user: a, sha256: "+sum(secret)+", rights: [read]}\n"), 0o644))
	_, err = tokenfile.Load(digests)
	require.NoError(t, err, "a file of digests holds no secret")

	_, err = tokenfile.Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestEnsureToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve", "token")
	first, err := tokenfile.EnsureToken(path)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(first.Reveal()), 40)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := tokenfile.EnsureToken(path)
	require.NoError(t, err)
	require.Equal(t, first.Reveal(), again.Reveal(), "the token survives a restart")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = tokenfile.EnsureToken(path)
	require.ErrorContains(t, err, "is open to other users (mode 0644)")

	require.NoError(t, os.WriteFile(path, []byte("short\n"), 0o600))
	require.NoError(t, os.Chmod(path, 0o600))
	_, err = tokenfile.EnsureToken(path)
	require.ErrorContains(t, err, "does not hold one token of at least 16 characters")
}

// TestTokenNeverPrints: no formatting path shows a token.
func TestTokenNeverPrints(t *testing.T) {
	tok := tokenfile.NewToken()
	require.NotEqual(t, tokenfile.NewToken().Reveal(), tok.Reveal(), "tokens are random")
	entry := tokenfile.Entry{User: "local", Token: tok, Rights: tokenfile.Rights}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("token", "token", tok, "entry", entry)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("token", "token", tok)
	js, err := json.Marshal(entry)
	require.NoError(t, err)
	for _, out := range []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x %d", tok, tok, tok, tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", entry, entry, entry), string(js), logged.String(),
	} {
		require.NotContains(t, out, tok.Reveal())
		require.Contains(t, out, "redacted")
	}
}

func TestNewRefusesWeakOrSharedTokens(t *testing.T) {
	_, err := tokenfile.New(tokenfile.Entry{User: "a"})
	require.EqualError(t, err, `token of user "a": at least 16 characters`)
	tok := tokenfile.NewToken()
	_, err = tokenfile.New(tokenfile.Entry{User: "a", Token: tok}, tokenfile.Entry{User: "a", Token: tokenfile.NewToken()})
	require.EqualError(t, err, `user "a" has two tokens`)
	f, err := tokenfile.New(tokenfile.Entry{User: "local", Token: tok, Rights: tokenfile.Rights})
	require.NoError(t, err)
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
	require.NoError(t, err)
	r.Header.Set("Authorization", "Bearer "+tok.Reveal())
	u, err := f.Authenticate(t.Context(), r)
	require.NoError(t, err)
	require.Equal(t, "local", u.Name)
}
