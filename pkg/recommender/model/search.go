package model

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/firedrill/firedrill/pkg/recommender/topk"
)

// searchFile is the artifact file holding the bleve index as a tar archive.
const searchFile = "search.bleve.tar"

// hit is one text match.
type hit struct {
	idx   int32
	score float64
}

// searchIndex wraps a read-only bleve index with BM25 scoring over item
// titles and categories. Document IDs are decimal item indices.
type searchIndex struct {
	idx      bleve.Index
	archive  []byte
	closeErr error
	once     sync.Once
}

// searchMapping indexes title and category with the English analyzer
// (lower-casing, stop words, stemming) and scores with BM25. Nothing is
// stored: hits are resolved through the model's own item tables.
func searchMapping() *mapping.IndexMappingImpl {
	text := func() *mapping.FieldMapping {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = en.AnalyzerName
		f.Store = false
		f.IncludeTermVectors = false
		f.DocValues = false
		f.IncludeInAll = true
		return f
	}
	doc := mapping.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt("title", text())
	doc.AddFieldMappingsAt("category", text())
	im := mapping.NewIndexMapping()
	im.DefaultMapping = doc
	im.DefaultAnalyzer = en.AnalyzerName
	im.ScoringModel = index.BM25Scoring
	return im
}

// buildSearchIndex indexes every item and returns the opened index together
// with its serialised form.
func buildSearchIndex(titles, categories []string, itemCat []int32) (*searchIndex, error) {
	tmp, err := os.MkdirTemp("", "firedrill-search-build-")
	if err != nil {
		return nil, fmt.Errorf("creating index directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // best effort: a private temporary directory
	path := filepath.Join(tmp, "index")
	idx, err := bleve.NewUsing(path, searchMapping(), bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, nil)
	if err != nil {
		return nil, fmt.Errorf("creating bleve index: %w", err)
	}
	b := idx.NewBatch()
	for i, t := range titles {
		doc := map[string]any{"title": t, "category": categories[itemCat[i]]}
		if err := b.Index(strconv.Itoa(i), doc); err != nil {
			_ = idx.Close()
			return nil, fmt.Errorf("indexing item %d: %w", i, err)
		}
	}
	if err := idx.Batch(b); err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("indexing items: %w", err)
	}
	if err := idx.Close(); err != nil {
		return nil, fmt.Errorf("closing bleve index: %w", err)
	}
	archive, err := tarDir(path)
	if err != nil {
		return nil, err
	}
	return openSearchIndex(archive)
}

// tarDir archives the regular files under dir deterministically.
func tarDir(dir string) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking index directory: %w", err)
	}
	slices.Sort(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading index file: %w", err)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, fmt.Errorf("archiving index file: %w", err)
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("archiving index file: %w", err)
		}
		if _, err := tw.Write(b); err != nil {
			return nil, fmt.Errorf("archiving index file: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("archiving index: %w", err)
	}
	return buf.Bytes(), nil
}

// openSearchIndex unpacks archive into a private temporary directory, opens
// it read-only and removes the directory again: the open index holds its
// files (bolt file descriptor and mmapped segments), so nothing is left on
// disk even if the model is never closed.
func openSearchIndex(archive []byte) (*searchIndex, error) {
	tmp, err := os.MkdirTemp("", "firedrill-search-")
	if err != nil {
		return nil, fmt.Errorf("creating index directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // best effort: a private temporary directory
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, searchFile, err)
		}
		name := filepath.FromSlash(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !filepath.IsLocal(name) {
			return nil, fmt.Errorf("%w: %s: unexpected entry %q", ErrCorrupt, searchFile, hdr.Name)
		}
		dst := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, fmt.Errorf("unpacking search index: %w", err)
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("unpacking search index: %w", err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("unpacking search index: %w", err)
		}
	}
	idx, err := bleve.OpenUsing(tmp, map[string]any{"read_only": true})
	if err != nil {
		return nil, fmt.Errorf("%w: opening search index: %w", ErrCorrupt, err)
	}
	return &searchIndex{idx: idx, archive: archive}, nil
}

func (s *searchIndex) files() map[string][]byte {
	return map[string][]byte{searchFile: s.archive}
}

func (s *searchIndex) close() error {
	s.once.Do(func() { s.closeErr = s.idx.Close() })
	return s.closeErr
}

// query returns up to n BM25 hits for q, best first.
func (s *searchIndex) query(q string, n int) ([]hit, error) {
	req := bleve.NewSearchRequestOptions(bleve.NewMatchQuery(q), n, 0, false)
	res, err := s.idx.Search(req)
	if err != nil {
		return nil, fmt.Errorf("searching: %w", err)
	}
	out := make([]hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		i, err := strconv.Atoi(h.ID)
		if err != nil {
			return nil, fmt.Errorf("search index returned bad id %q: %w", h.ID, err)
		}
		out = append(out, hit{idx: int32(i), score: h.Score})
	}
	return out, nil
}

// Search ranks items for a free-text query. The top BM25 candidates over
// titles and categories are re-ranked by a weighted sum of normalised text
// relevance, the user's ALS score (known users only) and log popularity.
func (m *Model) Search(query, user string, k int) []Result {
	if k <= 0 || strings.TrimSpace(query) == "" {
		return []Result{}
	}
	hits, err := m.search.query(query, m.blend.Candidates)
	if err != nil || len(hits) == 0 {
		return []Result{}
	}
	scored := m.blendHits(hits, user)
	h := topk.New(k)
	for _, c := range scored {
		h.Push(c)
	}
	top := h.Sorted()
	out := make([]Result, len(top))
	for j, c := range top {
		out[j] = m.result(c.Idx, float64(c.Score))
	}
	return out
}

// blendHits scores BM25 hits with the search blend.
func (m *Model) blendHits(hits []hit, user string) []topk.Item {
	maxText := 0.0
	for _, h := range hits {
		maxText = max(maxText, h.score)
	}
	personal := make([]float32, len(hits))
	wp := float32(0)
	if u, ok := m.userIdx[user]; ok && m.blend.Personal != 0 {
		uv := m.userVec(u)
		lo, hi := float32(0), float32(0)
		for j, h := range hits {
			s := m.itemScore(uv, h.idx)
			personal[j] = s
			if j == 0 || s < lo {
				lo = s
			}
			if j == 0 || s > hi {
				hi = s
			}
		}
		if hi > lo {
			for j := range personal {
				personal[j] = (personal[j] - lo) / (hi - lo)
			}
			wp = float32(m.blend.Personal)
		}
	}
	out := make([]topk.Item, len(hits))
	for j, h := range hits {
		text := float32(0)
		if maxText > 0 {
			text = float32(h.score / maxText)
		}
		s := float32(m.blend.Text)*text + wp*personal[j] + float32(m.blend.Popularity)*m.popNorm[h.idx]
		out[j] = topk.Item{Score: s, Idx: h.idx}
	}
	return out
}

// TextSearch returns up to k items ranked by BM25 relevance alone, without
// personal or popularity blending.
func (m *Model) TextSearch(query string, k int) ([]Result, error) {
	if k <= 0 || strings.TrimSpace(query) == "" {
		return []Result{}, nil
	}
	hits, err := m.search.query(query, k)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(hits))
	for j, h := range hits {
		out[j] = m.result(h.idx, h.score)
	}
	return out, nil
}

// Close releases the search index. Call it only once no query is in flight;
// a Model that is simply dropped is released by the garbage collector.
func (m *Model) Close() error {
	if err := m.search.close(); err != nil {
		return fmt.Errorf("closing search index: %w", err)
	}
	return nil
}
