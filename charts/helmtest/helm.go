package helmtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Helm is one helm binary.
type Helm struct {
	// Major is its major version, 3 or 4.
	Major int
	// Path is the binary.
	Path string
}

// String names it for subtests.
func (h Helm) String() string { return fmt.Sprintf("helm-v%d", h.Major) }

var binaries struct {
	sync.Mutex
	got map[int]string
}

// Binaries returns Helm v4 and v3, in that order: FIREDRILL_HELM4 and
// FIREDRILL_HELM3 when set, else what hack/helm.sh prints (it builds a
// missing version from the Go module proxy into the cache, about 10
// minutes each; `make helm HELM_MAJOR=all` does it ahead of the tests).
func Binaries(tb testing.TB) []Helm {
	tb.Helper()
	binaries.Lock()
	defer binaries.Unlock()
	if binaries.got == nil {
		binaries.got = map[int]string{}
		for _, major := range []int{4, 3} {
			if p := os.Getenv(fmt.Sprintf("FIREDRILL_HELM%d", major)); p != "" {
				binaries.got[major] = p
				continue
			}
			cmd := exec.Command(filepath.Join(RepoRoot(tb), "hack", "helm.sh"), fmt.Sprint(major))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				tb.Fatalf("hack/helm.sh %d: %v\n%s", major, err, stderr.String())
			}
			binaries.got[major] = strings.TrimSpace(string(out))
		}
	}
	return []Helm{{4, binaries.got[4]}, {3, binaries.got[3]}}
}

// RepoRoot is the repository's root directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Chart is the chart's directory.
func Chart(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(RepoRoot(tb), "charts", "firedrill")
}

// Run runs helm with args and returns stdout, stderr and the error. A
// private HOME and XDG directories keep the user's helm configuration out.
func (h Helm) Run(tb testing.TB, args ...string) (string, string, error) {
	tb.Helper()
	home := tb.TempDir()
	cmd := exec.Command(h.Path, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"HELM_CONFIG_HOME=", "HELM_CACHE_HOME=", "HELM_DATA_HOME=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", h, strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), err
}

// Template renders the chart as release "firedrill" in namespace
// firedrill-system with the extra args (--set, --values) and fails the
// test when helm fails.
func (h Helm) Template(tb testing.TB, args ...string) string {
	tb.Helper()
	all := append([]string{"template", "firedrill", Chart(tb), "--namespace", "firedrill-system"}, args...)
	out, stderr, err := h.Run(tb, all...)
	if err != nil {
		tb.Fatalf("%v\n%s", err, stderr)
	}
	return out
}

// Objects decodes a multi-document render, skipping empty documents.
func Objects(tb testing.TB, manifest string) []*unstructured.Unstructured {
	tb.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("decoding the render: %v", err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}
