package platforms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube"
	"github.com/firedrill/firedrill/pkg/platform/local"
)

// Options are what platforms need from the command line.
type Options struct {
	// StateDir holds firedrill's state (journal, sandbox runs).
	StateDir string
	// Kubeconfig is the kubeconfig file of the kubernetes platform; empty
	// means $KUBECONFIG, ~/.kube/config, then in-cluster.
	Kubeconfig string
	// KubeContext is the kubeconfig context; a plan's target.context wins,
	// and a plan with target.clusters uses the contexts it names.
	KubeContext string
	// KubeQPS and KubeBurst bound the kubernetes client's request rate;
	// zero means the platform's defaults.
	KubeQPS   float32
	KubeBurst int
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
func New(ctx context.Context, spec *v1alpha1.DrillPlanSpec, opts Options) (platform.Platform, error) {
	switch spec.Target.Platform {
	case v1alpha1.PlatformNone:
		return platform.None{}, nil
	case v1alpha1.PlatformLocal:
		return local.New(local.Options{Sandbox: spec.Target.Local, StateDir: opts.StateDir})
	case v1alpha1.PlatformKubernetes:
		ko := kube.Options{Spec: spec, Kubeconfig: opts.Kubeconfig, Context: opts.KubeContext, QPS: opts.KubeQPS, Burst: opts.KubeBurst}
		if len(spec.Target.Clusters) > 0 {
			// One cluster per region, each through its own context of
			// the kubeconfig; --context does not apply.
			ko.Context = ""
			return kube.NewFleet(ko)
		}
		return kube.New(ko)
	default:
		return nil, fmt.Errorf("unknown platform %q", spec.Target.Platform)
	}
}

// AddFlags adds the platform flags to a command.
func AddFlags(f *pflag.FlagSet) {
	f.String("state-dir", DefaultStateDir(), "directory for the run journal and sandbox state")
	f.String("kubeconfig", "", "kubeconfig for platform kubernetes (default $KUBECONFIG, ~/.kube/config, then in-cluster)")
	f.String("context", "", "kubeconfig context for platform kubernetes; a plan's target.context (or target.clusters) wins")
	f.Float32("kube-qps", kube.DefaultQPS, "Kubernetes client requests per second")
	f.Int("kube-burst", kube.DefaultBurst, "Kubernetes client request burst")
}

// FromViper reads the platform flags bound into v.
func FromViper(v *viper.Viper) Options {
	return Options{
		StateDir: v.GetString("state-dir"), Kubeconfig: v.GetString("kubeconfig"), KubeContext: v.GetString("context"),
		KubeQPS: float32(v.GetFloat64("kube-qps")), KubeBurst: v.GetInt("kube-burst"),
	}
}
