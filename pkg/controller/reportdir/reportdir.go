package reportdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
)

// ErrNotFound says a report or one of its files does not exist.
var ErrNotFound = errors.New("report not found")

// Files maps the API's report formats to the files of a report set.
var Files = map[string]string{
	"json":  report.JSONFile,
	"md":    report.MarkdownFile,
	"junit": report.JUnitFile,
}

// Dir is a report directory.
type Dir struct {
	// Root holds the reports.
	Root string
}

// Store writes rep under <root>/<namespace>/ and returns where it is.
func (d Dir) Store(_ context.Context, namespace string, rep *report.Report) (v1alpha1.ReportReference, error) {
	path, err := report.Write(filepath.Join(d.Root, namespace), rep)
	if err != nil {
		return v1alpha1.ReportReference{}, err
	}
	return v1alpha1.ReportReference{Path: path}, nil
}

// Delete removes the report ref points at. A report that is already gone
// is not an error; a path outside the root is refused.
func (d Dir) Delete(_ context.Context, ref v1alpha1.ReportReference) error {
	if ref.Path == "" {
		return nil
	}
	dir, err := d.inside(ref.Path)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("deleting report %s: %w", dir, err)
	}
	return nil
}

// Read returns one file of the report ref points at, by API format (json,
// md, junit).
func (d Dir) Read(_ context.Context, ref v1alpha1.ReportReference, format string) ([]byte, error) {
	name, ok := Files[format]
	if !ok || ref.Path == "" {
		return nil, ErrNotFound
	}
	dir, err := d.inside(ref.Path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	return data, nil
}

// inside cleans path and checks it lies under the root: a status is
// written by whoever may update it, and must not make drill serve delete
// or serve anything else.
func (d Dir) inside(path string) (string, error) {
	root, err := filepath.Abs(d.Root)
	if err != nil {
		return "", fmt.Errorf("report root %s: %w", d.Root, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("report path %s: %w", path, err)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("report path %s is outside the report directory %s", path, d.Root)
	}
	return abs, nil
}
