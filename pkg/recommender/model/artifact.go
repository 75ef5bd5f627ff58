package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/firedrill/firedrill/pkg/recommender/model/artifact"
)

// FormatVersion is the artifact layout version written to layout.json and
// to every binary file's header.
const FormatVersion = artifact.FormatVersion

// Artifact file names. Every file is listed with its sha256 in ManifestFile.
const (
	ManifestFile      = artifact.ManifestFile
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
		usersFile:         artifact.EncodeStrings(m.users),
		itemsFile:         artifact.EncodeStrings(m.items),
		titlesFile:        artifact.EncodeStrings(m.titles),
		categoriesFile:    artifact.EncodeStrings(m.categories),
		itemCategoryFile:  artifact.EncodeI32(ni, 1, m.itemCat),
		userFactorsFile:   artifact.EncodeF32(nu, m.rank, m.userF),
		itemFactorsFile:   artifact.EncodeF32(m.rank, ni, m.itemFT),
		seenOffsetsFile:   artifact.EncodeI32(nu+1, 1, m.seenPtr),
		seenItemsFile:     artifact.EncodeI32(len(m.seen), 1, m.seen),
		neighborItemsFile: artifact.EncodeI32(ni, m.nbrK, m.nbrItems),
		neighborScoreFile: artifact.EncodeF32(ni, m.nbrK, m.nbrScore),
		popularityFile:    artifact.EncodeF32(ni, 1, m.pop),
		queriesFile:       artifact.EncodeStrings(m.queries),
	}
	if m.easeK > 0 {
		files[easeItemsFile] = artifact.EncodeI32(ni, m.easeK, m.easeItems)
		files[easeScoreFile] = artifact.EncodeF32(ni, m.easeK, m.easeScore)
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
	return artifact.Write(dir, files)
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
	files, reg, err := artifact.Read(dir)
	if err != nil {
		return nil, err
	}
	m, err := decode(files)
	if err != nil {
		reg.Release()
		return nil, err
	}
	runtime.AddCleanup(m, func(r *artifact.Regions) { r.Release() }, reg)
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
		if *s.dst, err = artifact.DecodeStrings(s.name, b); err != nil {
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
			*a.f32, rows, err = artifact.DecodeF32(a.name, b, a.cols)
		} else {
			*a.i32, rows, err = artifact.DecodeI32(a.name, b, a.cols)
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
