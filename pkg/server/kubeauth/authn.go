package kubeauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/server"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create

// Defaults of AuthenticatorOptions, as the API server's webhook token
// authenticator caches.
const (
	DefaultTokenCacheTTL        = 2 * time.Minute
	DefaultTokenFailureCacheTTL = 10 * time.Second
	defaultMaxEntries           = 4096
)

// TokenReviewer creates TokenReviews
// (clientset.AuthenticationV1().TokenReviews()).
type TokenReviewer interface {
	Create(ctx context.Context, review *authenticationv1.TokenReview, opts metav1.CreateOptions) (*authenticationv1.TokenReview, error)
}

// AuthenticatorOptions configure an Authenticator.
type AuthenticatorOptions struct {
	// Reviews checks tokens. Required.
	Reviews TokenReviewer
	// Audiences, when set, are the audiences a token must be valid for
	// (kube-rbac-proxy's --auth-token-audiences); empty accepts the API
	// server's own.
	Audiences []string
	// CacheTTL is how long an accepted token is remembered; zero means
	// DefaultTokenCacheTTL, negative disables.
	CacheTTL time.Duration
	// FailureCacheTTL is how long a refused token is remembered; zero
	// means DefaultTokenFailureCacheTTL, negative disables.
	FailureCacheTTL time.Duration
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
}

// Authenticator is a server.Authenticator by TokenReview.
type Authenticator struct {
	opts  AuthenticatorOptions
	cache *ttlCache[tokenAnswer]
}

var _ server.Authenticator = (*Authenticator)(nil)

type tokenAnswer struct {
	user   server.User
	reason string
	ok     bool
}

// NewAuthenticator returns an Authenticator.
func NewAuthenticator(opts AuthenticatorOptions) (*Authenticator, error) {
	if opts.Reviews == nil {
		return nil, errors.New("kubeauth: a TokenReview client is required")
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultTokenCacheTTL
	}
	if opts.FailureCacheTTL == 0 {
		opts.FailureCacheTTL = DefaultTokenFailureCacheTTL
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Authenticator{opts: opts, cache: newTTLCache[tokenAnswer](opts.Clock, defaultMaxEntries)}, nil
}

// Authenticate implements server.Authenticator: the bearer token of the
// Authorization header, reviewed by the API server. No token, or one the
// API server refuses, is server.ErrUnauthenticated; failing to ask is
// another error.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (server.User, error) {
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return server.User{}, fmt.Errorf("%w: no bearer token", server.ErrUnauthenticated)
	}
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	ans, hit := a.cache.get(key)
	if !hit {
		var err error
		if ans, err = a.review(ctx, token); err != nil {
			return server.User{}, err
		}
		ttl := a.opts.CacheTTL
		if !ans.ok {
			ttl = a.opts.FailureCacheTTL
		}
		a.cache.put(key, ans, ttl)
	}
	if !ans.ok {
		return server.User{}, fmt.Errorf("%w: %s", server.ErrUnauthenticated, ans.reason)
	}
	return ans.user, nil
}

func (a *Authenticator) review(ctx context.Context, token string) (tokenAnswer, error) {
	tr, err := a.opts.Reviews.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: a.opts.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return tokenAnswer{}, fmt.Errorf("reviewing a bearer token: %w", err)
	}
	st := tr.Status
	switch {
	case !st.Authenticated:
		reason := st.Error
		if reason == "" {
			reason = "the token is not valid"
		}
		return tokenAnswer{reason: reason}, nil
	case len(a.opts.Audiences) > 0 && !slices.ContainsFunc(st.Audiences, func(aud string) bool { return slices.Contains(a.opts.Audiences, aud) }):
		return tokenAnswer{reason: "the token is not valid for audiences " + strings.Join(a.opts.Audiences, ", ")}, nil
	}
	return tokenAnswer{ok: true, user: server.User{Name: st.User.Username, Groups: st.User.Groups}}, nil
}

// bearer reads "Bearer TOKEN" (the scheme in any case).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", false
	}
	return token, true
}
