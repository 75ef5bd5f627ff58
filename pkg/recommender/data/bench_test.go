package data

import (
	"context"
	"testing"
)

// BenchmarkGenerate measures the default 50k-user, 20k-item dataset.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		ds, err := Generate(context.Background(), Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(ds.Interactions)), "interactions")
	}
}

// BenchmarkWriteRead measures writing and re-reading the default dataset.
func BenchmarkWriteRead(b *testing.B) {
	ds, err := Generate(context.Background(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		if err := Write(context.Background(), dir, ds); err != nil {
			b.Fatal(err)
		}
		if _, err := Read(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}
