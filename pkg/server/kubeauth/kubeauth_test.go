package kubeauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/server"
)

// tokens is a TokenReviewer with a fixed set of valid tokens; it counts
// the reviews.
type tokens struct {
	valid   map[string]authenticationv1.UserInfo
	reviews int
	err     error
}

func (f *tokens) Create(_ context.Context, tr *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	f.reviews++
	if f.err != nil {
		return nil, f.err
	}
	out := tr.DeepCopy()
	if u, ok := f.valid[tr.Spec.Token]; ok {
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: u, Audiences: []string{"https://kubernetes.default.svc"}}
	} else {
		out.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
	}
	return out, nil
}

func request(header string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/runs", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	alice := authenticationv1.UserInfo{Username: "system:serviceaccount:recsys:alice", Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	tests := []struct {
		name    string
		header  string
		want    server.User
		wantErr string
	}{
		{name: "a valid bearer token is the token's user", header: "Bearer good",
			want: server.User{Name: alice.Username, Groups: alice.Groups}},
		{name: "the scheme is read in any case", header: "bearer good", want: server.User{Name: alice.Username, Groups: alice.Groups}},
		{name: "no header is unauthenticated", wantErr: "no bearer token"},
		{name: "another scheme is unauthenticated", header: "Basic YWxpY2U6cHc=", wantErr: "no bearer token"},
		{name: "an empty token is unauthenticated", header: "Bearer ", wantErr: "no bearer token"},
		{name: "a token the API server refuses is unauthenticated", header: "Bearer forged", wantErr: "invalid bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAuthenticator(AuthenticatorOptions{Reviews: &tokens{valid: map[string]authenticationv1.UserInfo{"good": alice}}})
			require.NoError(t, err)
			u, err := a.Authenticate(t.Context(), request(tt.header))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, server.ErrUnauthenticated)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, u)
		})
	}
}

func TestAuthenticationIsCached(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	rev := &tokens{valid: map[string]authenticationv1.UserInfo{"good": {Username: "alice"}}}
	a, err := NewAuthenticator(AuthenticatorOptions{Reviews: rev, Clock: clk})
	require.NoError(t, err)
	ctx := t.Context()
	for range 3 {
		_, err := a.Authenticate(ctx, request("Bearer good"))
		require.NoError(t, err)
		_, err = a.Authenticate(ctx, request("Bearer bad"))
		require.ErrorIs(t, err, server.ErrUnauthenticated)
	}
	require.Equal(t, 2, rev.reviews, "each token is reviewed once while cached")

	clk.Step(DefaultTokenFailureCacheTTL)
	_, _ = a.Authenticate(ctx, request("Bearer good"))
	_, _ = a.Authenticate(ctx, request("Bearer bad"))
	require.Equal(t, 3, rev.reviews, "a refusal is remembered for less time than an acceptance")
	clk.Step(DefaultTokenCacheTTL)
	_, _ = a.Authenticate(ctx, request("Bearer good"))
	require.Equal(t, 4, rev.reviews)

	// Failing to ask is an error, not a refusal, and is not remembered.
	rev.err = errors.New("connection refused")
	_, err = a.Authenticate(ctx, request("Bearer other"))
	require.ErrorContains(t, err, "connection refused")
	require.NotErrorIs(t, err, server.ErrUnauthenticated)
	rev.err = nil
	_, err = a.Authenticate(ctx, request("Bearer other"))
	require.ErrorIs(t, err, server.ErrUnauthenticated)
}

func TestAudiences(t *testing.T) {
	rev := &tokens{valid: map[string]authenticationv1.UserInfo{"good": {Username: "alice"}}}
	a, err := NewAuthenticator(AuthenticatorOptions{Reviews: rev, Audiences: []string{"firedrill"}})
	require.NoError(t, err)
	_, err = a.Authenticate(t.Context(), request("Bearer good"))
	require.ErrorIs(t, err, server.ErrUnauthenticated)
	require.ErrorContains(t, err, "not valid for audiences firedrill")
}

// access is an AccessReviewer that allows what rules name.
type access struct {
	allow   map[string]bool // user/verb/resource/namespace
	reviews []authorizationv1.SubjectAccessReviewSpec
}

func (f *access) Create(_ context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	f.reviews = append(f.reviews, sar.Spec)
	ra := sar.Spec.ResourceAttributes
	out := sar.DeepCopy()
	out.Status.Allowed = f.allow[sar.Spec.User+"/"+ra.Verb+"/"+ra.Resource+"/"+ra.Namespace]
	if !out.Status.Allowed {
		out.Status.Reason = "no RBAC policy matched"
	}
	return out, nil
}

func TestAuthorize(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	rev := &access{allow: map[string]bool{"alice/list/drillruns/recsys": true}}
	z, err := NewAuthorizer(AuthorizerOptions{Reviews: rev, Clock: clk})
	require.NoError(t, err)
	alice := server.User{Name: "alice", Groups: []string{"sre"}}
	ctx := t.Context()

	ok, _, err := z.Authorize(ctx, alice, server.Attributes{Verb: server.VerbList, Resource: server.ResourceRuns, Namespace: "recsys"})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, authorizationv1.SubjectAccessReviewSpec{User: "alice", Groups: []string{"sre"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "firedrill.dev", Version: "v1alpha1", Resource: "drillruns", Verb: "list", Namespace: "recsys"}},
		rev.reviews[0])

	ok, reason, err := z.Authorize(ctx, alice, server.Attributes{Verb: server.VerbCreate, Resource: server.ResourceRuns, Namespace: "recsys", Name: "nightly"})
	require.NoError(t, err)
	require.False(t, ok, "reading does not grant triggering")
	require.Equal(t, `user "alice" cannot create drillruns nightly.firedrill.dev in the namespace recsys: no RBAC policy matched`, reason)

	for range 3 {
		_, _, _ = z.Authorize(ctx, alice, server.Attributes{Verb: server.VerbList, Resource: server.ResourceRuns, Namespace: "recsys"})
	}
	require.Len(t, rev.reviews, 2, "answers are cached")
	clk.Step(DefaultDenyCacheTTL)
	_, _, _ = z.Authorize(ctx, alice, server.Attributes{Verb: server.VerbCreate, Resource: server.ResourceRuns, Namespace: "recsys", Name: "nightly"})
	_, _, _ = z.Authorize(ctx, alice, server.Attributes{Verb: server.VerbList, Resource: server.ResourceRuns, Namespace: "recsys"})
	require.Len(t, rev.reviews, 3, "a denial is asked again sooner than an allowance")
}

func TestTheCacheStaysBounded(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := newTTLCache[int](clk, 10)
	for i := range 100 {
		c.put(string(rune('a'+i)), i, time.Minute)
		require.LessOrEqual(t, len(c.entries), 10)
	}
	_, ok := c.get(string(rune('a' + 99)))
	require.True(t, ok, "the newest entry is kept")
}
