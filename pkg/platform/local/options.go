package local

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Options configure a Platform. Zero values are documented per field.
type Options struct {
	// Sandbox is the plan's target.local, defaulted. Required.
	Sandbox *v1alpha1.LocalSandbox
	// StateDir is firedrill's state directory; the sandbox lives under
	// StateDir/sandbox/<ID>. Required.
	StateDir string
	// ID names this sandbox; empty means a fresh sb-<UTC time>-<random>.
	ID string
	// Executable is the binary re-executed for every child (it must have
	// the `recommender` and `frontdoor` commands); empty means this
	// process's own executable.
	Executable string
	// Env is added to the children's environment.
	Env []string
	// ModelCacheDir caches trained models; empty means DefaultModelCacheDir.
	ModelCacheDir string
	// Clock drives the supervisor and timestamps; nil means real time.
	Clock clock.WithTicker
	// StartTimeout bounds Start, including a first model build. Zero means
	// 10m.
	StartTimeout time.Duration
	// KeepState keeps the stores' data and the nodes' caches after Stop;
	// logs are always kept.
	KeepState bool
	// HealthInterval is the front door's health-check interval. Zero means
	// 200ms.
	HealthInterval time.Duration
	// PollInterval is how often replicas check their store for a new model
	// version (and retry while degraded). Zero means 2s.
	PollInterval time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.Sandbox == nil {
		errs = append(errs, errors.New("the sandbox spec (target.local) is required"))
	} else if len(o.Sandbox.Regions) == 0 {
		errs = append(errs, errors.New("the sandbox needs at least one region"))
	}
	if o.StateDir == "" {
		errs = append(errs, errors.New("a state directory is required"))
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.ID == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.ID = "sb-" + o.Clock.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this executable to run the sandbox's processes: %w", err)
		}
		o.Executable = exe
	}
	if o.ModelCacheDir == "" {
		o.ModelCacheDir = DefaultModelCacheDir()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Minute
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 200 * time.Millisecond
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	return nil
}
