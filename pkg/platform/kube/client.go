package kube

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig loads a client configuration: the kubeconfig file when set,
// else $KUBECONFIG, else ~/.kube/config, else the in-cluster service
// account; kubeContext overrides the current context when set. The
// cluster's disable-compression field is honoured, and compression is
// turned off for an API server on the loopback interface (see
// uncompressedOnLoopback).
func RESTConfig(kubeconfig, kubeContext string, qps float32, burst int) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	cfg.UserAgent = "firedrill"
	uncompressedOnLoopback(cfg)
	return cfg, nil
}

// uncompressedOnLoopback turns off gzip for an API server reached over
// the loopback interface. There is no bandwidth to save there, and
// compressing the watch streams of thousands of pods costs CPU on both
// sides (7% of a drill's CPU in a 2,000-pod cutover, docs/benchmarks.md).
// Remote servers keep compression unless the kubeconfig's cluster sets
// disable-compression.
func uncompressedOnLoopback(cfg *rest.Config) {
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
	name := u.Hostname()
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}
