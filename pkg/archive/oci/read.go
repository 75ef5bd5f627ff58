package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/report"
)

// Index lists every report artifact in the repository: the tags, then each
// artifact's manifest and index entry. Artifacts of other types are
// ignored; a report artifact that cannot be read is a problem, named and
// skipped. It costs two requests per run; a plan's newest runs are cheaper
// with Select.
func (a *Archive) Index(ctx context.Context) (*index.Index, error) {
	tags, err := a.tags(ctx)
	if err != nil {
		return nil, err
	}
	return a.entries(ctx, tags)
}

// Select returns the runs q selects. A query for a plan reads only the
// tags that start with "<plan>-", as generated run ids do, or with
// "<namespace>.<plan>-", as drill serve's runs in a cluster do (run
// <namespace>.<name>, a namespace has no dot); a run archived with a
// --run-id that does neither is found by Index only.
func (a *Archive) Select(ctx context.Context, q index.Query) ([]index.Entry, error) {
	tags, err := a.tags(ctx)
	if err != nil {
		return nil, err
	}
	if q.Plan != "" {
		// Generated run ids (<plan>-<UTC date>-<time>-<ms>-<random>) sort
		// by time within a plan and a prefix: read only the newest of each
		// prefix, enough for the query, with room for runs of plans whose
		// name merely starts the same, and for a bound on the start, only
		// the tags before it.
		byPrefix := map[string][]string{}
		for _, t := range tags {
			if p, ok := planPrefix(t, q.Plan); ok {
				byPrefix[p] = append(byPrefix[p], t)
			}
		}
		tags = tags[:0]
		for p, ts := range byPrefix {
			if !q.Before.IsZero() {
				bound := p + q.Before.UTC().Format("20060102-150405-000")
				ts = slices.DeleteFunc(ts, func(t string) bool { return t > bound+"\xff" })
			}
			if q.Last > 0 && len(ts) > 2*q.Last {
				ts = ts[len(ts)-2*q.Last:]
			}
			tags = append(tags, ts...)
		}
		slices.Sort(tags)
	}
	idx, err := a.entries(ctx, tags)
	if err != nil {
		return nil, err
	}
	return idx.Select(q), nil
}

// planPrefix returns the prefix of tag that names plan's runs, "<plan>-"
// or "<namespace>.<plan>-"; ok is false when tag names neither.
func planPrefix(tag, plan string) (string, bool) {
	if strings.HasPrefix(tag, plan+"-") {
		return plan + "-", true
	}
	ns, rest, ok := strings.Cut(tag, ".")
	if ok && ns != "" && strings.HasPrefix(rest, plan+"-") {
		return ns + "." + plan + "-", true
	}
	return "", false
}

func (a *Archive) tags(ctx context.Context) ([]string, error) {
	ctx = a.scoped(ctx, auth.ActionPull)
	var tags []string
	err := a.repo.Tags(ctx, "", func(ts []string) error {
		tags = append(tags, ts...)
		return nil
	})
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("listing the tags of %s: %w", a, err)
	}
	slices.Sort(tags)
	return tags, nil
}

