package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// mapConvCase runs a MapConv over a random input held one map per slice
// and returns its output with the reference from ConvMaps / ConvTMaps.
func mapConvCase(t *testing.T, r *rand.Rand, s ConvSpec, transposed bool) (got, want []float32) {
	t.Helper()
	c, err := NewMapConv(s, transposed)
	if err != nil {
		t.Fatal(err)
	}
	k := randSlice(r, s.KernelLen())
	cols := make([]float32, s.ColsLen())
	inC, outC, inLen, outLen := s.InC, s.OutC, s.InLen(), s.OutLen()
	if transposed {
		inC, outC, inLen, outLen = s.OutC, s.InC, s.OutLen(), s.InLen()
	}
	x := randSlice(r, inLen)
	want = make([]float32, outLen)
	got = randSlice(r, outLen) // overwritten
	if transposed {
		ConvTMaps(Maps(want, outC), Maps(x, inC), k, cols, s)
	} else {
		ConvMaps(Maps(want, outC), Maps(x, inC), k, cols, s)
	}
	c.Do(Maps(got, outC), Maps(x, inC), k)
	return got, want
}

// TestMapConvMatchesConv: on random geometries and batch sizes (whole and
// partial tiles), every micro-kernel set computes ConvMaps and ConvTMaps
// on maps held in separate slices, for one output map (a map actor's own)
// and for several.
func TestMapConvMatchesConv(t *testing.T) {
	for _, isa := range tileISAs() {
		withISA(t, isa, func() {
			r := rand.New(rand.NewPCG(31, 32))
			for trial := 0; trial < 200; trial++ {
				s := randomSpec(r)
				s.Batch = 1 + r.IntN(3*TileImages)
				for _, tr := range []bool{false, true} {
					if trial%2 == 0 { // one output map
						if tr {
							s.InC = 1
						} else {
							s.OutC = 1
						}
					}
					got, want := mapConvCase(t, r, s, tr)
					for i := range got {
						if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("%s: spec %+v transposed=%v: [%d] = %v, want %v", isa, s, tr, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// TestMapConvPaperShapes: the paper network's feedback (one state map from
// every error map below) and prediction (one error map from every state
// map above) at B=100. The tolerance is float32 rounding of up to 225
// terms of magnitude ≤ 1 summed in another order (the portable kernel does
// not fuse its multiply-adds).
func TestMapConvPaperShapes(t *testing.T) {
	for _, isa := range tileISAs() {
		withISA(t, isa, func() {
			r := rand.New(rand.NewPCG(33, 34))
			for _, s := range paperSpecs(100) {
				fb, pred := s, s
				fb.OutC, pred.InC = 1, 1
				got, want := mapConvCase(t, r, fb, false)
				closeAll(t, isa, got, want, 5e-5)
				got, want = mapConvCase(t, r, pred, true)
				closeAll(t, isa, got, want, 5e-5)
			}
		})
	}
}

// TestMapConvAllocatesNothing: Do reuses the MapConv's buffers.
func TestMapConvAllocatesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	s := paperSpecs(40)[1]
	s.OutC = 1
	c, err := NewMapConv(s, false)
	if err != nil {
		t.Fatal(err)
	}
	x, y, k := Maps(randSlice(r, s.InLen()), s.InC), Maps(make([]float32, s.OutLen()), 1), randSlice(r, s.KernelLen())
	if n := testing.AllocsPerRun(10, func() { c.Do(y, x, k) }); n != 0 {
		t.Errorf("Do allocates %v times per call", n)
	}
}

// TestMapConvWorkers: tiles shared among workers give exactly the output
// of one worker, whole and partial tiles, and Do still allocates nothing.
func TestMapConvWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	for l, s := range paperSpecs(5*TileImages + 3) {
		for _, tr := range []bool{false, true} {
			inC, outC, inLen, outLen := s.InC, s.OutC, s.InLen(), s.OutLen()
			if tr {
				inC, outC, inLen, outLen = s.OutC, s.InC, s.OutLen(), s.InLen()
			}
			one, err := NewMapConv(s, tr)
			if err != nil {
				t.Fatal(err)
			}
			two, err := NewMapConv(s, tr)
			if err != nil {
				t.Fatal(err)
			}
			two.SetWorkers(2)
			x, k := Maps(randSlice(r, inLen), inC), randSlice(r, s.KernelLen())
			want, got := Maps(make([]float32, outLen), outC), Maps(make([]float32, outLen), outC)
			one.Do(want, x, k)
			two.Do(got, x, k)
			for o := range want {
				for i := range want[o] {
					if got[o][i] != want[o][i] {
						t.Fatalf("layer %d transposed=%v: map %d [%d] = %v with 2 workers, %v with 1", l, tr, o, i, got[o][i], want[o][i])
					}
				}
			}
			if n := testing.AllocsPerRun(5, func() { two.Do(got, x, k) }); n != 0 {
				t.Errorf("layer %d transposed=%v: Do with 2 workers allocates %v times per call", l, tr, n)
			}
		}
	}
}

// TestMapConvRefusesBadMaps: the wrong number of maps is a panic naming
// the shapes, as every tensor routine refuses a caller's bug.
func TestMapConvRefusesBadMaps(t *testing.T) {
	s := paperSpecs(2)[0]
	s.OutC = 1
	c, err := NewMapConv(s, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic for too few input maps")
		}
	}()
	c.Do(Maps(make([]float32, s.OutLen()), 1), Maps(make([]float32, s.InLen()), s.InC)[:1], make([]float32, s.KernelLen()))
}

// BenchmarkMapConv compares one map actor's convolutions at B=250 on the
// paper's layers: a state map's feedback (one small map from every large
// map below) and an error map's prediction (one large map from every small
// map above), by MapConv and by patches and a matrix product (ConvMaps,
// ConvTMaps):
//
//	go test -run x -bench MapConv ./ngc/tensor
func BenchmarkMapConv(b *testing.B) {
	r := rand.New(rand.NewPCG(37, 38))
	for l, s := range paperSpecs(250) {
		fb, pred := s, s
		fb.OutC, pred.InC = 1, 1
		for _, tc := range []struct {
			name       string
			s          ConvSpec
			transposed bool
		}{{"feedback", fb, false}, {"predict", pred, true}} {
			s := tc.s
			inC, outC, inLen, outLen := s.InC, s.OutC, s.InLen(), s.OutLen()
			if tc.transposed {
				inC, outC, inLen, outLen = s.OutC, s.InC, s.OutLen(), s.InLen()
			}
			x, y, k := Maps(randSlice(r, inLen), inC), Maps(make([]float32, outLen), outC), randSlice(r, s.KernelLen())
			c, err := NewMapConv(s, tc.transposed)
			if err != nil {
				b.Fatal(err)
			}
			cols := make([]float32, s.ColsLen())
			b.Run(fmt.Sprintf("layer%d/%s/mapconv", l+1, tc.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c.Do(y, x, k)
				}
			})
			b.Run(fmt.Sprintf("layer%d/%s/im2col", l+1, tc.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if tc.transposed {
						ConvTMaps(y, x, k, cols, s)
					} else {
						ConvMaps(y, x, k, cols, s)
					}
				}
			})
		}
	}
}
