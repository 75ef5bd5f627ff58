package kubeauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/server"
)

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Defaults of AuthorizerOptions, as kube-rbac-proxy's delegating
// authorizer caches.
const (
	DefaultAllowCacheTTL = 5 * time.Minute
	DefaultDenyCacheTTL  = 30 * time.Second
)

// AccessReviewer creates SubjectAccessReviews
// (clientset.AuthorizationV1().SubjectAccessReviews()).
type AccessReviewer interface {
	Create(ctx context.Context, review *authorizationv1.SubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error)
}

// AuthorizerOptions configure an Authorizer.
type AuthorizerOptions struct {
	// Reviews checks access. Required.
	Reviews AccessReviewer
	// AllowCacheTTL is how long an allowed request is remembered; zero
	// means DefaultAllowCacheTTL, negative disables.
	AllowCacheTTL time.Duration
	// DenyCacheTTL is how long a denied request is remembered; zero means
	// DefaultDenyCacheTTL, negative disables.
	DenyCacheTTL time.Duration
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
}

// Authorizer is a server.Authorizer by SubjectAccessReview against the
// firedrill.dev resources.
type Authorizer struct {
	opts  AuthorizerOptions
	cache *ttlCache[accessAnswer]
}

var _ server.Authorizer = (*Authorizer)(nil)

type accessAnswer struct {
	allowed bool
	reason  string
}

// NewAuthorizer returns an Authorizer.
func NewAuthorizer(opts AuthorizerOptions) (*Authorizer, error) {
	if opts.Reviews == nil {
		return nil, errors.New("kubeauth: a SubjectAccessReview client is required")
	}
	if opts.AllowCacheTTL == 0 {
		opts.AllowCacheTTL = DefaultAllowCacheTTL
	}
	if opts.DenyCacheTTL == 0 {
		opts.DenyCacheTTL = DefaultDenyCacheTTL
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Authorizer{opts: opts, cache: newTTLCache[accessAnswer](opts.Clock, defaultMaxEntries)}, nil
}

// Authorize implements server.Authorizer: whether the API server's
// authorizers (RBAC) allow u to do a on firedrill.dev's resources. An
// empty namespace asks for every namespace.
func (z *Authorizer) Authorize(ctx context.Context, u server.User, a server.Attributes) (bool, string, error) {
	key := strings.Join([]string{u.Name, strings.Join(u.Groups, ","), a.Verb, a.Resource, a.Namespace, a.Name}, "\x00")
	if ans, ok := z.cache.get(key); ok {
		return ans.allowed, ans.reason, nil
	}
	sar, err := z.opts.Reviews.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: u.Name, Groups: u.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version,
			Resource: a.Resource, Verb: a.Verb, Namespace: a.Namespace, Name: a.Name,
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("reviewing access of %s to %s %s: %w", u.Name, a.Verb, a.Resource, err)
	}
	ans := accessAnswer{allowed: sar.Status.Allowed && !sar.Status.Denied, reason: sar.Status.Reason}
	if !ans.allowed {
		ans.reason = denial(u, a, sar.Status.Reason)
	}
	ttl := z.opts.AllowCacheTTL
	if !ans.allowed {
		ttl = z.opts.DenyCacheTTL
	}
	z.cache.put(key, ans, ttl)
	return ans.allowed, ans.reason, nil
}

// denial says what was refused, as kubectl's Forbidden does.
func denial(u server.User, a server.Attributes, why string) string {
	where := "at the cluster scope"
	if a.Namespace != "" {
		where = "in the namespace " + a.Namespace
	}
	what := a.Resource
	if a.Name != "" {
		what += " " + a.Name
	}
	msg := fmt.Sprintf("user %q cannot %s %s.%s %s", u.Name, a.Verb, what, v1alpha1.GroupVersion.Group, where)
	if why != "" {
		msg += ": " + why
	}
	return msg
}
