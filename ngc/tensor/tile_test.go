package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func tileISAs() []string { return TileKernelSets() }

// withISA runs f with the tile kernels switched to isa.
func withISA(t *testing.T, isa string, f func()) {
	t.Helper()
	old, err := UseTileKernels(isa)
	if err != nil {
		t.Fatal(err)
	}
	defer UseTileKernels(old)
	f()
}

// TestUseTileKernels: an unknown set is an error and changes nothing.
func TestUseTileKernels(t *testing.T) {
	before := TileKernels()
	if _, err := UseTileKernels("avx1024"); err == nil || TileKernels() != before {
		t.Errorf("unknown kernel set: err %v, now %q", err, TileKernels())
	}
	if sets := TileKernelSets(); sets[0] != before || sets[len(sets)-1] != "go" {
		t.Errorf("sets %v, default %q", sets, before)
	}
}

// tileConvCase runs a TileConv over n images of a random input and returns
// its output in the map-major layout, with the reference from Conv/ConvT.
func tileConvCase(t *testing.T, r *rand.Rand, s ConvSpec, transposed bool, n int) (got, want []float32) {
	t.Helper()
	s.Batch = n
	p, err := NewTileConv(s, transposed)
	if err != nil {
		t.Fatal(err)
	}
	k := randSlice(r, s.KernelLen())
	p.SetKernel(k)
	cols := make([]float32, s.ColsLen())
	var x []float32
	if transposed {
		x = randSlice(r, s.OutLen())
		want = make([]float32, s.InLen())
		ConvT(want, x, k, cols, s)
	} else {
		x = randSlice(r, s.InLen())
		want = make([]float32, s.OutLen())
		Conv(want, x, k, cols, s)
	}
	in := p.In()
	src := randSlice(r, in.Len()) // garbage in the interior, overwritten
	clear(src)                    // borders must be zero
	in.LoadMapMajor(src, x, n, 0, n)
	out := TileGrid{C: p.Maps(), H: p.Height(), W: p.Width()}
	obuf := make([]float32, out.Len())
	row := randSlice(r, p.RowLen())
	for y := 0; y < p.Height(); y++ {
		p.Row(row, src, y)
		for c := 0; c < p.Maps(); c++ {
			copy(out.Row(obuf, c, y), row[c*p.Width()*TileImages:(c+1)*p.Width()*TileImages])
		}
	}
	got = make([]float32, len(want))
	out.StoreMapMajor(got, obuf, n, 0, n)
	return got, want
}

