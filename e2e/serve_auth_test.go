//go:build e2e

package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/kubeauth"
)

// authGate is the part of the API that authenticates and authorizes, as
// the HTTP handlers do with any server.Authenticator and
// server.Authorizer: 401 without a valid token, 403 without the right,
// 200 otherwise. GET reads the runs of a namespace, POST triggers one.
func authGate(authn server.Authenticator, authz server.Authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := authn.Authenticate(r.Context(), r)
		if errors.Is(err, server.ErrUnauthenticated) {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a := server.Attributes{Verb: server.VerbList, Resource: server.ResourceRuns, Namespace: r.URL.Query().Get("namespace")}
		if r.Method == http.MethodPost {
			a = server.Attributes{Verb: server.VerbCreate, Resource: server.ResourceRuns, Namespace: r.URL.Query().Get("namespace"), Name: "nightly"}
		}
		ok, reason, err := authz.Authorize(r.Context(), u, a)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !ok:
			http.Error(w, reason, http.StatusForbidden)
		default:
			_, _ = w.Write([]byte(u.Name))
		}
	})
}

// TestServeAPIAuthentication checks the cluster Authenticator (TokenReview)
// and Authorizer (SubjectAccessReview) against a real API server, with
// ServiceAccount tokens from TokenRequest and RBAC Roles, drill serve
// itself asking with the rights its generated ClusterRole grants.
func TestServeAPIAuthentication(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	c := framework.Start(ctx, t, framework.Options{})
	c.CreateNamespace(ctx, t, ns)
	c.CreateNamespace(ctx, t, serveNamespace)
	role := serveRole(t)
	_, err := c.Clientset.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	require.NoError(t, err)
	serveKubeconfig, _ := serviceAccountKubeconfig(ctx, t, c, serveNamespace, "drill-serve", role.Name)
	cfg, err := clientcmd.BuildConfigFromFlags("", serveKubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	// Reading and triggering are separate rights, granted as for kubectl.
	grant := func(name string, rules []rbacv1.PolicyRule) {
		_, err := c.Clientset.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = c.Clientset.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	read := rbacv1.PolicyRule{APIGroups: []string{"firedrill.dev"}, Resources: []string{"drillplans", "drillruns"}, Verbs: []string{"get", "list"}}
	grant("reader", []rbacv1.PolicyRule{read})
	grant("operator", []rbacv1.PolicyRule{read, {APIGroups: []string{"firedrill.dev"}, Resources: []string{"drillruns"}, Verbs: []string{"create"}}})
	tokens := map[string]string{}
	for _, sa := range []string{"reader", "operator", "nobody"} {
		tokens[sa] = serviceAccountToken(ctx, t, c, ns, sa, nil)
	}
	tokens["firedrill-audience"] = serviceAccountToken(ctx, t, c, ns, "operator", []string{"firedrill"})

	serve := func(audiences []string) *httptest.Server {
		authn, err := kubeauth.NewAuthenticator(kubeauth.AuthenticatorOptions{Reviews: cs.AuthenticationV1().TokenReviews(), Audiences: audiences})
		require.NoError(t, err)
		authz, err := kubeauth.NewAuthorizer(kubeauth.AuthorizerOptions{Reviews: cs.AuthorizationV1().SubjectAccessReviews()})
		require.NoError(t, err)
		srv := httptest.NewServer(authGate(authn, authz))
		t.Cleanup(srv.Close)
		return srv
	}
	srv := serve(nil)
	only := serve([]string{"firedrill"})

	tests := []struct {
		name   string
		srv    *httptest.Server
		method string
		token  string
		ns     string
		want   int
	}{
		{name: "no token is 401", srv: srv, method: http.MethodGet, ns: ns, want: http.StatusUnauthorized},
		{name: "a forged token is 401", srv: srv, method: http.MethodGet, token: "eyJhbGciOiJub25lIn0.e30.", ns: ns, want: http.StatusUnauthorized},
		{name: "a token without rights is 403", srv: srv, method: http.MethodGet, token: tokens["nobody"], ns: ns, want: http.StatusForbidden},
		{name: "a reader may read", srv: srv, method: http.MethodGet, token: tokens["reader"], ns: ns, want: http.StatusOK},
		{name: "a reader may not trigger", srv: srv, method: http.MethodPost, token: tokens["reader"], ns: ns, want: http.StatusForbidden},
		{name: "a reader may not read another namespace", srv: srv, method: http.MethodGet, token: tokens["reader"], ns: "kube-system", want: http.StatusForbidden},
		{name: "an operator may trigger", srv: srv, method: http.MethodPost, token: tokens["operator"], ns: ns, want: http.StatusOK},
		{name: "a token for the API server is refused where firedrill's audience is required", srv: only, method: http.MethodGet, token: tokens["operator"], ns: ns, want: http.StatusUnauthorized},
		{name: "a token for firedrill's audience is accepted there", srv: only, method: http.MethodGet, token: tokens["firedrill-audience"], ns: ns, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tt.method, tt.srv.URL+"/api/v1/runs?namespace="+tt.ns, nil)
			require.NoError(t, err)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
		})
	}
}
