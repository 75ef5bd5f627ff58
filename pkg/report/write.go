package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/firedrill/firedrill/pkg/atomicfile"
)

// Files written for every run.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	JUnitFile    = "junit.xml"
)

// Dir is where a run's report lives under root.
func Dir(root string, r *Report) string {
	return filepath.Join(root, r.Plan.Name, r.RunID)
}

// File is one rendered file of a report set.
type File struct {
	// Name is the file's name in the report directory.
	Name string
	// Data is its content.
	Data []byte
}

// Render renders every format of r, report.json last.
func Render(r *Report) ([]File, error) {
	junit, err := JUnit(r)
	if err != nil {
		return nil, err
	}
	js, err := JSON(r)
	if err != nil {
		return nil, err
	}
	return []File{{MarkdownFile, Markdown(r)}, {JUnitFile, junit}, {JSONFile, js}}, nil
}

// Write writes every format of r atomically under root/<plan>/<run-id>/ and
// returns that directory. report.json is written last, so its presence
// means the report is complete.
func Write(root string, r *Report) (string, error) {
	dir := Dir(root, r)
	files, err := Render(r)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return "", fmt.Errorf("writing report: %w", err)
		}
	}
	return dir, nil
}

// JSON renders the report as indented JSON.
func JSON(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	return buf.Bytes(), nil
}

// Read decodes a report.json.
func Read(data []byte) (*Report, error) {
	r := &Report{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("decoding report: %w", err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("report schema %q is not %q", r.Schema, SchemaVersion)
	}
	return r, nil
}
