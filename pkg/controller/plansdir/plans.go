package plansdir

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fsnotify/fsnotify"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
)

// fileState is what the runner knows of one plan file.
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

// reload reads the plans directory again and takes every changed file
// whose new version is valid; a file whose new version is not keeps its
// last good plans, with its problems. It returns the names of the plans
// that changed, appeared or went away. The caller is the worker.
func (r *Runner) reload(ctx context.Context) ([]string, error) {
	paths, err := planFiles(r.opts.Dir)
	if err != nil {
		// An unreadable directory takes nothing away: every plan stays.
		return nil, err
	}
	logger := log.FromContext(ctx)
	loader := &plan.Loader{}
	changed := map[string]bool{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for path := range r.files {
		if !slices.Contains(paths, path) {
			for _, name := range r.files[path].plans {
				r.removePlan(name)
				changed[name] = true
			}
			delete(r.files, path)
			logger.Info("plan file removed", "file", path)
		}
	}
	for _, path := range paths {
		data, problem := readPlanFile(path)
		fs := r.files[path]
		if fs == nil {
			fs = &fileState{}
			r.files[path] = fs
		}
		if problem != nil {
			fs.sum, fs.problems = [sha256.Size]byte{}, plan.Problems{*problem}
			r.refused(ctx, path, fs)
			continue
		}
		sum := sha256.Sum256(data)
		if sum == fs.sum {
			continue
		}
		fs.sum = sum
		plans, problems := loader.LoadBytes(path, data)
		problems = append(problems, r.nameClashes(path, plans)...)
		if len(problems) > 0 {
			fs.problems = problems
			r.refused(ctx, path, fs)
			continue
		}
		fs.problems = nil
		var names []string
		for _, p := range plans {
			names = append(names, p.Name)
			if old := r.plans[p.Name]; old == nil || old.plan.Hash() != p.Hash() {
				logger.Info("plan loaded", "plan", p.Name, "file", path, "hash", p.Hash()[:12])
			}
			r.plans[p.Name] = &planState{plan: p, file: path}
			changed[p.Name] = true
		}
		for _, name := range fs.plans {
			if !slices.Contains(names, name) {
				r.removePlan(name)
				changed[name] = true
			}
		}
		fs.plans = names
	}
	return slices.Sorted(maps.Keys(changed)), nil
}

// refused logs a file whose latest version was not taken.
func (r *Runner) refused(ctx context.Context, path string, fs *fileState) {
	msg := "plan file refused; the last good version of its plans stays scheduled"
	if len(fs.plans) == 0 {
		msg = "plan file refused; it provides no plan"
	}
	for _, p := range fs.problems {
		log.FromContext(ctx).Warn(msg, "file", path, "plans", fs.plans, "problem", p.String())
	}
}

// nameClashes are the plans of path that another file already provides,
// or that path defines twice. The caller holds r.mu.
func (r *Runner) nameClashes(path string, plans []*plan.Plan) plan.Problems {
	var out plan.Problems
	seen := map[string]bool{}
	for _, p := range plans {
		switch other := r.plans[p.Name]; {
		case seen[p.Name]:
			out = append(out, plan.Problem{File: path, Field: "metadata.name", Message: fmt.Sprintf("duplicate plan name %q (twice in this file)", p.Name)})
		case other != nil && other.file != path:
			out = append(out, plan.Problem{File: path, Field: "metadata.name", Message: fmt.Sprintf("duplicate plan name %q (also in %s)", p.Name, other.file)})
		}
		seen[p.Name] = true
	}
	return out
}

// removePlan forgets a plan: its schedule starts afresh if it comes back.
// Its runs in progress go on. The caller holds r.mu.
func (r *Runner) removePlan(name string) {
	delete(r.plans, name)
	delete(r.statuses, name)
	delete(r.due, name)
	r.opts.Observer.PlanRemoved(name)
}

// fileProblems is the refused latest version of the file a plan is in,
// as text; "" when it was taken. The caller holds r.mu.
func (r *Runner) fileProblems(path string) string {
	fs := r.files[path]
	if fs == nil || len(fs.problems) == 0 {
		return ""
	}
	return fs.problems.Error()
}

// watch forwards change notices of the plans directory to the worker until
// the watcher is closed.
func (r *Runner) watch(ctx context.Context, w *fsnotify.Watcher) {
	for {
		select {
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			select {
			case r.changed <- struct{}{}:
			default: // a notice is already pending
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				log.FromContext(ctx).Warn("watching the plans directory", "dir", r.opts.Dir, "err", err)
			}
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}
}
