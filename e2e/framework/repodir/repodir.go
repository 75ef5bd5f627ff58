package repodir

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

// Printed is a directory a repository command prints on its last line
// (a build cache it fills), run at most once per test binary, even with
// clusters started in parallel, unless an environment variable names it.
type Printed struct {
	mu  sync.Mutex
	dir string
}

// Get returns $env when set, else the last line the command argv prints
// when run in the repository root.
func (c *Printed) Get(ctx context.Context, env string, argv ...string) (string, error) {
	if dir := os.Getenv(env); dir != "" {
		return dir, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		return c.dir, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	what := strings.Join(argv, " ")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s (set %s to skip it): %w\n%s", what, env, err, lastLines(stderr.String(), 30))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", fmt.Errorf("%s printed no directory", what)
	}
	c.dir = dir
	return dir, nil
}

// Root returns the firedrill module root: the nearest directory at or
// above the working directory that holds a go.mod.
func Root() (string, error) {
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
