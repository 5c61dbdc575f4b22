package main

import "math"

// maxAbsDiff is the largest |a[i] − b[i]| (+Inf for slices of different
// lengths).
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}
