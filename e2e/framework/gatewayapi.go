package framework

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// GatewayAPIModule is the Go module whose config/crd/standard holds the
// Gateway API CRDs; its version is the one go.mod requires.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

// GatewayAPICRDDir is the directory of the standard-channel Gateway API
// CRDs in the module cache, for the version go.mod requires.
func GatewayAPICRDDir(ctx context.Context) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", GatewayAPIModule)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating %s in the module cache: %w: %s", GatewayAPIModule, err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("%s is not in the module cache (go mod download %s)", GatewayAPIModule, GatewayAPIModule)
	}
	return filepath.Join(dir, "config", "crd", "standard"), nil
}

// InstallGatewayAPI applies the standard-channel Gateway API CRDs
// (Gateway, GatewayClass, HTTPRoute, ...) of the module version go.mod
// requires, and waits until each is Established and mapped. Other objects
// in that directory (a ValidatingAdmissionPolicy guarding upgrades) are
// not applied.
func (c *Cluster) InstallGatewayAPI(ctx context.Context, tb testing.TB) {
	tb.Helper()
	dir, err := GatewayAPICRDDir(ctx)
	if err != nil {
		tb.Fatalf("installing the Gateway API: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("installing the Gateway API: no files in %s (err %v)", dir, err)
	}
	var crds []*unstructured.Unstructured
	for _, f := range files {
		objs, err := ReadObjects(f)
		if err != nil {
			tb.Fatalf("installing the Gateway API: %v", err)
		}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o)
			}
		}
	}
	if len(crds) == 0 {
		tb.Fatalf("installing the Gateway API: no CustomResourceDefinition in %s", dir)
	}
	c.applyCRDObjects(ctx, tb, crds)
}
