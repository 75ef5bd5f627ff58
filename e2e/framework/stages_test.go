package framework

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

func TestStagesSkipProcessPods(t *testing.T) {
	out, err := renderStages("testdata/stages", stageDelays{podStart: time.Second})
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
