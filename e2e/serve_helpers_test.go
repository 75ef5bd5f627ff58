//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// serveNamespace holds drill serve's ServiceAccount and its Lease.
const serveNamespace = "firedrill-system"

// serveRole is the ClusterRole controller-gen generates from the
// +kubebuilder:rbac markers of drill serve's code: what the Helm chart
// grants it.
func serveRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	out := t.TempDir()
	args := []string{"rbac:roleName=firedrill-drill-serve", "paths=./pkg/controller/...;./pkg/server/kubeauth/...", "output:rbac:dir=" + out}
	var cmd *exec.Cmd
	if gen := os.Getenv("FIREDRILL_CONTROLLER_GEN"); gen != "" {
		cmd = exec.Command(gen, args...)
	} else if gen := filepath.Join(root, "bin", "controller-gen-v0.23.0"); fileExists(gen) {
		cmd = exec.Command(gen, args...)
	} else {
		cmd = exec.Command("go", append([]string{"run", "sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0"}, args...)...)
	}
	cmd.Dir = root
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, string(msg))
	data, err := os.ReadFile(filepath.Join(out, "role.yaml"))
	require.NoError(t, err)
	role := &rbacv1.ClusterRole{}
	require.NoError(t, yaml.UnmarshalStrict(bytes.TrimPrefix(data, []byte("---\n")), role))
	require.NotEmpty(t, role.Rules)
	return role
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// serviceAccountKubeconfig creates ServiceAccount ns/name, binds
// clusterRole to it (when set) and writes a kubeconfig with a token of it
// (TokenRequest, one hour).
func serviceAccountKubeconfig(ctx context.Context, t *testing.T, c *framework.Cluster, ns, name, clusterRole string) (string, string) {
	t.Helper()
	token := serviceAccountToken(ctx, t, c, ns, name, nil)
	if clusterRole != "" {
		_, err := c.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	admin, err := clientcmd.LoadFromFile(c.Kubeconfig)
	require.NoError(t, err)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path, token
}

// serviceAccountToken creates ServiceAccount ns/name if needed and asks
// the API server for a token of it.
func serviceAccountToken(ctx context.Context, t *testing.T, c *framework.Cluster, ns, name string, audiences []string) string {
	t.Helper()
	_, err := c.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		require.NoError(t, err)
	}
	tr, err := c.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600), Audiences: audiences},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

// serveProc is a running drill serve.
type serveProc struct {
	name      string
	cmd       *exec.Cmd
	out       *syncbuf.Buffer
	reports   string
	probeAddr string
	apiAddr   string
	done      chan struct{}
}

// serveOptions are the timings the tests give drill serve: a short Lease,
// so that a new leader takes over in seconds.
var serveArgs = []string{
	"--leader-election-namespace", serveNamespace, "--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "500ms",
	"--metrics-bind-address", "0", "--log-level", "debug",
}

// startServe starts drill serve (the drill binary, cluster mode) with
// kubeconfig, its API on a loopback port; it is stopped with SIGTERM (and
// SIGKILL after a minute) when the test ends.
func startServe(ctx context.Context, t *testing.T, name, kubeconfig string, extra ...string) *serveProc {
	t.Helper()
	bin := buildDrill(t)
	p := &serveProc{name: name, out: &syncbuf.Buffer{}, reports: t.TempDir(), done: make(chan struct{}),
		probeAddr: "127.0.0.1:" + strconv.Itoa(freeTCPPort(t)), apiAddr: "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))}
	args := append([]string{"serve", "--kubeconfig", kubeconfig, "--state-dir", t.TempDir(), "--archive", p.reports,
		"--health-probe-bind-address", p.probeAddr, "--listen", p.apiAddr, "--log-format", "json"}, serveArgs...)
	p.cmd = exec.Command(bin, append(args, extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(time.Minute)
		if t.Failed() {
			t.Logf("drill serve %s output:\n%s", p.name, tail(p.out.String(), 60))
		}
	})
	p.waitReady(ctx, t)
	return p
}

// waitReady waits for /readyz.
func (p *serveProc) waitReady(ctx context.Context, t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.probeAddr+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 100*time.Millisecond, "drill serve %s did not get ready:\n%s", p.name, lazy(func() string { return tail(p.out.String(), 40) }))
}

// identity is the replica identity drill serve logged at start.
func (p *serveProc) identity(t *testing.T) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "drill serve starting in a cluster" {
				id, _ = rec["identity"].(string)
				return id != ""
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	return id
}

// kill9 kills drill serve with SIGKILL, as a crashed node would.
func (p *serveProc) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL))
	<-p.done
}

func (p *serveProc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
