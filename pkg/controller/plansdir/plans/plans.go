package plans

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fsnotify/fsnotify"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
)

// Plan is a plan the directory provides: the last good version of it.
type Plan struct {
	// Plan is the plan.
	Plan *plan.Plan
	// File is the file it came from.
	File string
}

// Dir is the plans directory as last read: each plan's last good version
// and each file's refused latest version. It is not safe for concurrent
// use: the runner guards it with its lock.
type Dir struct {
	path  string
	plans map[string]*Plan
	files map[string]*fileState
}

// New returns the plans directory dir, not read yet (Reload reads it).
func New(dir string) *Dir {
	return &Dir{path: dir, plans: map[string]*Plan{}, files: map[string]*fileState{}}
}

// Plan returns the plan called name; nil when the directory provides
// none.
func (d *Dir) Plan(name string) *Plan { return d.plans[name] }

// Len is how many plans the directory provides.
func (d *Dir) Len() int { return len(d.plans) }

// All are the plans the directory provides, in no order.
func (d *Dir) All() iter.Seq[*Plan] { return maps.Values(d.plans) }

// Refused are the files that provide no plan because their only version
// was refused, with their problems as text, in no order.
func (d *Dir) Refused() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for path, fs := range d.files {
			if len(fs.plans) == 0 && len(fs.problems) > 0 {
				if !yield(path, fs.problems.Error()) {
					return
				}
			}
		}
	}
}

// fileState is what the directory knows of one plan file.
type fileState struct {
	// sum is the content's sha256 when last read; a file read again with
	// the same content is not loaded again.
	sum [sha256.Size]byte
	// plans are the names of the plans the file provides: its last good
	// version's.
	plans []string
	// problems are why its latest version was refused; nil when it was
	// taken.
	problems plan.Problems
}

// planFiles lists the plan files of dir: *.yaml and *.yml, not hidden,
// not directories (symbolic links to files count), sorted.
func planFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the plans directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
			continue
		}
		out = append(out, path)
	}
	return out, nil
}

// readPlanFile reads a file within the loader's size limit.
func readPlanFile(path string) ([]byte, *plan.Problem) {
	f, err := os.Open(path) //nolint:gosec // a file of the plans directory.
	if err != nil {
		return nil, &plan.Problem{File: path, Message: "reading: " + err.Error()}
	}
	defer f.Close() //nolint:errcheck // read-only.
	data, err := io.ReadAll(io.LimitReader(f, plan.DefaultMaxFileSize+1))
	if err != nil {
		return nil, &plan.Problem{File: path, Message: "reading: " + err.Error()}
	}
	if len(data) > plan.DefaultMaxFileSize {
		return nil, &plan.Problem{File: path, Message: fmt.Sprintf("larger than the %d MiB limit for a plan file", plan.DefaultMaxFileSize>>20)}
	}
	return data, nil
}

// Reload reads the directory again and takes every changed file whose
// new version is valid; a file whose new version is not keeps its last
// good plans, with its problems. It calls removed with each plan that
// goes away, as it goes, and returns the names of the plans that changed,
// appeared or went away.
func (d *Dir) Reload(ctx context.Context, removed func(name string)) ([]string, error) {
	paths, err := planFiles(d.path)
	if err != nil {
		// An unreadable directory takes nothing away: every plan stays.
		return nil, err
	}
	logger := log.FromContext(ctx)
	loader := &plan.Loader{}
	changed := map[string]bool{}
	for path := range d.files {
		if !slices.Contains(paths, path) {
			for _, name := range d.files[path].plans {
				d.remove(name, removed)
				changed[name] = true
			}
			delete(d.files, path)
			logger.Info("plan file removed", "file", path)
		}
	}
	for _, path := range paths {
		data, problem := readPlanFile(path)
		fs := d.files[path]
		if fs == nil {
			fs = &fileState{}
			d.files[path] = fs
		}
		if problem != nil {
			fs.sum, fs.problems = [sha256.Size]byte{}, plan.Problems{*problem}
			refused(ctx, path, fs)
			continue
		}
		sum := sha256.Sum256(data)
		if sum == fs.sum {
			continue
		}
		fs.sum = sum
		plans, problems := loader.LoadBytes(path, data)
		problems = append(problems, d.nameClashes(path, plans)...)
		if len(problems) > 0 {
			fs.problems = problems
			refused(ctx, path, fs)
			continue
		}
		fs.problems = nil
		var names []string
		for _, p := range plans {
			names = append(names, p.Name)
			if old := d.plans[p.Name]; old == nil || old.Plan.Hash() != p.Hash() {
				logger.Info("plan loaded", "plan", p.Name, "file", path, "hash", p.Hash()[:12])
			}
			d.plans[p.Name] = &Plan{Plan: p, File: path}
			changed[p.Name] = true
		}
		for _, name := range fs.plans {
			if !slices.Contains(names, name) {
				d.remove(name, removed)
				changed[name] = true
			}
		}
		fs.plans = names
	}
	return slices.Sorted(maps.Keys(changed)), nil
}

// refused logs a file whose latest version was not taken.
func refused(ctx context.Context, path string, fs *fileState) {
	msg := "plan file refused; the last good version of its plans stays scheduled"
	if len(fs.plans) == 0 {
		msg = "plan file refused; it provides no plan"
	}
	for _, p := range fs.problems {
		log.FromContext(ctx).Warn(msg, "file", path, "plans", fs.plans, "problem", p.String())
	}
}

// nameClashes are the plans of path that another file already provides,
// or that path defines twice.
func (d *Dir) nameClashes(path string, plans []*plan.Plan) plan.Problems {
	var out plan.Problems
	seen := map[string]bool{}
	for _, p := range plans {
		switch other := d.plans[p.Name]; {
		case seen[p.Name]:
			out = append(out, plan.Problem{File: path, Field: "metadata.name", Message: fmt.Sprintf("duplicate plan name %q (twice in this file)", p.Name)})
		case other != nil && other.File != path:
			out = append(out, plan.Problem{File: path, Field: "metadata.name", Message: fmt.Sprintf("duplicate plan name %q (also in %s)", p.Name, other.File)})
		}
		seen[p.Name] = true
	}
	return out
}

// remove forgets a plan and tells removed.
func (d *Dir) remove(name string, removed func(name string)) {
	delete(d.plans, name)
	removed(name)
}

// Problems is the refused latest version of a file (the one a plan is
// in), as text; "" when it was taken.
func (d *Dir) Problems(path string) string {
	fs := d.files[path]
	if fs == nil || len(fs.problems) == 0 {
		return ""
	}
	return fs.problems.Error()
}

// Watch forwards the change notices of w, a watcher of the plans
// directory dir, to changed, without blocking: a notice already pending
// stands for the new one. It returns once the watcher is closed.
func Watch(ctx context.Context, w *fsnotify.Watcher, dir string, changed chan<- struct{}) {
	for {
		select {
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			select {
			case changed <- struct{}{}:
			default: // a notice is already pending
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				log.FromContext(ctx).Warn("watching the plans directory", "dir", dir, "err", err)
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}
