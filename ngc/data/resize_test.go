package data

import (
	"math"
	"testing"
)

func near(a, b, tol float32) bool { return float32(math.Abs(float64(a-b))) <= tol }

func TestBilinear(t *testing.T) {
	tests := []struct {
		name         string
		h, w, oh, ow int
		src, want    []float32
	}{
		// PyTorch interpolate(mode="bilinear", align_corners=False) gives
		// [0, .25, .75, 1] for [0, 1] doubled.
		{"upsample 2→4", 1, 2, 1, 4, []float32{0, 1}, []float32{0, 0.25, 0.75, 1}},
		{"identity", 2, 2, 2, 2, []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}},
		// Halving samples between pixel pairs: the mean of each pair.
		{"downsample 4→2", 1, 4, 1, 2, []float32{0, 1, 2, 4}, []float32{0.5, 3}},
		{"2-D", 2, 2, 4, 4, []float32{0, 1, 2, 3}, []float32{
			0, 0.25, 0.75, 1,
			0.5, 0.75, 1.25, 1.5,
			1.5, 1.75, 2.25, 2.5,
			2, 2.25, 2.75, 3,
		}},
	}
	for _, tc := range tests {
		dst := make([]float32, tc.oh*tc.ow)
		newBilinear(tc.oh, tc.ow, tc.h, tc.w).resize(dst, tc.src)
		for i := range dst {
			if !near(dst[i], tc.want[i], 1e-6) {
				t.Errorf("%s: got %v, want %v", tc.name, dst, tc.want)
				break
			}
		}
	}
}

func TestBilinearLinearRamp(t *testing.T) {
	// Bilinear interpolation reproduces a linear ramp exactly away from the
	// clamped borders: output x holds the sample position (x+.5)·28/32 − .5.
	src := make([]float32, 28*28)
	for y := range 28 {
		for x := range 28 {
			src[y*28+x] = float32(x)
		}
	}
	dst := make([]float32, PlaneSize)
	newBilinear(Height, Width, 28, 28).resize(dst, src)
	for x := 1; x < Width-1; x++ {
		want := (float32(x)+0.5)*28/32 - 0.5
		if !near(dst[5*Width+x], want, 1e-5) {
			t.Fatalf("x=%d: %v, want %v", x, dst[5*Width+x], want)
		}
	}
	if dst[0] != 0 || dst[Width-1] != 27 {
		t.Fatalf("borders %v %v, want 0 and 27 (clamped)", dst[0], dst[Width-1])
	}
}

func TestResizePlane(t *testing.T) {
	// A 64×96 checkerboard of 0/1: the block average is exactly 0.5.
	h, w := 64, 96
	src := make([]float32, h*w)
	for y := range h {
		for x := range w {
			src[y*w+x] = float32((x + y) % 2)
		}
	}
	dst := make([]float32, PlaneSize)
	resizePlane(dst, src, h, w)
	for i, v := range dst {
		if v != 0.5 {
			t.Fatalf("area average at %d = %v, want 0.5", i, v)
		}
	}
	// A constant plane stays constant at any size.
	for _, sz := range [][2]int{{32, 32}, {40, 24}, {16, 16}, {7, 300}} {
		src := make([]float32, sz[0]*sz[1])
		for i := range src {
			src[i] = 0.25
		}
		resizePlane(dst, src, sz[0], sz[1])
		for i, v := range dst {
			if !near(v, 0.25, 1e-6) {
				t.Fatalf("%v: constant plane → %v at %d", sz, v, i)
			}
		}
	}
}
