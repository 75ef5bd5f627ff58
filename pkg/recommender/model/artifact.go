package model

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// FormatVersion is the artifact layout version written to layout.json.
const FormatVersion = 1

// Artifact file names. Every file is listed with its sha256 in ManifestFile.
const (
	ManifestFile      = "SHA256SUMS"
	MetadataFile      = "metadata.json"
	layoutFile        = "layout.json"
	usersFile         = "users.str"
	itemsFile         = "items.str"
	titlesFile        = "titles.str"
	categoriesFile    = "categories.str"
	itemCategoryFile  = "item_category.i32"
	userFactorsFile   = "user_factors.f32"
	itemFactorsFile   = "item_factors.f32"
	seenOffsetsFile   = "seen_offsets.i32"
	seenItemsFile     = "seen_items.i32"
	neighborItemsFile = "neighbor_items.i32"
	neighborScoreFile = "neighbor_scores.f32"
	popularityFile    = "popularity.f32"
	easeItemsFile     = "ease_items.i32"
	easeScoreFile     = "ease_scores.f32"
	queriesFile       = "queries.str"
)

// layout records how the binary files are to be interpreted.
type layout struct {
	Format    int   `json:"format"`
	Rank      int   `json:"rank"`
	NeighborK int   `json:"neighborK"`
	Blend     Blend `json:"blend"`
	// EASEK is the EASE row length; zero (or absent) means no EASE files.
	EASEK int `json:"easeK,omitempty"`
	// Recommender is what Recommend ranks by; absent means als.
	Recommender string `json:"recommender,omitempty"`
}

// Binary file header: magic, kind, rows, cols (all little-endian).
const (
	magic      = "FDRM"
	kindF32    = 'f'
	kindI32    = 'i'
	kindStr    = 's'
	headerSize = 16
)

func header(kind byte, rows, cols int) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	h[4] = FormatVersion
	h[5] = kind
	binary.LittleEndian.PutUint32(h[8:], uint32(rows))
	binary.LittleEndian.PutUint32(h[12:], uint32(cols))
	return h
}

