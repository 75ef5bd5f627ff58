package artifact

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// ManifestFile lists every file of an artifact with its sha256, in the
// format of sha256sum.
const ManifestFile = "SHA256SUMS"

// ErrCorrupt is wrapped by Read and the decoders when a checksum, size or
// format check fails.
var ErrCorrupt = errors.New("corrupt model artifact")

// Write writes files, by name, and their ManifestFile as an artifact
// directory at dir. The directory must not exist or be empty. Files are
// written to a temporary sibling directory, fsynced, and renamed into
// place, so dir either holds a complete artifact or nothing.
func Write(dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("creating temporary artifact directory: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp, err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var sums bytes.Buffer
	for _, name := range names {
		sum := sha256.Sum256(files[name])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		if err := writeFileSync(filepath.Join(tmp, name), files[name]); err != nil {
			return err
		}
	}
	if err := writeFileSync(filepath.Join(tmp, ManifestFile), sums.Bytes()); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("moving artifact into place at %s: %w", dir, err)
	}
	ok = true
	return syncDir(parent)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }() // read-only handle, synced above
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Read reads the manifest in dir and every file it lists, verifying
// each checksum. Files present in dir but absent from the manifest are an
// error too: an artifact is exactly what its manifest says. The contents
// are views of the returned Regions where the host maps files; the caller
// releases them once nothing uses the contents.
func Read(dir string) (map[string][]byte, *Regions, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("opening model artifact: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s: missing %s", ErrCorrupt, dir, ManifestFile)
		}
		return nil, nil, fmt.Errorf("reading manifest: %w", err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	line := 0
	for sc.Scan() {
		line++
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" || strings.ContainsAny(name, `/\`) || name == ManifestFile {
			return nil, nil, fmt.Errorf("%w: %s:%d: malformed manifest line", ErrCorrupt, ManifestFile, line)
		}
		want[name] = sum
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		if _, ok := want[e.Name()]; !ok && e.Name() != ManifestFile {
			return nil, nil, fmt.Errorf("%w: %s is not in the manifest", ErrCorrupt, e.Name())
		}
	}
	// Read and hash files in parallel: the factor matrices dominate and
	// hashing is CPU-bound.
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	contents := make([][]byte, len(names))
	unmaps := make([]func() error, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(len(names), max(2, runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			for j := range work {
				contents[j], unmaps[j], errs[j] = readFileChecked(dir, names[j], want[names[j]])
			}
		})
	}
	for j := range names {
		work <- j
	}
	close(work)
	wg.Wait()
	reg := &Regions{}
	for _, u := range unmaps {
		if u != nil {
			reg.unmaps = append(reg.unmaps, u)
		}
	}
	if err := errors.Join(errs...); err != nil {
		reg.Release()
		return nil, nil, err
	}
	files := make(map[string][]byte, len(names))
	for j, name := range names {
		files[name] = contents[j]
	}
	return files, reg, nil
}

// readFileChecked maps dir/name and verifies its sha256 against sum. On
// success the caller owns unmap.
func readFileChecked(dir, name, sum string) ([]byte, func() error, error) {
	b, unmap, err := mapFile(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s is listed in the manifest but missing", ErrCorrupt, name)
		}
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	got := sha256.Sum256(b)
	if hex.EncodeToString(got[:]) != sum {
		_ = unmap()
		return nil, nil, fmt.Errorf("%w: %s: sha256 mismatch (size %d bytes)", ErrCorrupt, name, len(b))
	}
	return b, unmap, nil
}

// Regions are the file mappings backing what Read returned: a loaded
// model's arrays. The model releases them through the garbage collector
// once it is unreachable, never by Close, so a reader still holding the
// model cannot fault.
type Regions struct {
	unmaps []func() error
}

// Release unmaps the files; nothing read from them may be used after.
func (r *Regions) Release() {
	for _, u := range r.unmaps {
		_ = u()
	}
	r.unmaps = nil
}
