package servertest

import (
	"context"
	"slices"
	"sync"

	"github.com/firedrill/firedrill/pkg/server"
)

// SeenAuthorizer is a server.Authorizer that keeps every Attributes it is
// asked about and answers as Next does.
type SeenAuthorizer struct {
	// Next answers. Required.
	Next server.Authorizer

	mu   sync.Mutex
	seen []server.Attributes
}

var _ server.Authorizer = (*SeenAuthorizer)(nil)

// Authorize implements server.Authorizer.
func (a *SeenAuthorizer) Authorize(ctx context.Context, u server.User, attrs server.Attributes) (bool, string, error) {
	a.mu.Lock()
	a.seen = append(a.seen, attrs)
	a.mu.Unlock()
	return a.Next.Authorize(ctx, u, attrs)
}

// Asked returns what the Authorizer was asked, in order.
func (a *SeenAuthorizer) Asked() []server.Attributes {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.seen)
}
