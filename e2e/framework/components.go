package framework

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/firedrill/firedrill/e2e/framework/kwokstages"
	"github.com/firedrill/firedrill/e2e/framework/spawn"
	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

// componentRateFlags are the client rate flags of the controller manager
// and the scheduler, when ComponentQPS is set.
func (o Options) componentRateFlags() []string {
	if o.ComponentQPS <= 0 {
		return nil
	}
	burst := o.ComponentBurst
	if burst <= 0 {
		burst = int(2 * o.ComponentQPS)
	}
	return []string{
		"--kube-api-qps=" + strconv.FormatFloat(float64(o.ComponentQPS), 'f', -1, 32),
		"--kube-api-burst=" + strconv.Itoa(burst),
	}
}

// launch starts one component and waits until ready reports it healthy.
// args is called for every attempt so that it can pick fresh ports: when the
// component exits because another process took one of its ports, launch
// tries again, up to three times.
func (c *Cluster) launch(ctx context.Context, name string, args func() ([]string, error), ready func(ctx context.Context) error) error {
	logPath := filepath.Join(c.WorkDir, "logs", name+".log")
	for attempt := 1; ; attempt++ {
		a, err := args()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p, err := c.spawner.Start(name, filepath.Join(c.opts.BinDir, name), a, c.WorkDir, logPath)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.procs = append(c.procs, p)
		c.mu.Unlock()

		err = waitHealthy(ctx, p, ready)
		if err == nil {
			return nil
		}
		p.Stop(5 * time.Second)
		if errors.Is(err, errExited) && strings.Contains(p.LogTail(50), spawn.ErrAddrInUse.Error()) && attempt < 3 {
			continue
		}
		return fmt.Errorf("%s did not become healthy: %w\n--- last lines of %s ---\n%s", name, err, logPath, p.LogTail(40))
	}
}

// errExited is returned by waitHealthy when the process exits first.
var errExited = errors.New("process exited")

// waitHealthy polls ready until it succeeds, the process exits or
// componentTimeout passes.
func waitHealthy(ctx context.Context, p *spawn.Process, ready func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, componentTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.Done:
			if p.Err == nil {
				return fmt.Errorf("%w with status 0", errExited)
			}
			return fmt.Errorf("%w: %w", errExited, p.Err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %w)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func (c *Cluster) startEtcd(ctx context.Context) (string, error) {
	var clientURL string
	args := func() ([]string, error) {
		cp, err := spawn.FreePort()
		if err != nil {
			return nil, err
		}
		pp, err := spawn.FreePort()
		if err != nil {
			return nil, err
		}
		clientURL = "http://127.0.0.1:" + strconv.Itoa(cp)
		peerURL := "http://127.0.0.1:" + strconv.Itoa(pp)
		dataDir := filepath.Join(c.WorkDir, "etcd")
		// A retry starts from an empty data dir: the failed member may
		// have recorded the port it could not bind.
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, fmt.Errorf("clearing etcd data dir: %w", err)
		}
		return []string{
			"--name=e2e",
			"--data-dir=" + dataDir,
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=e2e=" + peerURL,
			// Test data need not survive a power cut; fsync on a shared
			// disk costs seconds.
			"--unsafe-no-fsync=true",
			"--log-level=warn",
		}, nil
	}
	hc := &http.Client{}
	ready := func(ctx context.Context) error {
		return getOK(ctx, hc, clientURL+"/health", "", `"health":"true"`)
	}
	if err := c.launch(ctx, compEtcd, args, ready); err != nil {
		return "", err
	}
	return clientURL, nil
}

