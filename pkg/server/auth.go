package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/firedrill/firedrill/pkg/log"
)

type userKey struct{}

// UserFrom returns the user a request was authenticated as.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// authenticate answers 401 to a request without a valid credential and
// passes the others on with their user in the context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.opts.Authenticator.Authenticate(r.Context(), r)
		switch {
		case errors.Is(err, ErrUnauthenticated):
			log.FromContext(r.Context()).Debug("request refused: unauthenticated", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="firedrill"`)
			writeError(w, r, newError(http.StatusUnauthorized, "%s", err))
			return
		case err != nil:
			log.FromContext(r.Context()).Error("authenticating a request", "path", r.URL.Path, "err", err)
			writeError(w, r, newError(http.StatusInternalServerError, "authentication failed; the drill serve log says why"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// authorize answers 403 when the request's user may not do a, and says
// whether the request may go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, a Attributes) bool {
	u, _ := UserFrom(r.Context())
	ok, reason, err := s.opts.Authorizer.Authorize(r.Context(), u, a)
	if err != nil {
		log.FromContext(r.Context()).Error("authorizing a request", "user", u.Name, "verb", a.Verb, "resource", a.Resource, "path", a.Path, "err", err)
		writeError(w, r, newError(http.StatusInternalServerError, "authorization failed; the drill serve log says why"))
		return false
	}
	if !ok {
		log.FromContext(r.Context()).Info("request forbidden", "user", u.Name, "verb", a.Verb, "resource", a.Resource, "namespace", a.Namespace, "name", a.Name, "path", a.Path)
		msg := "user " + quote(u.Name) + " may not " + describe(a)
		if reason != "" {
			msg += ": " + reason
		}
		writeError(w, r, newError(http.StatusForbidden, "%s", msg))
		return false
	}
	return true
}

// guard authenticates and authorizes a request that is not part of the
// JSON API (/metrics). attrs returns the request's attributes and whether
// its method is allowed.
func (s *Server) guard(attrs func(*http.Request) (Attributes, bool), next http.Handler) http.Handler {
	return s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := attrs(r)
		if !ok {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, r, newError(http.StatusMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		if s.authorize(w, r, a) {
			next.ServeHTTP(w, r)
		}
	}))
}

// describe says what a asks to do, for a 403.
func describe(a Attributes) string {
	if a.Resource == "" {
		return a.Verb + " " + a.Path
	}
	out := a.Verb + " " + a.Resource
	if a.Name != "" {
		out += " " + quote(a.Name)
	}
	if a.Namespace != "" {
		out += " in namespace " + quote(a.Namespace)
	}
	return out
}

func quote(s string) string { return `"` + s + `"` }
