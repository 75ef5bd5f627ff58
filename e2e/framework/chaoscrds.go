package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ChaosMeshCRDsEnv names the directory of Chaos Mesh's generated CRDs;
// `make e2e` sets it. Without it the framework runs
// `make -f hack/e2e.mk chaos-mesh-crds`, which generates them once into
// the cache.
const ChaosMeshCRDsEnv = "FIREDRILL_CHAOS_MESH_CRDS"

// ChaosMeshKinds are the Chaos Mesh kinds firedrill creates, whose CRDs
// InstallChaosMeshCRDs installs.
var ChaosMeshKinds = []string{"PodChaos", "NetworkChaos", "IOChaos", "StressChaos"}

// chaosCRDCache remembers the directory so a test binary generates at most
// once.
var chaosCRDCache struct {
	sync.Mutex
	dir string
}

// ChaosMeshCRDDir returns the directory of Chaos Mesh's CRDs, generated
// from the github.com/chaos-mesh/chaos-mesh/api module this repository
// builds with: $FIREDRILL_CHAOS_MESH_CRDS, else what
// `make -f hack/e2e.mk chaos-mesh-crds` prints.
func ChaosMeshCRDDir(ctx context.Context) (string, error) {
	if dir := os.Getenv(ChaosMeshCRDsEnv); dir != "" {
		return dir, nil
	}
	chaosCRDCache.Lock()
	defer chaosCRDCache.Unlock()
	if chaosCRDCache.dir != "" {
		return chaosCRDCache.dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "-f", filepath.Join("hack", "e2e.mk"), "chaos-mesh-crds")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("make -f hack/e2e.mk chaos-mesh-crds (set %s to skip it): %w\n%s", ChaosMeshCRDsEnv, err, lastLines(stderr.String(), 30))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", errors.New("make chaos-mesh-crds printed no directory")
	}
	chaosCRDCache.dir = dir
	return dir, nil
}

// InstallChaosMeshCRDs installs the CRDs of ChaosMeshKinds, generated from
// Chaos Mesh's api module, and waits until they are served. No Chaos Mesh
// controller runs: see StartChaosMeshStandIn.
func (c *Cluster) InstallChaosMeshCRDs(ctx context.Context, tb testing.TB) {
	tb.Helper()
	dir, err := ChaosMeshCRDDir(ctx)
	if err != nil {
		tb.Fatalf("installing Chaos Mesh CRDs: %v", err)
	}
	var files []string
	for _, kind := range ChaosMeshKinds {
		f := filepath.Join(dir, "chaos-mesh.org_"+strings.ToLower(kind)+".yaml")
		if _, err := os.Stat(f); err != nil {
			tb.Fatalf("installing Chaos Mesh CRDs: %s: %v (delete %s to regenerate)", kind, err, dir)
		}
		files = append(files, f)
	}
	c.ApplyCRDs(ctx, tb, files...)
}