func (c *Cluster) startAPIServer(ctx context.Context, etcdURL string) error {
	certDir := filepath.Join(c.WorkDir, "apiserver")
	args := func() ([]string, error) {
		port, err := spawn.FreePort()
		if err != nil {
			return nil, err
		}
		c.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(port)
		return []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + certDir,
			"--tls-cert-file=" + c.pki.CertFile,
			"--tls-private-key-file=" + c.pki.KeyFile,
			"--token-auth-file=" + c.pki.TokenFile,
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + c.pki.SAPubFile,
			"--service-account-signing-key-file=" + c.pki.SAKeyFile,
			"--service-cluster-ip-range=" + serviceCIDR,
			// The "kubernetes" Service's endpoint would be a loopback
			// address, which no pod could use anyway.
			"--endpoint-reconciler-type=none",
			"--allow-privileged=true",
			"--profiling=false",
		}, nil
	}
	hc, err := c.pki.HTTPClient()
	if err != nil {
		return err
	}
	ready := func(ctx context.Context) error {
		return getOK(ctx, hc, c.APIServerURL+"/readyz", c.pki.Token, "")
	}
	return c.launch(ctx, compAPIServer, args, ready)
}

func (c *Cluster) startControllerManager(ctx context.Context) error {
	var port int
	args := func() ([]string, error) {
		var err error
		if port, err = spawn.FreePort(); err != nil {
			return nil, err
		}
		return append([]string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + filepath.Join(c.WorkDir, compKCM),
			"--leader-elect=false",
			"--service-account-private-key-file=" + c.pki.SAKeyFile,
			"--root-ca-file=" + c.pki.CACertFile,
			"--use-service-account-credentials=false",
			"--cluster-name=firedrill-e2e",
			"--profiling=false",
		}, c.opts.componentRateFlags()...), nil
	}
	ready := func(ctx context.Context) error {
		return getOK(ctx, insecureHTTPClient, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "", "")
	}
	return c.launch(ctx, compKCM, args, ready)
}

func (c *Cluster) startScheduler(ctx context.Context) error {
	var port int
	args := func() ([]string, error) {
		var err error
		if port, err = spawn.FreePort(); err != nil {
			return nil, err
		}
		return append([]string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + filepath.Join(c.WorkDir, compScheduler),
			"--leader-elect=false",
			"--profiling=false",
		}, c.opts.componentRateFlags()...), nil
	}
	ready := func(ctx context.Context) error {
		return getOK(ctx, insecureHTTPClient, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "", "")
	}
	return c.launch(ctx, compScheduler, args, ready)
}

func (c *Cluster) startKwok(ctx context.Context) error {
	stages, err := kwokstages.Render(filepath.Join(c.opts.BinDir, "..", "stages"), kwokstages.Delays{
		PodStart:       c.opts.PodStartDelay,
		PodStartJitter: c.opts.PodStartJitter,
	})
	if err != nil {
		return err
	}
	if n := c.opts.KwokParallelism; n > 0 {
		// A KwokConfiguration given this way is not defaulted: every
		// option the flags do not set is spelled out, at kwok 0.8's
		// defaults but for the parallelism.
		stages = append(stages, fmt.Appendf(nil, `---
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: %d
  nodePlayStageParallelism: %d
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 1
  enableDebuggingHandlers: true
  enableContentionProfiling: false
  enableProfilingHandler: true
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
`, n, n)...)
	}
	stagesPath := filepath.Join(c.WorkDir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesPath, stages, 0o600); err != nil {
		return fmt.Errorf("writing kwok stages: %w", err)
	}
	var port int
	args := func() ([]string, error) {
		var err error
		if port, err = spawn.FreePort(); err != nil {
			return nil, err
		}
		return []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--config=" + stagesPath,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + workloads.KwokNodeAnnotation + "=fake",
			"--manage-nodes-with-label-selector=",
			"--manage-single-node=",
			"--cidr=" + c.opts.PodCIDR,
			"--node-ip=" + NodeIP,
			"--server-address=127.0.0.1:" + strconv.Itoa(port),
			"--node-lease-duration-seconds=" + strconv.Itoa(int(c.opts.NodeLeaseDuration.Seconds())),
		}, nil
	}
	ready := func(ctx context.Context) error {
		return getOK(ctx, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "", "")
	}
	return c.launch(ctx, compKwok, args, ready)
}

// insecureHTTPClient probes /healthz of the controller manager and the
// scheduler, which serve a self-signed certificate of their own. Nothing
// secret is sent.
var insecureHTTPClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // health probe only
}}

// getOK GETs url and returns nil when it answers 200 and its body contains
// want.
func getOK(ctx context.Context, hc *http.Client, url, token, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