// TestTileConvMatchesConv: on random geometries (kernels 1–4, strides 1–3,
// odd and even sizes, flipped or not), every micro-kernel set computes
// Conv and ConvT.
func TestTileConvMatchesConv(t *testing.T) {
	for _, isa := range tileISAs() {
		withISA(t, isa, func() {
			r := rand.New(rand.NewPCG(21, 22))
			for trial := 0; trial < 300; trial++ {
				s := randomSpec(r)
				if trial%3 == 0 {
					s.InC, s.OutC = 1+r.IntN(14), 1+r.IntN(14)
				}
				n := 1 + r.IntN(TileImages)
				for _, tr := range []bool{false, true} {
					got, want := tileConvCase(t, r, s, tr, n)
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

// TestTileConvPaperShapes checks the paper network's four layers, where
// every panel and block shape of the micro-kernels is used.
func TestTileConvPaperShapes(t *testing.T) {
	for _, isa := range tileISAs() {
		withISA(t, isa, func() {
			r := rand.New(rand.NewPCG(23, 24))
			for _, s := range paperSpecs(1) {
				for _, tr := range []bool{false, true} {
					got, want := tileConvCase(t, r, s, tr, TileImages)
					closeAll(t, isa, got, want, 1e-5)
				}
			}
		})
	}
}

// TestTileBorders: the input grid's borders are exactly what the SAME
// padding of stride 2 needs (one zero row and column after the large map,
// one before the small map).
func TestTileBorders(t *testing.T) {
	s := paperSpecs(1)[0]
	c, _ := NewTileConv(s, false)
	if g := c.In(); g.Top != 0 || g.Left != 0 || g.Bottom != 1 || g.Right != 1 {
		t.Errorf("conv input borders %+v, want 0, 0, 1, 1", g)
	}
	ct, _ := NewTileConv(s, true)
	if g := ct.In(); g.Top != 1 || g.Left != 1 || g.Bottom != 0 || g.Right != 0 {
		t.Errorf("transposed conv input borders %+v, want 1, 1, 0, 0", g)
	}
}

// TestRowOps: the vector row operations give the portable results
// (bit-identical states, predictions and errors; sums to rounding), on
// lengths with and without a tail.
func TestRowOps(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, n := range []int{1, 15, 16, 17, 48, 512, 515} {
		mu0, z, e0, fb := randSlice(r, n), randSlice(r, n), randSlice(r, n), randSlice(r, n)
		type res struct {
			mu, e, z, phi, lk []float32
			s                 float32
		}
		run := func() res {
			o := res{mu: append([]float32(nil), mu0...), e: make([]float32, n), z: append([]float32(nil), z...),
				phi: make([]float32, n), lk: make([]float32, n)}
			o.s = BiasError(o.mu, o.e, z, 0.25)
			CorrectLeaky(o.z, e0, fb, o.phi, 0.999, 0.1, LeakySlope)
			Leaky(o.lk, z, LeakySlope)
			return o
		}
		var ref res
		withISA(t, "go", func() { ref = run() })
		for i := range ref.mu {
			if ref.mu[i] != mu0[i]+0.25 || ref.e[i] != z[i]-ref.mu[i] {
				t.Fatalf("portable BiasError wrong at %d", i)
			}
			v := float32(float32(0.999)*z[i]) + float32(float32(0.1)*(fb[i]-e0[i]))
			if ref.z[i] != v || ref.phi[i] != max(v, float32(LeakySlope*v)) {
				t.Fatalf("portable CorrectLeaky wrong at %d", i)
			}
		}
		for _, isa := range tileISAs() {
			withISA(t, isa, func() {
				o := run()
				for i := range o.mu {
					if o.mu[i] != ref.mu[i] || o.e[i] != ref.e[i] || o.z[i] != ref.z[i] || o.phi[i] != ref.phi[i] || o.lk[i] != ref.lk[i] {
						t.Fatalf("%s n=%d: row ops differ from portable at %d", isa, n, i)
					}
				}
				if math.Abs(float64(o.s-ref.s)) > 1e-5*float64(ref.s) {
					t.Fatalf("%s n=%d: energy %v, portable %v", isa, n, o.s, ref.s)
				}
			})
		}
	}
}

// TestTileLoadStore: map-major and image-major loads put pixel (y, x) of
// image i of map c at lane i of interior position (y, x); the store
// inverts the load; lanes beyond the images are zeroed.
func TestTileLoadStore(t *testing.T) {
	for _, isa := range tileISAs() {
		for _, w := range []int{1, 2, 4, 7, 16, 17, 32, 40} {
			for _, n := range []int{1, 13, 16} {
				withISA(t, isa, func() { testTileLoadStore(t, w, n) })
			}
		}
	}
}

func testTileLoadStore(t *testing.T, w, n int) {
	r := rand.New(rand.NewPCG(27, uint64(w)))
	g := TileGrid{C: 3, H: 5, W: w, Top: 1, Left: 2, Bottom: 1, Right: 0}
	const batch, b0 = 40, 19
	src := randSlice(r, g.C*batch*g.H*g.W)
	buf := randSlice(r, g.Len())
	g.LoadMapMajor(buf, src, batch, b0, n)
	for c := 0; c < g.C; c++ {
		for y := 0; y < g.H; y++ {
			row := g.Row(buf, c, y)
			for x := 0; x < g.W; x++ {
				for i := 0; i < TileImages; i++ {
					want := float32(0)
					if i < n {
						want = src[((c*batch+b0+i)*g.H+y)*g.W+x]
					}
					if row[x*TileImages+i] != want {
						t.Fatalf("map-major load: c %d y %d x %d lane %d", c, y, x, i)
					}
				}
			}
		}
	}
	back := make([]float32, len(src))
	g.StoreMapMajor(back, buf, batch, b0, n)
	for c := 0; c < g.C; c++ {
		for i := 0; i < batch; i++ {
			for p := 0; p < g.H*g.W; p++ {
				j := (c*batch+i)*g.H*g.W + p
				want := float32(0)
				if i >= b0 && i < b0+n {
					want = src[j]
				}
				if back[j] != want {
					t.Fatalf("store: c %d image %d pixel %d", c, i, p)
				}
			}
		}
	}
	im := randSlice(r, batch*g.C*g.H*g.W)
	g.LoadImageMajor(buf, im, batch, b0, n)
	mm := make([]float32, len(im))
	ToMapMajor(mm, im, batch, g.C, g.H*g.W)
	g.StoreMapMajor(back, buf, batch, b0, n)
	for c := 0; c < g.C; c++ {
		for i := b0; i < b0+n; i++ {
			for p := 0; p < g.H*g.W; p++ {
				if j := (c*batch+i)*g.H*g.W + p; back[j] != mm[j] {
					t.Fatalf("image-major load: c %d image %d pixel %d", c, i, p)
				}
			}
		}
	}
}

// TestTileKernelGrad: KernelGrad summed over the lanes of the images a
// tile holds is ConvKernelGrad over those images, for every kernel set, on
// random geometries and the paper's shapes.
func TestTileKernelGrad(t *testing.T) {
	for _, isa := range tileISAs() {
		withISA(t, isa, func() {
			r := rand.New(rand.NewPCG(31, 32))
			specs := paperSpecs(1)
			for trial := 0; trial < 100; trial++ {
				specs = append(specs, randomSpec(r))
			}
			for _, s := range specs {
				n := 1 + r.IntN(TileImages)
				s.Batch = n
				x, y := randSlice(r, s.InLen()), randSlice(r, s.OutLen())
				want := make([]float32, s.KernelLen())
				ConvKernelGrad(want, x, y, make([]float32, s.ColsLen()), s, 1, 0)
				p, err := NewTileConv(s, false)
				if err != nil {
					t.Fatal(err)
				}
				xb := make([]float32, p.In().Len())
				p.In().LoadMapMajor(xb, x, n, 0, n)
				yg := TileGrid{C: s.OutC, H: s.OutH, W: s.OutW, Top: 1, Left: 1}
				yb := randSlice(r, yg.Len()) // borders are not read
				yg.LoadMapMajor(yb, y, n, 0, n)
				acc := make([]float32, p.GradLen())
				p.KernelGrad(acc, xb, yb, yg)
				got := make([]float64, s.KernelLen())
				SumLanes(got, acc, n)
				for i := range got {
					if d := math.Abs(got[i] - float64(want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%s: spec %+v: weight %d = %v, ConvKernelGrad %v", isa, s, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// TestRowOpsOnMaps: the multi-map row operations equal the single-row ones
// map by map, with strides, offsets and a repeated (stride 0) row, for
// every kernel set.
func TestRowOpsOnMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	const maps, n = 5, 48
	view := func(buf []float32, off, stride int) MapRows {
		return MapRows{Buf: buf, Off: off, Stride: stride, Len: n, Maps: maps}
	}
	for _, isa := range tileISAs() {
		withISA(t, isa, func() {
			mu0, z0 := randSlice(r, 7+maps*60), randSlice(r, 3+maps*50)
			e0, fb0 := randSlice(r, n), randSlice(r, maps*n)
			bias := randSlice(r, maps)
			mu, z := append([]float32(nil), mu0...), append([]float32(nil), z0...)
			e := make([]float32, 2+maps*n)
			s := BiasErrorMaps(view(mu, 7, 60), view(e, 2, n), view(z0, 3, 50), bias)
			zc := append([]float32(nil), z0...)
			phi := make([]float32, maps*64)
			CorrectLeakyMaps(view(zc, 3, 50), view(e0, 0, 0), view(fb0, 0, n), view(phi, 0, 64), 0.99, 0.1, LeakySlope)
			var want float32
			for m := 0; m < maps; m++ {
				mm := append([]float32(nil), mu0[7+m*60:7+m*60+n]...)
				ee := make([]float32, n)
				want += BiasError(mm, ee, z0[3+m*50:3+m*50+n], bias[m])
				for i := range mm {
					if mm[i] != mu[7+m*60+i] || ee[i] != e[2+m*n+i] {
						t.Fatalf("%s: BiasErrorMaps map %d differs at %d", isa, m, i)
					}
				}
				zz := append([]float32(nil), z0[3+m*50:3+m*50+n]...)
				pp := make([]float32, n)
				CorrectLeaky(zz, e0, fb0[m*n:(m+1)*n], pp, 0.99, 0.1, LeakySlope)
				for i := range zz {
					if zz[i] != zc[3+m*50+i] || pp[i] != phi[m*64+i] {
						t.Fatalf("%s: CorrectLeakyMaps map %d differs at %d", isa, m, i)
					}
				}
			}
			if math.Abs(float64(s-want)) > 1e-5*float64(want) {
				t.Errorf("%s: BiasErrorMaps energy %v, rows %v", isa, s, want)
			}
			if z[0] != z0[0] {
				t.Error("z changed")
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("rows past the buffer accepted")
		}
	}()
	BiasErrorMaps(view(make([]float32, 10), 0, n), view(make([]float32, maps*n), 0, n), view(make([]float32, maps*n), 0, n), make([]float32, maps))
}
