//go:build e2e

package repodir

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPrintedDir(t *testing.T) {
	ctx := context.Background()
	const env = "FIREDRILL_TEST_PRINTED_DIR"

	t.Run("the environment names it", func(t *testing.T) {
		t.Setenv(env, "/from/env")
		var c Printed
		dir, err := c.Get(ctx, env, "false")
		require.NoError(t, err)
		require.Equal(t, "/from/env", dir)
	})
	t.Run("the last line printed, run once", func(t *testing.T) {
		t.Setenv(env, "")
		var c Printed
		dir, err := c.Get(ctx, env, "sh", "-c", "echo building >&2; echo noise; echo /cache/dir")
		require.NoError(t, err)
		require.Equal(t, "/cache/dir", dir)
		dir, err = c.Get(ctx, env, "false")
		require.NoError(t, err, "the command is not run again")
		require.Equal(t, "/cache/dir", dir)
	})
	t.Run("a failing command says how to skip it", func(t *testing.T) {
		t.Setenv(env, "")
		var c Printed
		_, err := c.Get(ctx, env, "sh", "-c", "echo no go >&2; exit 3")
		require.ErrorContains(t, err, "set "+env+" to skip it")
		require.ErrorContains(t, err, "no go")
	})
	t.Run("a relative script runs from the repository root", func(t *testing.T) {
		t.Setenv(env, "")
		var c Printed
		dir, err := c.Get(ctx, env, "hack/kube-binaries.sh")
		require.NoError(t, err)
		require.DirExists(t, dir)
	})
}
