package cleanup

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func orphans() []kube.Orphan {
	renewed := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	return []kube.Orphan{
		{RunID: "victim", Fault: "cutover", Reverted: true,
			Objects: []evidence.Target{{Kind: evidence.KindNode, Name: "gpu-east-1", Region: "us-east"}, {Kind: kube.KindService, Name: "recsys/frontdoor"}},
			Heartbeat: kube.HeartbeatStatus{State: kube.HeartbeatStale, Key: kube.HeartbeatKey{Namespace: "recsys", Name: "firedrill-run-victim"},
				Renewed: renewed, Age: 16200 * time.Millisecond, Grace: 15 * time.Second, Host: "laptop", PID: 4242}},
		{RunID: "old", Fault: "drain", Err: errors.New("node/gpu-east-2: nodes \"gpu-east-2\" is forbidden"),
			Objects:   []evidence.Target{{Kind: evidence.KindNode, Name: "gpu-east-2"}},
			Heartbeat: kube.HeartbeatStatus{State: kube.HeartbeatMissing, Why: "its marks name no heartbeat Lease (they were written by a drill without heartbeats)"}},
		{RunID: "live-1", Fault: "store",
			Objects: []evidence.Target{{Kind: kube.KindWorkload, Name: "Deployment/other/model-store"}},
			Heartbeat: kube.HeartbeatStatus{State: kube.HeartbeatLive, Key: kube.HeartbeatKey{Namespace: "other", Name: "firedrill-run-live-1"},
				Renewed: renewed, Age: 2100 * time.Millisecond, Grace: 15 * time.Second, Host: "ci-7", PID: 77}},
	}
}

// TestFromClusterOutput holds what drill cleanup --from-cluster prints, as
// text and as one document, for a reverted dead run, one whose revert
// failed, a live run, a dry run and an empty cluster.
func TestFromClusterOutput(t *testing.T) {
	fc := &FromCluster{Server: "https://10.0.0.1:6443", Context: "prod-us", Grace: "15s"}
	dry := orphans()
	dry[0].Reverted, dry[1].Err = false, nil
	tests := []struct {
		name    string
		dryRun  bool
		fc      *FromCluster
		orphans []kube.Orphan
		err     error
		format  output.Format
		golden  string
	}{
		{name: "reverted, failed and live", fc: fc, orphans: orphans(), err: errors.New("run old step drain: forbidden"), format: output.Text,
			golden: "from-cluster.txt"},
		{name: "the same as json", fc: fc, orphans: orphans(), err: errors.New("run old step drain: forbidden"), format: output.JSON,
			golden: "from-cluster-json.txt"},
		{name: "a dry run in two namespaces", dryRun: true, orphans: dry, format: output.Text, golden: "from-cluster-dry-run.txt",
			fc: &FromCluster{Server: "https://10.0.0.1:6443", Grace: "30s", Namespaces: []string{"recsys", "other"}}},
		{name: "only live runs", fc: fc, orphans: orphans()[2:], format: output.Text, golden: "from-cluster-live.txt"},
		{name: "nothing marked", fc: fc, format: output.YAML, golden: "from-cluster-none-yaml.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := orphanResult(tt.dryRun, tt.fc, tt.orphans, tt.err)
			var buf bytes.Buffer
			require.NoError(t, output.Write(&buf, tt.format, res, func(w io.Writer) error {
				writeOrphans(w, res)
				return nil
			}))
			golden.Assert(t, filepath.Join("testdata", tt.golden), buf.Bytes())
		})
	}
}
