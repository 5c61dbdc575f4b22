package ngc

import (
	"math/rand/v2"
	"testing"
)

// smoothImages returns n synthetic 3×size×size images in [0,1] made of
// random low-frequency patterns, so that a small network can learn them.
func smoothImages(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*3*size*size)
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			a, b, p := r.Float64()*0.3, r.Float64()*0.3, r.Float64()
			for y := 0; y < size; y++ {
				for xx := 0; xx < size; xx++ {
					v := 0.5 + a*float64(y)/float64(size) - b*float64(xx)/float64(size) + 0.2*(p-0.5)
					x[((i*3+c)*size+y)*size+xx] = float32(min(max(v, 0), 1))
				}
			}
		}
	}
	return x
}

func benchPaper(b *testing.B, train bool) {
	m, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 500
	ws, err := m.NewWorkspace(batch)
	if err != nil {
		b.Fatal(err)
	}
	x := smoothImages(batch, 32, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if train {
			err = m.TrainBatch(ws, x, nil, nil)
		} else {
			err = m.Infer(ws, x, Reconstruct, nil, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(batch/sec, "img/s")
	b.ReportMetric(float64(m.FLOPsPerImage(train))*batch/sec/1e9, "GFLOP/s")
}

// BenchmarkInfer is one reconstruction batch of the paper network (B=500, T=60).
func BenchmarkInfer(b *testing.B) { benchPaper(b, false) }

// BenchmarkTrainBatch is one training batch (inference + local update) of the
// paper network (B=500, T=60).
func BenchmarkTrainBatch(b *testing.B) { benchPaper(b, true) }