func encodeF32(rows, cols int, v []float32) []byte {
	b := header(kindF32, rows, cols)
	b = slices.Grow(b, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func encodeI32(rows, cols int, v []int32) []byte {
	b := header(kindI32, rows, cols)
	b = slices.Grow(b, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func encodeStrings(v []string) []byte {
	b := header(kindStr, len(v), 1)
	for _, s := range v {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// checkHeader validates a header and returns rows and cols.
func checkHeader(name string, b []byte, kind byte) (int, int, error) {
	if len(b) < headerSize || string(b[:4]) != magic {
		return 0, 0, fmt.Errorf("%w: %s: bad header", ErrCorrupt, name)
	}
	if b[4] != FormatVersion || b[5] != kind {
		return 0, 0, fmt.Errorf("%w: %s: unsupported version %d or kind %q", ErrCorrupt, name, b[4], b[5])
	}
	return int(binary.LittleEndian.Uint32(b[8:])), int(binary.LittleEndian.Uint32(b[12:])), nil
}

// littleEndian reports whether the host stores words little-endian, as the
// artifact does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// viewAs reinterprets b as n 4-byte little-endian values without copying
// when the host is little-endian and b is suitably aligned. The result
// shares b's memory, which the model owns after Load.
func viewAs[T float32 | int32](b []byte, n int) ([]T, bool) {
	if n == 0 {
		return []T{}, true
	}
	if !littleEndian || uintptr(unsafe.Pointer(&b[0]))%4 != 0 || len(b) != 4*n {
		return nil, false
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), true
}

func decodeF32(name string, b []byte, wantCols int) ([]float32, int, error) {
	return decodeTable(name, b, kindF32, wantCols, math.Float32frombits)
}

func decodeI32(name string, b []byte, wantCols int) ([]int32, int, error) {
	return decodeTable(name, b, kindI32, wantCols, func(u uint32) int32 { return int32(u) })
}

// decodeTable checks a 4-byte-element table and returns its body, viewed in
// place when aligned, or converted element by element with conv.
func decodeTable[T float32 | int32](name string, b []byte, kind byte, wantCols int, conv func(uint32) T) ([]T, int, error) {
	rows, cols, err := checkHeader(name, b, kind)
	if err != nil {
		return nil, 0, err
	}
	if wantCols >= 0 && cols != wantCols {
		return nil, 0, fmt.Errorf("%w: %s: %d columns, want %d", ErrCorrupt, name, cols, wantCols)
	}
	n := rows * cols
	if len(b) != headerSize+4*n {
		return nil, 0, fmt.Errorf("%w: %s: size %d, want %d", ErrCorrupt, name, len(b), headerSize+4*n)
	}
	body := b[headerSize:]
	if v, ok := viewAs[T](body, n); ok {
		return v, rows, nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = conv(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return out, rows, nil
}

func decodeStrings(name string, b []byte) ([]string, error) {
	rows, _, err := checkHeader(name, b, kindStr)
	if err != nil {
		return nil, err
	}
	body := b[headerSize:]
	if rows > len(body) {
		return nil, fmt.Errorf("%w: %s: %d strings in %d bytes", ErrCorrupt, name, rows, len(body))
	}
	// One backing string for all entries keeps the heap compact.
	all := string(body)
	out := make([]string, rows)
	off := 0
	for i := range out {
		n, w := binary.Uvarint(body[off:])
		if w <= 0 || uint64(len(body)-off-w) < n {
			return nil, fmt.Errorf("%w: %s: truncated at entry %d", ErrCorrupt, name, i)
		}
		off += w
		out[i] = all[off : off+int(n)]
		off += int(n)
	}
	if off != len(body) {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrCorrupt, name, len(body)-off)
	}
	return out, nil
}

// files returns the artifact's files by name.
func (m *Model) files() (map[string][]byte, error) {
	md, err := json.MarshalIndent(m.meta, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding metadata: %w", err)
	}
	lay, err := json.MarshalIndent(layout{Format: FormatVersion, Rank: m.rank, NeighborK: m.nbrK, Blend: m.blend, EASEK: m.easeK, Recommender: m.rec}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding layout: %w", err)
	}
	ni, nu := len(m.items), len(m.users)
	files := map[string][]byte{
		MetadataFile:      append(md, '\n'),
		layoutFile:        append(lay, '\n'),
		usersFile:         encodeStrings(m.users),
		itemsFile:         encodeStrings(m.items),
		titlesFile:        encodeStrings(m.titles),
		categoriesFile:    encodeStrings(m.categories),
		itemCategoryFile:  encodeI32(ni, 1, m.itemCat),
		userFactorsFile:   encodeF32(nu, m.rank, m.userF),
		itemFactorsFile:   encodeF32(m.rank, ni, m.itemFT),
		seenOffsetsFile:   encodeI32(nu+1, 1, m.seenPtr),
		seenItemsFile:     encodeI32(len(m.seen), 1, m.seen),
		neighborItemsFile: encodeI32(ni, m.nbrK, m.nbrItems),
		neighborScoreFile: encodeF32(ni, m.nbrK, m.nbrScore),
		popularityFile:    encodeF32(ni, 1, m.pop),
		queriesFile:       encodeStrings(m.queries),
	}
	if m.easeK > 0 {
		files[easeItemsFile] = encodeI32(ni, m.easeK, m.easeItems)
		files[easeScoreFile] = encodeF32(ni, m.easeK, m.easeScore)
	}
	for name, b := range m.search.files() {
		files[name] = b
	}
	return files, nil
}

// Save writes the model as an artifact directory at dir. The directory must
// not exist or be empty. Files are written to a temporary sibling
// directory, fsynced, and renamed into place, so dir either holds a
// complete artifact or nothing.
func (m *Model) Save(dir string) error {
	files, err := m.files()
	if err != nil {
		return err
	}
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

// readVerified reads the manifest in dir and every file it lists, verifying
// each checksum. Files present in dir but absent from the manifest are an
// error too: an artifact is exactly what its manifest says.
func readVerified(dir string) (map[string][]byte, *regions, error) {
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
	reg := &regions{}
	for _, u := range unmaps {
		if u != nil {
			reg.unmaps = append(reg.unmaps, u)
		}
	}
	if err := errors.Join(errs...); err != nil {
		reg.release()
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

// regions are the file mappings backing a loaded model's arrays. They are
// released by the garbage collector once the model is unreachable, never
// by Close, so a reader still holding the model cannot fault.
type regions struct {
	unmaps []func() error
}

func (r *regions) release() {
	for _, u := range r.unmaps {
		_ = u()
	}
	r.unmaps = nil
}

// ReadMetadata returns the metadata of the artifact in dir without loading
// or verifying the rest of it.
func ReadMetadata(dir string) (Metadata, error) {
	var md Metadata
	b, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		return md, fmt.Errorf("reading metadata: %w", err)
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return md, fmt.Errorf("%w: %s: %w", ErrCorrupt, MetadataFile, err)
	}
	return md, nil
}

// Load reads and verifies the artifact in dir. Any checksum, size or format
// failure returns an error wrapping ErrCorrupt.
func Load(dir string) (*Model, error) {
	files, reg, err := readVerified(dir)
	if err != nil {
		return nil, err
	}
	m, err := decode(files)
	if err != nil {
		reg.release()
		return nil, err
	}
	runtime.AddCleanup(m, func(r *regions) { r.release() }, reg)
	return m, nil
}

// decode builds a model from verified artifact files. Numeric arrays are
// views of the file contents where the host allows it.
func decode(files map[string][]byte) (*Model, error) {
	get := func(name string) ([]byte, error) {
		b, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s is missing from the manifest", ErrCorrupt, name)
		}
		return b, nil
	}
	m := &Model{}
	var lay layout
	b, err := get(layoutFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &lay); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, layoutFile, err)
	}
	if lay.Format != FormatVersion {
		return nil, fmt.Errorf("%w: artifact format %d, this build reads %d", ErrCorrupt, lay.Format, FormatVersion)
	}
	if lay.Rank <= 0 || lay.NeighborK < 0 || lay.EASEK < 0 {
		return nil, fmt.Errorf("%w: %s: bad rank %d or neighbour counts %d, %d", ErrCorrupt, layoutFile, lay.Rank, lay.NeighborK, lay.EASEK)
	}
	m.rank, m.nbrK, m.blend, m.easeK, m.rec = lay.Rank, lay.NeighborK, lay.Blend, lay.EASEK, lay.Recommender
	if b, err = get(MetadataFile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m.meta); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, MetadataFile, err)
	}
	strs := []struct {
		name string
		dst  *[]string
	}{
		{usersFile, &m.users}, {itemsFile, &m.items}, {titlesFile, &m.titles},
		{categoriesFile, &m.categories}, {queriesFile, &m.queries},
	}
	for _, s := range strs {
		if b, err = get(s.name); err != nil {
			return nil, err
		}
		if *s.dst, err = decodeStrings(s.name, b); err != nil {
			return nil, err
		}
	}
	nu, ni := len(m.users), len(m.items)
	type arr struct {
		name       string
		rows, cols int
		f32        *[]float32
		i32        *[]int32
	}
	arrs := []arr{
		{name: itemCategoryFile, rows: ni, cols: 1, i32: &m.itemCat},
		{name: userFactorsFile, rows: nu, cols: m.rank, f32: &m.userF},
		{name: itemFactorsFile, rows: m.rank, cols: ni, f32: &m.itemFT},
		{name: seenOffsetsFile, rows: nu + 1, cols: 1, i32: &m.seenPtr},
		{name: seenItemsFile, rows: -1, cols: 1, i32: &m.seen},
		{name: neighborItemsFile, rows: ni, cols: m.nbrK, i32: &m.nbrItems},
		{name: neighborScoreFile, rows: ni, cols: m.nbrK, f32: &m.nbrScore},
		{name: popularityFile, rows: ni, cols: 1, f32: &m.pop},
	}
	if m.easeK > 0 {
		arrs = append(arrs,
			arr{name: easeItemsFile, rows: ni, cols: m.easeK, i32: &m.easeItems},
			arr{name: easeScoreFile, rows: ni, cols: m.easeK, f32: &m.easeScore})
	}
	for _, a := range arrs {
		if b, err = get(a.name); err != nil {
			return nil, err
		}
		var rows int
		if a.f32 != nil {
			*a.f32, rows, err = decodeF32(a.name, b, a.cols)
		} else {
			*a.i32, rows, err = decodeI32(a.name, b, a.cols)
		}
		if err != nil {
			return nil, err
		}
		if a.rows >= 0 && rows != a.rows {
			return nil, fmt.Errorf("%w: %s: %d rows, want %d", ErrCorrupt, a.name, rows, a.rows)
		}
	}
	if int(m.seenPtr[nu]) != len(m.seen) {
		return nil, fmt.Errorf("%w: seen offsets end at %d, %d entries", ErrCorrupt, m.seenPtr[nu], len(m.seen))
	}
	if err := m.index(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if b, err = get(searchFile); err != nil {
		return nil, err
	}
	if m.search, err = openSearchIndex(b); err != nil {
		return nil, err
	}
	m.releaseOnCollect()
	return m, nil
}
