package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestConvColsKernels: one product with a kernel slice per output map gives
// what Conv gives with the same kernels laid out as one [OutC][InC][K][K]
// tensor, on random shapes (including more maps than a register panel and
// column counts that are not a multiple of the panel width).
func TestConvColsKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 200; trial++ {
		s := randomSpec(r)
		if trial%4 == 0 {
			s.OutC = 5 + r.IntN(20)
			s.Batch = 1 + r.IntN(40)
		}
		x, k := randSlice(r, s.InLen()), randSlice(r, s.KernelLen())
		want := make([]float32, s.OutLen())
		Conv(want, x, k, make([]float32, s.ColsLen()), s)

		cols := make([]float32, s.ColsLen())
		Im2Col(cols, x, s)
		kc := s.InC * s.K * s.K
		kernels := make([][]float32, s.OutC)
		for o := range kernels {
			kernels[o] = append([]float32(nil), k[o*kc:(o+1)*kc]...) // each map's own slice
		}
		n := s.Batch * s.OutH * s.OutW
		y := make([][]float32, s.OutC)
		for o := range y {
			y[o] = randSlice(r, n) // garbage that must be overwritten
		}
		ConvColsKernels(y, cols, kernels, s)
		for o := range y {
			closeAll(t, "ConvColsKernels", y[o], want[o*n:(o+1)*n], 1e-5)
		}
	}
}

func TestConvColsKernelsRejectsBadShapes(t *testing.T) {
	g, _ := SameGeom(4, 4, 3, 2)
	s := ConvSpec{Geom: g, Batch: 1, InC: 2, OutC: 2}
	n := s.Batch * s.OutH * s.OutW
	good := func() ([][]float32, []float32, [][]float32) {
		return [][]float32{make([]float32, n), make([]float32, n)}, make([]float32, s.ColsLen()),
			[][]float32{make([]float32, 18), make([]float32, 18)}
	}
	cases := map[string]func(y [][]float32, cols []float32, k [][]float32) ([][]float32, []float32, [][]float32){
		"one kernel missing": func(y [][]float32, c []float32, k [][]float32) ([][]float32, []float32, [][]float32) {
			return y, c, k[:1]
		},
		"short kernel": func(y [][]float32, c []float32, k [][]float32) ([][]float32, []float32, [][]float32) {
			k[1] = k[1][:17]
			return y, c, k
		},
		"short output": func(y [][]float32, c []float32, k [][]float32) ([][]float32, []float32, [][]float32) {
			y[0] = y[0][:n-1]
			return y, c, k
		},
		"short patches": func(y [][]float32, c []float32, k [][]float32) ([][]float32, []float32, [][]float32) {
			return y, c[1:], k
		},
	}
	for name, mod := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			y, c, k := mod(good())
			ConvColsKernels(y, c, k, s)
		}()
	}
}
