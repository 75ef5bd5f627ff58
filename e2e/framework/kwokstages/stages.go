package kwokstages

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

// stageDirs are the kwok Stage sets the test bed runs, as copied by
// hack/kube-binaries.sh into <cache>/stages: nodes become Ready at once and
// keep a lease, pods go through the "general" lifecycle.
var stageDirs = []string{"node-fast", "node-heartbeat-with-lease", "pod-general"}

// Delays is how long kwok waits before it moves a pod into a stage.
type Delays struct {
	// PodStart is the delay between a pod getting its IP (at once after it
	// is scheduled) and becoming Ready.
	PodStart time.Duration
	// PodStartJitter is added to PodStart, uniformly random in [0, jitter].
	PodStartJitter time.Duration
}

// Render reads every Stage of stageDirs under dir and returns them as
// one multi-document YAML for kwok's --config, with the pod start delays
// replaced:
//
//   - pod-create (the pod gets its IP, containers "creating") happens without
//     delay, so a scheduled pod is Running-but-not-Ready at once;
//   - pod-ready waits PodStart (plus up to PodStartJitter).
//
// Both keep kwok's per-pod annotations, so a test can make one pod slower
// with pod-ready.stage.kwok.x-k8s.io/delay: "20s" (and .../jitter-delay).
// Other stages keep kwok's defaults; pod-delete, for instance, waits between
// 1 s and the pod's termination grace period.
//
// Every pod stage but pod-create skips the pods labelled workloads.ProcessLabel: kwok
// gives them their IP, and the node agent (procpods.NodeAgent) does the rest, as a
// kubelet would: it runs their process, reports Running and Ready from the
// process's readiness probe, and deletes them once the process has stopped.
func Render(dir string, d Delays) ([]byte, error) {
	var out bytes.Buffer
	for _, sub := range stageDirs {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("listing stages in %s: %w", sub, err)
		}
		slices.Sort(files)
		n := 0
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			doc, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading stage: %w", err)
			}
			stage, err := setStageDelay(doc, d)
			if err != nil {
				return nil, fmt.Errorf("stage %s: %w", f, err)
			}
			if stage == nil {
				continue
			}
			out.WriteString("---\n")
			out.Write(stage)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("no kwok stages in %s (run hack/kube-binaries.sh)", filepath.Join(dir, sub))
		}
	}
	return out.Bytes(), nil
}

// setStageDelay returns the Stage in doc with its delay adjusted, or nil when
// doc is not a Stage.
func setStageDelay(doc []byte, d Delays) ([]byte, error) {
	var obj map[string]any
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if obj["kind"] != "Stage" {
		return nil, nil
	}
	name, _ := nested(obj, "metadata")["name"].(string)
	spec := nested(obj, "spec")
	kind, _ := nested(spec, "resourceRef")["kind"].(string)
	switch name {
	case "pod-create":
		setDelay(spec, 0, 0)
	case "pod-ready":
		setDelay(spec, d.PodStart, d.PodStartJitter)
	}
	if kind == "Pod" && name != "pod-create" {
		skipProcessPods(spec)
	}
	if kind != "Pod" {
		return doc, nil
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return out, nil
}

// setDelay sets a Stage's fixed delay and, when jitter is positive, its
// upper bound (kwok draws uniformly from [duration, jitterDuration]). With no
// jitter the fixed upper bound is removed so the delay is exact, and kwok's
// jitter annotation, when a pod has one, still applies.
func setDelay(spec map[string]any, delay, jitter time.Duration) {
	dl, ok := spec["delay"].(map[string]any)
	if !ok {
		dl = map[string]any{}
		spec["delay"] = dl
	}
	dl["durationMilliseconds"] = delay.Milliseconds()
	if jitter > 0 {
		dl["jitterDurationMilliseconds"] = (delay + jitter).Milliseconds()
	} else {
		delete(dl, "jitterDurationMilliseconds")
	}
}

// skipProcessPods makes a pod Stage's selector leave out the pods labelled
// workloads.ProcessLabel.
func skipProcessPods(spec map[string]any) {
	sel, ok := spec["selector"].(map[string]any)
	if !ok {
		sel = map[string]any{}
		spec["selector"] = sel
	}
	exprs, _ := sel["matchExpressions"].([]any)
	sel["matchExpressions"] = append(exprs, map[string]any{
		"key":      `.metadata.labels["` + workloads.ProcessLabel + `"]`,
		"operator": "DoesNotExist",
	})
}

// nested returns obj[key] as a map, or an empty map.
func nested(obj map[string]any, key string) map[string]any {
	m, ok := obj[key].(map[string]any)
	if !ok {
		return map[string]any{}
	}
	return m
}
