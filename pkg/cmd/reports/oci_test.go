package reports

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/archivetest"
)

func TestCommandsOnARegistryArchive(t *testing.T) {
	kept := fixture(t)
	reg := archivetest.Registry(t)
	loc := "oci://" + reg.Addr() + "/drills"

	_, errOut, code := execute(t, "push", "--archive", loc, "--from", kept)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "name the runs to push, or give --all")
	out, errOut, code := execute(t, "push", "--all", "--archive", loc, "--from", kept)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 6, strings.Count(out, "pushed "))

	out, errOut, code = execute(t, "list", "-o", "json", "--archive", loc)
	require.Equal(t, 0, code, errOut)
	var list listResult
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list.Runs, 6)
	for _, e := range list.Runs {
		require.True(t, strings.HasPrefix(e.Path, reg.Addr()+"/drills:"), e.Path)
		require.True(t, strings.HasPrefix(e.Digest, "sha256:"))
	}

	last := drill("nightly", 4, 3).RunID
	out, errOut, code = execute(t, "show", "--archive", loc, last)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "report    "+reg.Addr()+"/drills:"+last+"@sha256:")
	out, _, code = execute(t, "verify", "--archive", loc)
	require.Equal(t, 0, code)
	require.Equal(t, "6 intact, 0 damaged in "+loc+"\n", out)
	out, _, code = execute(t, "trend", "--archive", loc, "nightly")
	require.Equal(t, 0, code)
	require.Contains(t, out, "REGRESSION: +4.00s")

	// Pushing again is idempotent: the same artifacts.
	out, _, code = execute(t, "push", "--archive", loc, "--from", kept, last)
	require.Equal(t, 0, code)
	require.Contains(t, out, "pushed nightly/"+last)

	out, _, code = execute(t, "prune", "--keep", "1", "--archive", loc, "--state-dir", t.TempDir())
	require.Equal(t, 0, code)
	require.Contains(t, out, "removed 4, kept 2")
	out, _, code = execute(t, "list", "-o", "json", "--archive", loc)
	require.Equal(t, 0, code)
	list = listResult{}
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	var keys []string
	for _, e := range list.Runs {
		keys = append(keys, e.Key())
	}
	require.Equal(t, []string{"weekly/" + drill("weekly", 2, 1).RunID, "nightly/" + last}, keys)
}
