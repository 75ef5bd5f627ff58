package platforms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Options are what platforms need from the command line.
type Options struct {
	// StateDir holds firedrill's state (journal, sandbox runs).
	StateDir string
}

// DefaultStateDir is $XDG_STATE_HOME/firedrill, or ~/.local/state/firedrill.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "firedrill")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "firedrill")
	}
	return filepath.Join(os.TempDir(), "firedrill-state")
}

// JournalDir is where run journals live under a state directory.
func JournalDir(stateDir string) string { return filepath.Join(stateDir, "journal") }

// New builds the platform spec targets.
func New(_ context.Context, spec *v1alpha1.DrillPlanSpec, _ Options) (platform.Platform, error) {
	switch spec.Target.Platform {
	case v1alpha1.PlatformNone:
		return platform.None{}, nil
	case v1alpha1.PlatformLocal, v1alpha1.PlatformKubernetes:
		return nil, fmt.Errorf("platform %s is not available in this build yet; use platform none with exec faults", spec.Target.Platform)
	default:
		return nil, fmt.Errorf("unknown platform %q", spec.Target.Platform)
	}
}
