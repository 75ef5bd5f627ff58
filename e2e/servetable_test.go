//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/firedrill/firedrill/e2e/framework"
)

// table is what kubectl get prints: the server's Table of a resource.
type table struct {
	columns []string
	rows    [][]string
}

func (tb table) row(name string) []string {
	for _, r := range tb.rows {
		if r[0] == name {
			return r
		}
	}
	return nil
}

// serverTable asks the API server for the Table of firedrill.dev resource
// in ns, as kubectl get does (printer columns of priority 0 only).
func serverTable(ctx context.Context, t *testing.T, c *framework.Cluster, resource string) table {
	t.Helper()
	cfg := rest.CopyConfig(c.Config)
	hc, err := rest.HTTPClientFor(cfg)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/apis/firedrill.dev/v1alpha1/namespaces/"+ns+"/"+resource, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var tbl metav1.Table
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tbl))
	var out table
	for _, col := range tbl.ColumnDefinitions {
		if col.Priority == 0 {
			out.columns = append(out.columns, col.Name)
		}
	}
	for _, r := range tbl.Rows {
		var cells []string
		for i, col := range tbl.ColumnDefinitions {
			if col.Priority != 0 {
				continue
			}
			s, _ := r.Cells[i].(string)
			cells = append(cells, s)
		}
		out.rows = append(out.rows, cells)
	}
	return out
}
