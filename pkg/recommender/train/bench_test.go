package train

import (
	"context"
	"sync"
	"testing"

	"github.com/firedrill/firedrill/pkg/recommender/data"
)

var (
	benchOnce sync.Once
	benchData *data.Dataset
	benchMat  *Matrix
)

// defaultData generates the default 50k-user, 20k-item dataset once.
func defaultData(b *testing.B) (*data.Dataset, *Matrix) {
	b.Helper()
	benchOnce.Do(func() {
		ds, err := data.Generate(context.Background(), data.Config{})
		if err != nil {
			b.Fatal(err)
		}
		benchData = ds
		benchMat = NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, nil)
	})
	return benchData, benchMat
}

func BenchmarkALSIteration(b *testing.B) {
	_, m := defaultData(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ALS(context.Background(), m, ALSOptions{Iterations: 1, Workers: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkItemKNN(b *testing.B) {
	_, m := defaultData(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ItemKNN(context.Background(), m, KNNOptions{Workers: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrain(b *testing.B) {
	ds, _ := defaultData(b)
	b.ResetTimer()
	for b.Loop() {
		m, tm, err := Build(context.Background(), ds, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(tm.ALS.Seconds(), "als-s")
		b.ReportMetric(tm.KNN.Seconds(), "knn-s")
		b.ReportMetric(tm.Search.Seconds(), "assembly-s")
		_ = m.Close()
	}
}
