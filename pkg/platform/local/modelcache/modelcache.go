package modelcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/store"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// Spec sizes the sandbox's default model.
type Spec struct {
	Users, Items int
	Seed         uint64
}

// key names the model's cache entry.
func (m Spec) key() string {
	return fmt.Sprintf("recommender-u%d-i%d-s%d", m.Users, m.Items, m.Seed)
}

// DefaultDir is $XDG_CACHE_HOME/firedrill/models (usually
// ~/.cache/firedrill/models).
func DefaultDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "firedrill", "models")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "firedrill", "models")
	}
	return filepath.Join(os.TempDir(), "firedrill-models")
}

// Model is a model artifact ready to push.
type Model struct {
	Dir      string
	Metadata model.Metadata
	// Built is true when this call trained it; BuildTime is how long that
	// took.
	Built     bool
	BuildTime time.Duration
}

// Ensure returns the cached model for spec under cacheDir, generating
// the data and training it first when there is none. The cache entry
// appears atomically (built in a temporary directory, then renamed), so a
// crash never leaves a half-written model behind and concurrent builders
// agree on one.
func Ensure(ctx context.Context, clk clock.PassiveClock, cacheDir string, spec Spec) (Model, error) {
	dir := filepath.Join(cacheDir, spec.key())
	if md, err := loadMetadata(dir); err == nil {
		return Model{Dir: dir, Metadata: md}, nil
	}
	logger := log.FromContext(ctx)
	logger.Info("building the sandbox model (first use; cached afterwards)", "users", spec.Users, "items", spec.Items, "seed", spec.Seed, "cache", dir)
	t0 := clk.Now()
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Model{}, fmt.Errorf("creating the model cache: %w", err)
	}
	removeStaleBuilds(clk, cacheDir)
	ds, err := data.Generate(ctx, data.Config{Users: spec.Users, Items: spec.Items, Seed: spec.Seed})
	if err != nil {
		return Model{}, fmt.Errorf("generating the sandbox data: %w", err)
	}
	mdl, _, err := train.Build(ctx, ds, train.Options{})
	if err != nil {
		return Model{}, fmt.Errorf("training the sandbox model: %w", err)
	}
	defer func() { _ = mdl.Close() }()
	tmp := filepath.Join(cacheDir, ".tmp-"+spec.key()+"-"+randomSuffix())
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := mdl.Save(tmp); err != nil {
		return Model{}, fmt.Errorf("saving the sandbox model: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another builder won the race: use its model.
		if md, lerr := loadMetadata(dir); lerr == nil {
			return Model{Dir: dir, Metadata: md}, nil
		}
		_ = os.RemoveAll(dir) // a damaged entry: replace it
		if err := os.Rename(tmp, dir); err != nil {
			return Model{}, fmt.Errorf("installing the sandbox model in the cache: %w", err)
		}
	}
	md, err := loadMetadata(dir)
	if err != nil {
		return Model{}, err
	}
	d := clk.Since(t0)
	logger.Info("built the sandbox model", "version", md.Version, "duration", d.Round(time.Millisecond))
	return Model{Dir: dir, Metadata: md, Built: true, BuildTime: d}, nil
}

// loadMetadata reads an artifact's metadata after checking that it loads.
func loadMetadata(dir string) (model.Metadata, error) {
	if _, err := os.Stat(filepath.Join(dir, "metadata.json")); err != nil {
		return model.Metadata{}, fmt.Errorf("no model in %s: %w", dir, err)
	}
	m, err := model.Load(dir)
	if err != nil {
		return model.Metadata{}, fmt.Errorf("loading the cached model %s: %w", dir, err)
	}
	md := m.Metadata()
	_ = m.Close()
	return md, nil
}

// Push pushes m to ref (host:port/repo:tag).
func Push(ctx context.Context, m Model, ref string) error {
	cfg, err := json.Marshal(m.Metadata)
	if err != nil {
		return fmt.Errorf("encoding model metadata: %w", err)
	}
	s, err := store.New(store.Options{Logger: log.FromContext(ctx)})
	if err != nil {
		return fmt.Errorf("creating a store client: %w", err)
	}
	md := m.Metadata
	if _, err := s.Push(ctx, ref, m.Dir, store.PushOptions{Version: md.Version, Created: md.CreatedAt, DataHash: md.DataHash, Config: cfg}); err != nil {
		return fmt.Errorf("pushing the model to %s: %w", ref, err)
	}
	return nil
}

// removeStaleBuilds removes temporary build directories that a killed
// build left behind more than an hour ago.
func removeStaleBuilds(clk clock.PassiveClock, cacheDir string) {
	ents, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && clk.Since(info.ModTime()) > time.Hour {
			_ = os.RemoveAll(filepath.Join(cacheDir, e.Name()))
		}
	}
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
