package neuron

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPoolRouteIsTheAdjointOfMaxPool: routing each pooled value to its
// window's maximum is the transpose of the max-pool at a fixed input, and
// the rectifier's gate passes only where the activity is positive.
func TestPoolRouteIsTheAdjointOfMaxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, size, p = 3, 8, 2
	a := make([]float32, n*size*size)
	for i := range a {
		a[i] = rng.Float32() - 0.5
	}
	v := make([]float32, n*size*size/(p*p))
	for i := range v {
		v[i] = rng.Float32() - 0.5
	}
	pooled := make([]float32, len(v))
	maxPool(pooled, a, n, size, p)
	routed := make([]float32, len(a))
	poolRoute(routed, v, a, n, size, p)
	var lhs, rhs float64
	for i := range v {
		lhs += float64(pooled[i] * v[i])
	}
	for i := range a {
		rhs += float64(a[i] * routed[i])
	}
	if math.Abs(lhs-rhs) > 1e-5 {
		t.Errorf("<maxPool(a), v> = %v, <a, route(v)> = %v", lhs, rhs)
	}
	nonzero := 0
	for _, r := range routed {
		if r != 0 {
			nonzero++
		}
	}
	if nonzero != len(v) {
		t.Errorf("route gave %d non-zero units for %d pooled ones", nonzero, len(v))
	}
	up := make([]float32, len(a))
	upsample(up, v, n, size/p, p)
	var sum float32
	for _, u := range up {
		sum += u
	}
	var vs float32
	for _, x := range v {
		vs += x
	}
	if math.Abs(float64(sum-4*vs)) > 1e-4 {
		t.Errorf("nearest upsampling by 2 should copy each value 4 times: %v vs %v", sum, 4*vs)
	}
	g := make([]float32, 4)
	gate(g, []float32{1, 2, 3, 4}, []float32{0.5, 0, -1, 2})
	if !slices.Equal(g, []float32{1, 0, 0, 4}) {
		t.Errorf("gate = %v", g)
	}
}
