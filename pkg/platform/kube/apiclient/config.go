package apiclient

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/loopback"
)

// ErrNoKubeconfig says no cluster configuration was found anywhere firedrill
// looks for one.
var ErrNoKubeconfig = errors.New("no Kubernetes cluster configured")

// RESTConfig loads a client configuration: the kubeconfig file when set,
// else $KUBECONFIG, else ~/.kube/config, else the in-cluster service
// account; kubeContext overrides the current context when set. The
// cluster's disable-compression field is honoured, and compression is
// turned off for an API server on the loopback interface (see
// UncompressedOnLoopback). When nothing is found the error wraps
// ErrNoKubeconfig and says where firedrill looked and how to point it at a
// cluster.
func RESTConfig(kubeconfig, kubeContext string, qps float32, burst int) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		// A context named on the command line or in the plan fails as
		// "context does not exist" when there is no kubeconfig at all.
		if raw, rerr := loader.RawConfig(); rerr == nil && len(raw.Contexts) == 0 && len(raw.Clusters) == 0 && kubeconfig == "" {
			err = clientcmd.ErrEmptyConfig
		}
		return nil, explainLoadError(err, kubeconfig, os.Getenv(clientcmd.RecommendedConfigPathEnvVar))
	}
	cfg.QPS, cfg.Burst = qps, burst
	cfg.UserAgent = "firedrill"
	UncompressedOnLoopback(cfg)
	return cfg, nil
}

// explainLoadError replaces client-go's advice for an empty configuration
// ("try setting KUBERNETES_MASTER", a variable nothing reads any more)
// with what firedrill looked for and how to provide it. Other errors (a
// named file that is missing, an unknown context) are wrapped as they are.
func explainLoadError(err error, kubeconfig, envKubeconfig string) error {
	if !clientcmd.IsEmptyConfig(err) {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	var looked []string
	switch {
	case kubeconfig != "":
		looked = append(looked, "--kubeconfig "+kubeconfig)
	case envKubeconfig != "":
		looked = append(looked, "$KUBECONFIG="+envKubeconfig)
	default:
		looked = append(looked, "--kubeconfig (not set)", "$KUBECONFIG (not set)", clientcmd.RecommendedHomeFile+" (none)")
	}
	looked = append(looked, "the in-cluster service account (not running in a pod)")
	return fmt.Errorf("%w: looked at %s; pass --kubeconfig FILE, set $KUBECONFIG, create %s, or run drill in a pod with a service account",
		ErrNoKubeconfig, strings.Join(looked, ", "), clientcmd.RecommendedHomeFile)
}

// UncompressedOnLoopback turns off gzip for an API server reached over
// the loopback interface. There is no bandwidth to save there, and
// compressing the watch streams of thousands of pods costs CPU on both
// sides (7% of a drill's CPU in a 2,000-pod cutover, docs/benchmarks.md).
// Remote servers keep compression unless the kubeconfig's cluster sets
// disable-compression.
func UncompressedOnLoopback(cfg *rest.Config) {
	if isLoopbackHost(cfg.Host) {
		cfg.DisableCompression = true
	}
}

// isLoopbackHost says whether an API server address (a URL or host:port)
// names localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "" {
		return false
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	return loopback.Host(u.Hostname())
}

// ContextName is the kubeconfig context RESTConfig uses: the override
// when set, else the kubeconfig's current context; empty in a pod.
func ContextName(kubeconfig, override string) string {
	if override != "" {
		return override
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}

// Identity identifies the cluster cfg reaches: its API server and the
// SHA-256 of its CA bundle (a context name is only a local alias).
func Identity(cfg *rest.Config, contextName string) evidence.Cluster {
	c := evidence.Cluster{Context: contextName, Server: cfg.Host}
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		ca, _ = os.ReadFile(cfg.CAFile) // unreadable: the server alone identifies it
	}
	if len(ca) > 0 {
		sum := sha256.Sum256(ca)
		c.CAFingerprint = hex.EncodeToString(sum[:])
	}
	return c
}
