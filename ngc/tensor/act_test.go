package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLeakyReLUMatchesBranch: the branch-free leaky ReLU gives, bit for
// bit, what `if v < 0 { v *= LeakySlope }` gives, signed zeros, infinities
// and NaN included.
func TestLeakyReLUMatchesBranch(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	src := make([]float32, 1<<12)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	copy(src, []float32{float32(math.Copysign(0, -1)), 0, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)),
		-math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32})
	dst := make([]float32, len(src))
	LeakyReLU.ApplySerial(dst, src)
	for i, v := range src {
		want := v
		if v < 0 {
			want *= LeakySlope
		}
		if math.Float32bits(dst[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(dst[i]))) {
			t.Fatalf("φ(%v) = %v, want %v", v, dst[i], want)
		}
	}
}

// BenchmarkLeakyReLU is φ over 64k random values (signs at random).
func BenchmarkLeakyReLU(b *testing.B) {
	r := rand.New(rand.NewPCG(43, 44))
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(8 * len(src)))
	for i := 0; i < b.N; i++ {
		LeakyReLU.ApplySerial(dst, src)
	}
}
