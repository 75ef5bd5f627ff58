package framework

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/e2e/framework/chaos"
	"github.com/firedrill/firedrill/e2e/framework/repodir"
)

// ChaosMeshCRDsEnv names the directory of Chaos Mesh's generated CRDs;
// `make e2e` sets it. Without it the framework runs
// `make -f hack/e2e.mk chaos-mesh-crds`, which generates them once into
// the cache.
const ChaosMeshCRDsEnv = "FIREDRILL_CHAOS_MESH_CRDS"

// ChaosMeshKinds are the Chaos Mesh kinds firedrill creates, whose CRDs
// InstallChaosMeshCRDs installs (chaos.Kinds).
var ChaosMeshKinds = chaos.Kinds

// ChaosMeshStandIn is chaos.StandIn, which stands in for Chaos Mesh's
// controller.
type ChaosMeshStandIn = chaos.StandIn

// StartChaosMeshStandIn starts the stand-in (chaos.Start) for the kinds in
// ChaosMeshKinds, in every namespace, until the test ends. Install the
// CRDs first (InstallChaosMeshCRDs).
func (c *Cluster) StartChaosMeshStandIn(ctx context.Context, tb testing.TB) *ChaosMeshStandIn {
	tb.Helper()
	return chaos.Start(ctx, tb, c.Config)
}

var chaosCRDDir repodir.Printed

// ChaosMeshCRDDir returns the directory of Chaos Mesh's CRDs, generated
// from the github.com/chaos-mesh/chaos-mesh/api module this repository
// builds with: $FIREDRILL_CHAOS_MESH_CRDS, else what
// `make -f hack/e2e.mk chaos-mesh-crds` prints.
func ChaosMeshCRDDir(ctx context.Context) (string, error) {
	return chaosCRDDir.Get(ctx, ChaosMeshCRDsEnv, "make", "-s", "--no-print-directory", "-f", filepath.Join("hack", "e2e.mk"), "chaos-mesh-crds")
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
