package plan

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func load(t *testing.T, args ...string) ([]*Plan, Problems) {
	t.Helper()
	plans, err := (&Loader{}).Load(context.Background(), args)
	var ps Problems
	if err != nil {
		require.True(t, errors.As(err, &ps), "unexpected error type %T: %v", err, err)
	}
	return plans, ps
}

// TestInvalidPlans pins the exact messages for every malformed fixture.
func TestInvalidPlans(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 30)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			_, ps := load(t, f)
			require.NotEmpty(t, ps, "the fixture must be rejected")
			for _, p := range ps {
				require.Equal(t, f, p.File)
				require.NotEmpty(t, p.Message)
			}
			golden.Assert(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(ps.Error()+"\n"))
		})
	}
}

// TestExamplePlans checks every plan in drills/ loads and pins it with its
// defaults applied.
func TestExamplePlans(t *testing.T) {
	files, err := filepath.Glob("../../drills/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			plans, ps := load(t, f)
			require.Empty(t, ps)
			require.Len(t, plans, 1)
			out, err := Show(plans[0].DrillPlan)
			require.NoError(t, err)
			golden.Assert(t, filepath.Join("testdata", "defaults", name+".golden.yaml"), out)
		})
	}
}

func TestDefaultsAreIdempotentAndReloadable(t *testing.T) {
	plans, ps := load(t, "../../drills/quickstart.yaml")
	require.Empty(t, ps)
	shown, err := Show(plans[0].DrillPlan)
	require.NoError(t, err)
	again, ps := (&Loader{}).LoadBytes("shown.yaml", shown)
	require.Empty(t, ps, "a plan printed with --show must load again")
	require.Equal(t, plans[0].Hash(), again[0].Hash())
}

func TestLoadSources(t *testing.T) {
	dir := t.TempDir()
	valid, err := os.ReadFile("../../drills/quickstart.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), valid, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644))
	multi := append(append([]byte{}, valid...), []byte("\n---\n")...)
	multi = append(multi, bytes.Replace(valid, []byte("name: quickstart"), []byte("name: second"), 1)...)

	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantPlans []string
		wantErr   string
	}{
		{name: "a directory loads its yaml files", args: []string{dir}, wantPlans: []string{"quickstart"}},
		{name: "stdin holds several documents", args: []string{"-"}, stdin: string(multi), wantPlans: []string{"quickstart", "second"}},
		{name: "the same name twice is refused", args: []string{dir, "-"}, stdin: string(valid), wantPlans: []string{"quickstart", "quickstart"}, wantErr: `<stdin>: metadata.name: duplicate plan name "quickstart" (also in ` + filepath.Join(dir, "a.yaml") + ")"},
		{name: "a missing file is named", args: []string{filepath.Join(dir, "nope.yaml")}, wantErr: "nope.yaml: no such file or directory"},
		{name: "an empty directory is refused", args: []string{t.TempDir()}, wantErr: "directory holds no .yaml or .yml files"},
		{name: "an empty input has no plans", args: []string{"-"}, stdin: "# nothing\n", wantErr: "<stdin>: no DrillPlan documents found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plans, err := (&Loader{Stdin: strings.NewReader(tt.stdin)}).Load(context.Background(), tt.args)
			var names []string
			for _, p := range plans {
				names = append(names, p.Name)
			}
			require.Equal(t, tt.wantPlans, names)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestHostileInput holds that garbage is refused quickly and cheaply.
func TestHostileInput(t *testing.T) {
	huge := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(50<<20))
	require.NoError(t, f.Close())

	var bomb strings.Builder
	bomb.WriteString("apiVersion: firedrill.dev/v1alpha1\nkind: DrillPlan\nmetadata: {name: b}\nspec:\n  chaos:\n")
	bomb.WriteString("    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		bomb.WriteString("    a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				bomb.WriteString(", ")
			}
			bomb.WriteString("*a" + string(rune('0'+i-1)))
		}
		bomb.WriteString("]\n")
	}
	bombInSpec := strings.Replace(bomb.String(), "  chaos:\n", "  steps:\n  - name: x\n    fault:\n      chaosMesh:\n        kind: PodChaos\n        spec:\n", 1)
	bombInSpec = strings.ReplaceAll(bombInSpec, "\n    a", "\n          a")

	deep := "apiVersion: firedrill.dev/v1alpha1\nkind: DrillPlan\nmetadata: {name: d}\nspec:\n  steps:\n  - name: x\n    fault:\n      chaosMesh:\n        kind: PodChaos\n        spec: " +
		strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/13)
	}

	tests := []struct {
		name    string
		args    []string
		stdin   []byte
		wantErr string
	}{
		{name: "a 50 MB file is refused by size", args: []string{huge}, wantErr: "file is 50.0 MiB, larger than the 4.0 MiB limit for a plan"},
		{name: "50 MB on stdin is refused by size", args: []string{"-"}, stdin: bytes.Repeat([]byte("a: b\n"), 10<<20), wantErr: "input is larger than the 4.0 MiB limit"},
		{name: "binary garbage is not YAML", args: []string{"-"}, stdin: garbage, wantErr: "not a YAML text file"},
		{name: "prose is not a plan", args: []string{"-"}, stdin: []byte("This is a letter, not a plan: it has: too: many colons\n"), wantErr: "not valid YAML"},
		{name: "an alias bomb is refused", args: []string{"-"}, stdin: []byte(bombInSpec), wantErr: "too many nodes once aliases are expanded"},
		{name: "deep nesting is refused", args: []string{"-"}, stdin: []byte(deep), wantErr: "nested more than 64 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			// Allocation, not time, is asserted: timings never gate unit
			// tests (BenchmarkHostileInput measures the time).
			_, err := (&Loader{Stdin: bytes.NewReader(tt.stdin)}).Load(context.Background(), tt.args)
			runtime.ReadMemStats(&after)
			require.ErrorContains(t, err, tt.wantErr)
			allocated := after.TotalAlloc - before.TotalAlloc
			require.Less(t, allocated, uint64(100<<20), "hostile input must be refused with less than 100 MB")
		})
	}
}

// BenchmarkHostileInput times the refusal of 50 MB on stdin, the slowest
// hostile input (it must be read up to the limit).
func BenchmarkHostileInput(b *testing.B) {
	in := bytes.Repeat([]byte("a: b\n"), 10<<20)
	for b.Loop() {
		_, err := (&Loader{Stdin: bytes.NewReader(in)}).Load(context.Background(), []string{"-"})
		require.ErrorContains(b, err, "larger than")
	}
}

func TestParent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"spec.steps[2].fault.podKill.value", "spec.steps[2].fault.podKill"},
		{"spec.steps[2]", "spec.steps"},
		{"metadata.labels[a.b]", "metadata.labels"},
		{"spec", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, parent(tt.in), tt.in)
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	more, _ := filepath.Glob("../../drills/*.yaml")
	for _, p := range append(files, more...) {
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		plans, ps := (&Loader{}).LoadBytes("fuzz.yaml", data)
		for _, p := range ps {
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
		for _, p := range plans {
			if _, err := Show(p.DrillPlan); err != nil {
				t.Fatalf("a valid plan cannot be shown: %v", err)
			}
		}
	})
}
