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
)

// binDirCache remembers the output of hack/kube-binaries.sh so that a test
// binary runs the script at most once, even with clusters started in
// parallel.
var binDirCache struct {
	sync.Mutex
	dir string
}

// defaultBinDir returns $FIREDRILL_KUBE_BIN, else the directory that
// hack/kube-binaries.sh prints, running it (and so building the binaries
// when they are not cached).
func defaultBinDir(ctx context.Context) (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	binDirCache.Lock()
	defer binDirCache.Unlock()
	if binDirCache.dir != "" {
		return binDirCache.dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "kube-binaries.sh"))
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/kube-binaries.sh (set %s to skip it): %w\n%s", BinDirEnv, err, lastLines(stderr.String(), 30))
	}
	dir := strings.TrimSpace(stdout.String())
	if dir == "" {
		return "", errors.New("hack/kube-binaries.sh printed no directory")
	}
	binDirCache.dir = dir
	return dir, nil
}

// RepoRoot returns the firedrill module root: the nearest directory at or
// above the working directory that holds a go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
