package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
)

// lockDigest takes an exclusive advisory lock (flock) on the cache entry of
// d, so that processes sharing a cache (replicas on one node) download an
// artifact once: the others wait, then find it committed. It polls so that
// ctx can cancel the wait. The lock dies with the process, so a SIGKILL
// never leaves it held.
func (c *cache) lockDigest(ctx context.Context, d digest.Digest) (unlock func(), err error) {
	dir := filepath.Join(c.root, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating lock directory: %w", err)
	}
	path := filepath.Join(dir, d.Algorithm().String()+"-"+d.Encoded())
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for another pull of %s: %w", d, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
