package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// TestTheCommittedSchemaIsGenerated fails when the Go types changed and
// the schema was not regenerated (go test ./pkg/report/schema -update).
func TestTheCommittedSchemaIsGenerated(t *testing.T) {
	here, err := os.Getwd()
	require.NoError(t, err)
	t.Chdir("../../..")
	got, err := Generate([]string{"pkg/report", "pkg/apis/firedrill/v1alpha1", "pkg/evidence", "pkg/slo"})
	require.NoError(t, err)
	golden.Assert(t, filepath.Join(here, File), got)
}

func TestValidate(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "testdata", "report.json"))
	require.NoError(t, err)
	require.NoError(t, Validate(good))

	bad := strings.Replace(string(good), `"recoveryTime": "2.3s"`, `"recoveryTime": 2300000000`, 1)
	require.NotEqual(t, string(good), bad)
	require.ErrorContains(t, Validate([]byte(bad)), "recoveryTime")

	unknown := strings.Replace(string(good), `"samples": 9000`, `"samples": 9000, "extra": 1`, 1)
	require.ErrorContains(t, Validate([]byte(unknown)), "extra")
}
