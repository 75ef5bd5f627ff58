package model

import (
	"fmt"
	"path/filepath"
	"testing"
)

// Default-size model: 50k users, 20k items, rank 64, 50 neighbours.
func benchModel(b *testing.B) *Model {
	b.Helper()
	p := testParts(b, 50_000, 20_000, 64)
	p.NeighborK = 50
	p.NeighborItems = make([]int32, 20_000*50)
	p.NeighborScores = make([]float32, 20_000*50)
	for i := range 20_000 {
		for j := range 50 {
			p.NeighborItems[i*50+j] = int32((i*7 + j*13) % 20_000)
			p.NeighborScores[i*50+j] = 1 / float32(j+1)
		}
	}
	m, err := New(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

func BenchmarkRecommend(b *testing.B) {
	m := benchModel(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	i := 0
	for b.Loop() {
		_ = m.Recommend(fmt.Sprintf("u%d", i%50_000), 10)
		i++
	}
}

func BenchmarkSimilar(b *testing.B) {
	m := benchModel(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	i := 0
	for b.Loop() {
		_, _ = m.Similar(fmt.Sprintf("i%d", i%20_000), 10)
		i++
	}
}

func BenchmarkSearch(b *testing.B) {
	m := benchModel(b)
	queries := []string{"green tea", "espresso beans", "sourdough loaf", "cheddar", "dark roast", "penne"}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	i := 0
	for b.Loop() {
		_ = m.Search(queries[i%len(queries)], fmt.Sprintf("u%d", i%50_000), 10)
		i++
	}
}

func BenchmarkLoad(b *testing.B) {
	m := benchModel(b)
	dir := filepath.Join(b.TempDir(), "model")
	if err := m.Save(dir); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	for b.Loop() {
		got, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		_ = got.Close()
	}
}
