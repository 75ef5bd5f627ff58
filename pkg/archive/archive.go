package archive

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/oci"
	"github.com/firedrill/firedrill/pkg/report"
)

// Archive is where report sets live. Both kinds, a directory and a
// registry, implement it; the drill commands and drill serve use it.
type Archive interface {
	// String is the archive's location: a directory, or
	// oci://host/repository.
	String() string
	// Check proves, before a run touches anything, that a report set can
	// be stored: a directory is created and test-written, a registry is
	// reached and accepts the credentials for a push.
	Check(ctx context.Context) error
	// Put stores one run's report set (files include SHA256SUMS) and
	// records e, returning it with its Path and Digest.
	Put(ctx context.Context, e index.Entry, files []report.File) (index.Entry, error)
	// Index returns the archive's index; report sets that could not be
	// read are in its Problems.
	Index(ctx context.Context) (*index.Index, error)
	// Get reads a run's report set and verifies it against its SHA256SUMS
	// and the digest e recorded. A damaged set is an index.Problem.
	Get(ctx context.Context, e index.Entry) ([]report.File, error)
	// Delete removes runs.
	Delete(ctx context.Context, entries []index.Entry) error
}

// Options configure Open.
type Options struct {
	// OCI configures a registry archive.
	OCI oci.Options
}

// Open returns the archive at location: oci://host/repository is a
// registry, anything else a directory. It touches nothing; Check does.
func Open(location string, opts Options) (Archive, error) {
	if location == "" {
		return nil, fmt.Errorf("no archive: give --archive DIR or oci://host/repository")
	}
	if oci.IsLocation(location) {
		return oci.New(location, opts.OCI)
	}
	return local.New(location)
}

// Select returns the runs q selects, oldest first, with the problems the
// archive found. A registry reads only what the query needs.
func Select(ctx context.Context, a Archive, q index.Query) ([]index.Entry, []index.Problem, error) {
	if s, ok := a.(interface {
		Select(context.Context, index.Query) ([]index.Entry, error)
	}); ok && q.Plan != "" {
		es, err := s.Select(ctx, q)
		return es, nil, err
	}
	idx, err := a.Index(ctx)
	if err != nil {
		return nil, nil, err
	}
	return idx.Select(q), idx.Problems, nil
}

// Locate is where a run's report set is, for people: its directory in a
// directory archive, its reference and digest in a registry.
func Locate(a Archive, e index.Entry) string {
	if l, ok := a.(*local.Archive); ok {
		return l.Dir(&e)
	}
	return e.Path + "@" + e.Digest
}

// HTMLPath is the path of a run's report.html on disk, or "" when the
// archive is a registry.
func HTMLPath(a Archive, e index.Entry) string {
	if l, ok := a.(*local.Archive); ok {
		return filepath.Join(l.Dir(&e), HTMLFile)
	}
	return ""
}
