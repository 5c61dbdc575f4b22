package baselines

import (
	"testing"
)

// BenchmarkConvAETrainBatch measures one training step (forward, backward
// and Adam) of the default Conv-AE on a mini-batch of 128 32×32×3 images.
func BenchmarkConvAETrainBatch(b *testing.B) {
	m, err := NewConvAE(AEConfig{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 128
	x := smoothImages(batch, 3, 32, 1)
	if _, err := m.TrainBatch(x); err != nil { // allocate the buffers
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.TrainBatch(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkConvAEReconstruct measures evaluation-mode inference of the
// default Conv-AE on 128 images.
func BenchmarkConvAEReconstruct(b *testing.B) {
	m, err := NewConvAE(AEConfig{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 128
	x := smoothImages(batch, 3, 32, 1)
	out := make([]float32, len(x))
	if err := m.Reconstruct(out, x); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := m.Reconstruct(out, x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkNGCTrainBatch measures one training batch of the paper's fully
// connected NGC: T = 60 steps of inference on 500 images and the update.
func BenchmarkNGCTrainBatch(b *testing.B) {
	m, err := NewNGC(NGCConfig{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 500
	x := smoothImages(batch, 3, 32, 1)
	if _, err := m.TrainBatch(x); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.TrainBatch(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
}
