package sums

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/pkg/report"
)

// FileName is the manifest's name in a report set.
const FileName = "SHA256SUMS"

// ErrMismatch is wrapped by every checksum error.
var ErrMismatch = errors.New("checksum mismatch")

// File is one file of a set: a report.File.
type File = report.File

// Sum is one line of a manifest.
type Sum struct {
	// Name is the file's name.
	Name string
	// SHA256 is its digest in lower-case hex.
	SHA256 string
}

// Compute returns the manifest of files, sorted by name.
func Compute(files []File) []byte {
	sums := make([]Sum, len(files))
	for i, f := range files {
		h := sha256.Sum256(f.Data)
		sums[i] = Sum{Name: f.Name, SHA256: hex.EncodeToString(h[:])}
	}
	slices.SortFunc(sums, func(a, b Sum) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	for _, s := range sums {
		b.WriteString(s.SHA256 + "  " + s.Name + "\n")
	}
	return b.Bytes()
}

// Digest is the manifest's own digest, "sha256:<hex>".
func Digest(manifest []byte) string {
	h := sha256.Sum256(manifest)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Parse reads a manifest. It accepts sha256sum's text ("  ") and binary
// (" *") separators and refuses anything else, a name with a directory,
// and a name listed twice.
func Parse(data []byte) ([]Sum, error) {
	var out []Sum
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		if len(line) < 66 || (line[64:66] != "  " && line[64:66] != " *") {
			return nil, fmt.Errorf("%s line %d: not \"<sha256>  <name>\"", FileName, n)
		}
		sum, name := line[:64], line[66:]
		if _, err := hex.DecodeString(sum); err != nil || strings.ToLower(sum) != sum {
			return nil, fmt.Errorf("%s line %d: %q is not a lower-case sha256 digest", FileName, n, sum)
		}
		if name == "" || name != path.Base(name) || name == "." || name == ".." {
			return nil, fmt.Errorf("%s line %d: %q is not a file name", FileName, n, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s line %d: %s is listed twice", FileName, n, name)
		}
		seen[name] = true
		out = append(out, Sum{Name: name, SHA256: sum})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", FileName, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no files", FileName)
	}
	return out, nil
}

// Verify checks files against manifest: every listed file is present with
// its digest, and no other file is present. The manifest itself may be
// among files. It returns every problem at once.
func Verify(manifest []byte, files []File) error {
	sums, err := Parse(manifest)
	if err != nil {
		return err
	}
	byName := make(map[string][]byte, len(files))
	for _, f := range files {
		byName[f.Name] = f.Data
	}
	var errs []error
	for _, s := range sums {
		data, ok := byName[s.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s is missing", s.Name))
			continue
		}
		delete(byName, s.Name)
		h := sha256.Sum256(data)
		if got := hex.EncodeToString(h[:]); got != s.SHA256 {
			errs = append(errs, fmt.Errorf("%s: %w: %s says %s, the file has %s", s.Name, ErrMismatch, FileName, short(s.SHA256), short(got)))
		}
	}
	delete(byName, FileName)
	extra := make([]string, 0, len(byName))
	for name := range byName {
		extra = append(extra, name)
	}
	slices.Sort(extra)
	for _, name := range extra {
		errs = append(errs, fmt.Errorf("%s is not listed in %s", name, FileName))
	}
	return errors.Join(errs...)
}

// short abbreviates a hex digest for messages.
func short(hex string) string {
	if len(hex) > 12 {
		return hex[:12] + "…"
	}
	return hex
}