// entries reads the artifacts of tags into an index.
func (a *Archive) entries(ctx context.Context, tags []string) (*index.Index, error) {
	ctx = a.scoped(ctx, auth.ActionPull)
	idx := index.New()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Concurrency)
	for _, tag := range tags {
		g.Go(func() error {
			e, err := a.entry(gctx, tag)
			mu.Lock()
			defer mu.Unlock()
			var pr index.Problem
			switch {
			case errors.Is(err, errNotReport):
			case errors.As(err, &pr):
				idx.AddProblem(pr)
			case err != nil:
				return err
			default:
				idx.Upsert(e)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", a, err)
	}
	return idx, nil
}

// errNotReport marks a tag that names something else than a report.
var errNotReport = errors.New("not a firedrill report")

// entry reads the index entry of the artifact tagged tag.
func (a *Archive) entry(ctx context.Context, tag string) (index.Entry, error) {
	path := a.ref.Registry + "/" + a.ref.Repository + ":" + tag
	desc, m, err := a.manifest(ctx, tag)
	if err != nil {
		if errors.Is(err, errNotReport) {
			return index.Entry{}, err
		}
		var pr index.Problem
		if errors.As(err, &pr) {
			return index.Entry{}, pr
		}
		return index.Entry{}, err
	}
	if m.Config.MediaType != EntryMediaType {
		return index.Entry{}, index.Problem{Path: path, Reason: fmt.Sprintf("corrupt report: its config is %s, not an index entry", m.Config.MediaType)}
	}
	data, err := content.FetchAll(ctx, a.repo, m.Config)
	if err != nil {
		return index.Entry{}, problemOrErr(path, "its index entry", err)
	}
	var e index.Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return index.Entry{}, index.Problem{Path: path, Reason: "corrupt report: decoding its index entry: " + err.Error()}
	}
	if e.RunID == "" || e.Plan == "" || Tag(e.RunID) != tag {
		return index.Entry{}, index.Problem{Path: path, Reason: fmt.Sprintf("misplaced report: it is run %q of plan %q", e.RunID, e.Plan)}
	}
	e.Path = path
	e.Digest = desc.Digest.String()
	return e, nil
}

// manifest resolves and fetches the manifest of tag, which must be a
// report artifact.
func (a *Archive) manifest(ctx context.Context, tag string) (ocispec.Descriptor, *ocispec.Manifest, error) {
	path := a.ref.Registry + "/" + a.ref.Repository + ":" + tag
	desc, err := a.repo.Resolve(ctx, tag)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return desc, nil, index.Problem{Path: path, Reason: "missing: the tag is gone"}
		}
		return desc, nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return desc, nil, errNotReport
	}
	data, err := content.FetchAll(ctx, a.repo, desc)
	if err != nil {
		return desc, nil, problemOrErr(path, "its manifest", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return desc, nil, index.Problem{Path: path, Reason: "corrupt report: decoding its manifest: " + err.Error()}
	}
	if m.ArtifactType != ArtifactType {
		return desc, nil, errNotReport
	}
	return desc, &m, nil
}

// problemOrErr turns a content error (a digest or size mismatch, a blob
// the registry lost) into a problem with the report, and leaves other
// errors (the registry is unreachable) as they are.
func problemOrErr(path, what string, err error) error {
	if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) || errors.Is(err, errdef.ErrNotFound) {
		return index.Problem{Path: path, Reason: "corrupt report: " + what + ": " + err.Error()}
	}
	return fmt.Errorf("reading %s of %s: %w", what, path, err)
}

// Get pulls the report set of e, verifying every layer against its digest
// and the files against SHA256SUMS, and the manifest against the digest e
// recorded, when it has one.
func (a *Archive) Get(ctx context.Context, e index.Entry) ([]report.File, error) {
	ctx = a.scoped(ctx, auth.ActionPull)
	tag := Tag(e.RunID)
	path := a.Ref(e.RunID)
	desc, m, err := a.manifest(ctx, tag)
	if errors.Is(err, errNotReport) {
		return nil, index.Problem{Path: path, Reason: "the tag names an artifact that is not a firedrill report"}
	}
	if err != nil {
		return nil, err
	}
	if e.Digest != "" && desc.Digest.String() != e.Digest {
		return nil, index.Problem{Path: path, Reason: fmt.Sprintf("the tag now names %s, not the archived %s: the evidence was replaced", desc.Digest, e.Digest)}
	}
	var files []report.File
	for _, l := range m.Layers {
		name := l.Annotations[ocispec.AnnotationTitle]
		if name == "" {
			return nil, index.Problem{Path: path, Reason: "corrupt report: a layer has no title"}
		}
		data, err := content.FetchAll(ctx, a.repo, l)
		if err != nil {
			return nil, problemOrErr(path, name, err)
		}
		files = append(files, report.File{Name: name, Data: data})
	}
	manifest := findFile(files, sums.FileName)
	if manifest == nil {
		return nil, index.Problem{Path: path, Reason: "partial report: " + sums.FileName + " is missing"}
	}
	if err := sums.Verify(manifest, files); err != nil {
		return nil, index.Problem{Path: path, Reason: "corrupt report: " + strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return files, nil
}

// Delete removes the runs' artifacts (their manifests; the registry's
// garbage collection reclaims the blobs). A run already gone is skipped.
func (a *Archive) Delete(ctx context.Context, entries []index.Entry) error {
	ctx = a.scoped(ctx, auth.ActionPull, auth.ActionDelete)
	var errs []error
	for _, e := range entries {
		desc, err := a.repo.Resolve(ctx, Tag(e.RunID))
		if errors.Is(err, errdef.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("resolving %s: %w", a.Ref(e.RunID), err))
			continue
		}
		if err := a.repo.Delete(ctx, desc); err != nil && !errors.Is(err, errdef.ErrNotFound) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", a.Ref(e.RunID), err))
		}
	}
	return errors.Join(errs...)
}
