package kwokstages

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

// testdata/stages is a copy of the Stage sets of sigs.k8s.io/kwok v0.8.0
// (kustomize/stage/...), as hack/kube-binaries.sh lays them out.

func TestRenderStages(t *testing.T) {
	tests := []struct {
		name       string
		delays     Delays
		wantReady  map[string]any
		wantCreate map[string]any
	}{
		{
			name:       "a pod becomes Ready exactly after the start delay",
			delays:     Delays{PodStart: 2 * time.Second},
			wantReady:  map[string]any{"durationMilliseconds": float64(2000)},
			wantCreate: map[string]any{"durationMilliseconds": float64(0)},
		},
		{
			name:   "jitter sets kwok's upper bound",
			delays: Delays{PodStart: 20 * time.Second, PodStartJitter: 5 * time.Second},
			wantReady: map[string]any{
				"durationMilliseconds":       float64(20000),
				"jitterDurationMilliseconds": float64(25000),
			},
			wantCreate: map[string]any{"durationMilliseconds": float64(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Render("testdata/stages", tt.delays)
			require.NoError(t, err)
			stages := map[string]map[string]any{}
			for doc := range strings.SplitSeq(string(out), "---\n") {
				if strings.TrimSpace(doc) == "" {
					continue
				}
				var obj map[string]any
				require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
				require.Equal(t, "Stage", obj["kind"])
				stages[nested(obj, "metadata")["name"].(string)] = obj
			}
			require.Contains(t, stages, "node-initialize")
			require.Contains(t, stages, "node-heartbeat-with-lease")
			require.Contains(t, stages, "pod-delete")
			for name, want := range map[string]map[string]any{"pod-ready": tt.wantReady, "pod-create": tt.wantCreate} {
				delay := nested(nested(stages[name], "spec"), "delay")
				for _, k := range []string{"durationMilliseconds", "jitterDurationMilliseconds"} {
					require.Equal(t, want[k], delay[k], "%s %s", name, k)
				}
				require.Contains(t, delay, "durationFrom", "%s keeps its per-pod annotation", name)
			}
			// kwok's own delay for deleting a pod stays.
			require.Contains(t, nested(nested(stages["pod-delete"], "spec"), "delay"), "jitterDurationFrom")
		})
	}
}

func TestRenderStagesWithoutStagesFails(t *testing.T) {
	_, err := Render(t.TempDir(), Delays{})
	require.ErrorContains(t, err, "kube-binaries.sh")
}

func TestStagesSkipProcessPods(t *testing.T) {
	out, err := Render("testdata/stages", Delays{PodStart: time.Second})
	require.NoError(t, err)
	skipped := map[string]bool{}
	for doc := range strings.SplitSeq(string(out), "---\n") {
		if !strings.Contains(doc, "kind: Pod") {
			continue
		}
		name := doc[strings.Index(doc, "name: ")+6:]
		name = name[:strings.IndexByte(name, '\n')]
		skipped[name] = strings.Contains(doc, `.metadata.labels["`+workloads.ProcessLabel+`"]`)
	}
	require.False(t, skipped["pod-create"], "kwok still gives a process pod its IP")
	for _, s := range []string{"pod-ready", "pod-delete", "pod-complete", "pod-init-container-running"} {
		require.True(t, skipped[s], "%s leaves process pods to the agent", s)
	}
}
