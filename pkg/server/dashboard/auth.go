package dashboard

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/server"
)

// CookieName is the login cookie: it holds the token the form was given.
const CookieName = "firedrill_token"

// CookieMaxAge is how long the browser keeps the login cookie. The token
// itself is checked on every request, so a revoked token stops working at
// once.
const CookieMaxAge = 12 * time.Hour

// maxTokenLength bounds the token a login form posts, in bytes: a
// Kubernetes service-account token is about 1 KiB.
const maxTokenLength = 3072

// guard authenticates a request by its bearer header or its login cookie,
// authorizes what rights returns, and calls next. Without a credential, or
// with a cookie whose token is no longer valid, a browser is sent to the
// login page; with a namespace or name rights refuses, a 400 page naming
// the parameter (the Authorizer is never asked about it); without the
// rights a 403 page saying which.
func (d *Dashboard) guard(rights func(*http.Request) ([]server.Attributes, error), next func(http.ResponseWriter, *http.Request, server.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, fromCookie := credential(r)
		if token == "" {
			d.toLogin(w, r, "")
			return
		}
		u, err := d.authenticate(r, token)
		switch {
		case errors.Is(err, server.ErrUnauthenticated) && fromCookie:
			log.FromContext(r.Context()).Debug("dashboard login expired", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.SetCookie(w, d.cookie(r, "", -1))
			d.toLogin(w, r, "expired")
			return
		case errors.Is(err, server.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="firedrill"`)
			d.page(w, r, http.StatusUnauthorized, "error", errorView{Title: "Not signed in", Message: "The bearer token was not accepted.", Login: true})
			return
		case err != nil:
			d.failed(w, r, "authenticating the request", err)
			return
		}
		attrs, err := rights(r)
		if err != nil {
			log.FromContext(r.Context()).Info("dashboard request refused: bad input", "user", u.Name, "path", r.URL.Path, "err", err)
			d.page(w, r, http.StatusBadRequest, "error", errorView{Title: "Bad request", User: u.Name, Message: err.Error() + ".", Hint: hintFor(err)})
			return
		}
		for _, a := range attrs {
			ok, reason, err := d.opts.Authorizer.Authorize(r.Context(), u, a)
			if err != nil {
				d.failed(w, r, "authorizing the request", err)
				return
			}
			if !ok {
				log.FromContext(r.Context()).Info("dashboard request forbidden", "user", u.Name, "verb", a.Verb, "resource", a.Resource, "namespace", a.Namespace, "name", a.Name)
				d.page(w, r, http.StatusForbidden, "error", errorView{
					Title: "Not allowed", User: u.Name,
					Message: "You are signed in as " + u.Name + ", who may not " + describe(a) + why(reason) + ".",
					Hint:    "The dashboard needs the read rights: list on drillplans and drillruns (and get on drillruns for a report). Ask for them, or sign in with another token.",
				})
				return
			}
		}
		next(w, r, u)
	}
}

// hintFor says where in the address the bad input of err is.
func hintFor(err error) string {
	var bad *server.Error
	if errors.As(err, &bad) && bad.Field == paramNS {
		return "Correct or remove ?" + paramNS + "= in the address."
	}
	return "The address names a plan or a run that cannot exist."
}

// credential is the request's token: its bearer header, else its login
// cookie.
func credential(r *http.Request) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(value), false
		}
		return "", false
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// authenticate asks the Authenticator about token as if it came as a
// bearer header, so that every Authenticator (the token file, TokenReview)
// works unchanged.
func (d *Dashboard) authenticate(r *http.Request, token string) (server.User, error) {
	req := r.Clone(r.Context())
	req.Header.Del("Cookie")
	req.Header.Set("Authorization", "Bearer "+token)
	return d.opts.Authenticator.Authenticate(r.Context(), req)
}

// toLogin redirects to the login page, which sends the browser back here
// once signed in.
func (d *Dashboard) toLogin(w http.ResponseWriter, r *http.Request, why string) {
	q := url.Values{"next": {r.URL.RequestURI()}}
	if why != "" {
		q.Set("why", why)
	}
	http.Redirect(w, r, pathLogin+"?"+q.Encode(), http.StatusSeeOther)
}

// cookie is the login cookie holding token; maxAge < 0 deletes it.
func (d *Dashboard) cookie(r *http.Request, token string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || d.opts.SecureCookie,
	}
}

// loginView is the login page.
type loginView struct {
	Next    string
	Error   string
	Message string
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	v := loginView{Next: localPath(r.URL.Query().Get("next"))}
	switch r.URL.Query().Get("why") {
	case "expired":
		v.Message = "Your token is no longer accepted; sign in again."
	case "out":
		v.Message = "You are signed out."
	}
	d.page(w, r, http.StatusOK, "login", v)
}

// login checks the posted token with the Authenticator and keeps it in the
// cookie. Only a same-origin form may post it.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.sameOrigin(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenLength+1024)
	if err := r.ParseForm(); err != nil {
		d.page(w, r, http.StatusBadRequest, "login", loginView{Error: "The form could not be read."})
		return
	}
	v := loginView{Next: localPath(r.PostForm.Get("next"))}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	switch {
	case token == "":
		v.Error = "Paste a token."
		d.page(w, r, http.StatusBadRequest, "login", v)
		return
	case len(token) > maxTokenLength || !cookieSafe(token):
		v.Error = "That is not a token: a bearer token is one word of letters, digits and -._~+/=."
		d.page(w, r, http.StatusBadRequest, "login", v)
		return
	}
	u, err := d.authenticate(r, token)
	switch {
	case errors.Is(err, server.ErrUnauthenticated):
		log.FromContext(r.Context()).Info("dashboard login refused", "remote", r.RemoteAddr)
		v.Error = "The token was not accepted."
		d.page(w, r, http.StatusUnauthorized, "login", v)
		return
	case err != nil:
		d.failed(w, r, "checking the token", err)
		return
	}
	log.FromContext(r.Context()).Info("dashboard login", "user", u.Name, "remote", r.RemoteAddr)
	http.SetCookie(w, d.cookie(r, token, int(CookieMaxAge/time.Second)))
	http.Redirect(w, r, cmp.Or(v.Next, "/"), http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if !d.sameOrigin(w, r) {
		return
	}
	http.SetCookie(w, d.cookie(r, "", -1))
	http.Redirect(w, r, pathLogin+"?why=out", http.StatusSeeOther)
}

// sameOrigin refuses, with a 403 page, a POST that a browser did not send
// from the dashboard's own pages: its Origin must name this host (or,
// without an Origin, Sec-Fetch-Site must say same-origin). A request with
// neither did not come from a browser form and is refused too. With the
// SameSite=Strict cookie this makes the forms CSRF-safe.
func (d *Dashboard) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	ok := false
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		ok = err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
	} else {
		ok = r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	if !ok {
		log.FromContext(r.Context()).Info("dashboard form refused: not same-origin", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		d.page(w, r, http.StatusForbidden, "error", errorView{Title: "Refused", Message: "This form may only be sent from the dashboard's own pages.", Login: true})
	}
	return ok
}

// localPath is next if it is a path on this server, else "": the login
// page never sends a browser elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, pathLogin) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return next
}

// cookieSafe says whether a token can be a cookie's value as it is.
func cookieSafe(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// describe says what a asks, for a 403.
func describe(a server.Attributes) string {
	out := a.Verb + " " + a.Resource
	if a.Name != "" {
		out += " " + a.Name
	}
	if a.Namespace != "" {
		out += " in namespace " + a.Namespace
	}
	return out
}

func why(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}
