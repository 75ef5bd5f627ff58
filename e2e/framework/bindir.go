package framework

import (
	"context"
	"path/filepath"

	"github.com/firedrill/firedrill/e2e/framework/repodir"
)

var binDir repodir.Printed

// defaultBinDir returns $FIREDRILL_KUBE_BIN, else the directory that
// hack/kube-binaries.sh prints, running it (and so building the binaries
// when they are not cached).
func defaultBinDir(ctx context.Context) (string, error) {
	return binDir.Get(ctx, BinDirEnv, filepath.Join("hack", "kube-binaries.sh"))
}

// RepoRoot is repodir.Root: the firedrill module root.
func RepoRoot() (string, error) { return repodir.Root() }
