package optim

import (
	"math"
	"testing"
)

// TestAdamFirstStep checks the bias-corrected first step: every parameter
// moves by about lr against the sign of its gradient.
func TestAdamFirstStep(t *testing.T) {
	p := []float32{1, 1, 1}
	a := NewAdam(3, 0.01)
	a.Step(p, []float32{0.5, -2, 1e-3})
	want := []float32{0.99, 1.01, 0.99}
	for i := range p {
		if math.Abs(float64(p[i]-want[i])) > 1e-4 {
			t.Errorf("p[%d] = %v, want %v", i, p[i], want[i])
		}
	}
}

// TestAdamMinimises runs Adam on a quadratic and checks it converges.
func TestAdamMinimises(t *testing.T) {
	p := []float32{3, -4}
	a := NewAdam(2, 0.05)
	for i := 0; i < 2000; i++ {
		a.Step(p, []float32{2 * (p[0] - 1), 2 * (p[1] + 2)})
	}
	if math.Abs(float64(p[0]-1)) > 1e-2 || math.Abs(float64(p[1]+2)) > 1e-2 {
		t.Errorf("Adam ended at %v, want [1 -2]", p)
	}
}

// TestAdamSplitEqualsWhole shows that two optimisers over halves of a tensor
// move it exactly as one optimiser over the whole (what map actors rely on).
func TestAdamSplitEqualsWhole(t *testing.T) {
	whole := []float32{1, 2, 3, 4}
	split := append([]float32(nil), whole...)
	aw := NewAdam(4, 0.1)
	a1, a2 := NewAdam(2, 0.1), NewAdam(2, 0.1)
	for s := 0; s < 5; s++ {
		g := []float32{float32(s) - 1, 0.5, -0.25 * float32(s), 2}
		aw.Step(whole, g)
		a1.Step(split[:2], g[:2])
		a2.Step(split[2:], g[2:])
	}
	for i := range whole {
		if whole[i] != split[i] {
			t.Fatalf("split Adam differs at %d: %v vs %v", i, split[i], whole[i])
		}
	}
}

func TestNormalized(t *testing.T) {
	p := []float32{0, 0, 0, 0}
	n := &Normalized{LR: 0.5, Eps: 0, Block: 2}
	n.Step(p, []float32{3, 4, 0, -2})
	want := []float32{-0.3, -0.4, 0, 0.5}
	for i := range p {
		if math.Abs(float64(p[i]-want[i])) > 1e-6 {
			t.Errorf("p[%d] = %v, want %v", i, p[i], want[i])
		}
	}
}
