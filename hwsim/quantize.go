package hwsim

import (
	"fmt"
	"math"
)

// QuantStep returns the step of a bits-wide signed fixed-point code over
// [−scale, scale): scale / 2^(bits−1). It returns 0 for bits ≥ 32, which
// Quantize treats as exact.
func QuantStep(bits int, scale float32) float32 {
	if bits >= 32 {
		return 0
	}
	return float32(float64(scale) / math.Ldexp(1, bits-1))
}

// Quantize writes into dst[:len(src)] the values of src as a bits-wide
// signed fixed-point code with full scale scale represents them: each value
// becomes q·step with step = QuantStep(bits, scale) and q the nearest
// integer (halves away from zero) clamped to [−2^(bits−1), 2^(bits−1)−1].
// Values in [−scale, scale−step] come back within step/2; values beyond
// saturate; NaN stays NaN.
//
// bits = 32 is the exact case: a 32-bit payload carries the float32 bit
// pattern itself (graded spikes, SpiNNaker payloads, CPU words), so dst is a
// copy of src. dst and src may be the same slice.
//
// It returns an error, writing nothing, unless 2 ≤ bits ≤ 32, scale is
// positive and finite, and len(dst) ≥ len(src).
func Quantize(dst, src []float32, bits int, scale float32) error {
	switch {
	case bits < 2 || bits > 32:
		return fmt.Errorf("hwsim: Quantize: %d bits, want 2 to 32", bits)
	case !(scale > 0) || math.IsInf(float64(scale), 0):
		return fmt.Errorf("hwsim: Quantize: scale %g, want positive and finite", scale)
	case len(dst) < len(src):
		return fmt.Errorf("hwsim: Quantize: dst holds %d values, src %d", len(dst), len(src))
	}
	if bits == 32 {
		copy(dst, src)
		return nil
	}
	step := float64(scale) / math.Ldexp(1, bits-1)
	hi := math.Ldexp(1, bits-1) - 1
	lo := -math.Ldexp(1, bits-1)
	for i, x := range src {
		q := math.Round(float64(x) / step)
		switch {
		case q > hi:
			q = hi
		case q < lo:
			q = lo
		}
		// NaN fails both comparisons and stays NaN.
		dst[i] = float32(q * step)
	}
	return nil
}
