package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func mustSame(t *testing.T, in, k, stride int) Geom {
	t.Helper()
	g, err := SameGeom(in, in, k, stride)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// naiveConv is the definition of Conv, written as plain loops.
func naiveConv(x, kernel []float32, s ConvSpec) []float32 {
	y := make([]float32, s.OutLen())
	for o := 0; o < s.OutC; o++ {
		for b := 0; b < s.Batch; b++ {
			for oy := 0; oy < s.OutH; oy++ {
				for ox := 0; ox < s.OutW; ox++ {
					var acc float64
					for c := 0; c < s.InC; c++ {
						for ty := 0; ty < s.K; ty++ {
							for tx := 0; tx < s.K; tx++ {
								ry, rx := ty, tx
								if s.Flip {
									ry, rx = s.K-1-ty, s.K-1-tx
								}
								iy := oy*s.Stride + ry - s.PadTop
								ix := ox*s.Stride + rx - s.PadLeft
								if iy < 0 || iy >= s.InH || ix < 0 || ix >= s.InW {
									continue
								}
								acc += float64(kernel[((o*s.InC+c)*s.K+ty)*s.K+tx]) * float64(x[((c*s.Batch+b)*s.InH+iy)*s.InW+ix])
							}
						}
					}
					y[((o*s.Batch+b)*s.OutH+oy)*s.OutW+ox] = float32(acc)
				}
			}
		}
	}
	return y
}

func closeAll(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestSameGeom(t *testing.T) {
	tests := []struct {
		in, k, s          int
		out, before, pads int
	}{
		{32, 3, 2, 16, 0, 1},
		{16, 3, 2, 8, 0, 1},
		{2, 3, 2, 1, 0, 1},
		{2, 2, 1, 2, 0, 1},
		{5, 3, 1, 5, 1, 2},
		{7, 3, 2, 4, 1, 2},
		{28, 3, 2, 14, 0, 1},
	}
	for _, tc := range tests {
		g := mustSame(t, tc.in, tc.k, tc.s)
		total := (g.OutH-1)*g.Stride + g.K - g.InH
		if g.OutH != tc.out || g.PadTop != tc.before || total != tc.pads {
			t.Errorf("SameGeom(%d,k=%d,s=%d) = out %d pad %d/%d, want out %d pad %d/%d", tc.in, tc.k, tc.s, g.OutH, g.PadTop, total, tc.out, tc.before, tc.pads)
		}
	}
	if _, err := SameGeom(0, 4, 3, 2); err == nil {
		t.Error("SameGeom accepted a zero size")
	}
}

// TestNgcLearnFixtures checks the 1×2×2×1 fixtures of ngc-learn's conv and
// deconv utilities: ones input, 2×2 ones kernel, stride 1, SAME, with the
// output itself as upstream gradient.
func TestNgcLearnFixtures(t *testing.T) {
	g := mustSame(t, 2, 2, 1)
	ones := []float32{1, 1, 1, 1}
	// Plain convolution (no flip).
	s := ConvSpec{Geom: g, Batch: 1, InC: 1, OutC: 1}
	cols := make([]float32, s.ColsLen())
	y := make([]float32, 4)
	Conv(y, ones, ones, cols, s)
	closeAll(t, "conv y", y, []float32{4, 2, 2, 1}, 0)
	dk := make([]float32, 4)
	ConvKernelGrad(dk, ones, y, cols, s, 1, 0)
	closeAll(t, "conv dK", dk, []float32{9, 6, 6, 4}, 0)
	dx := make([]float32, 4)
	ConvT(dx, y, ones, cols, s)
	closeAll(t, "conv dx", dx, []float32{4, 6, 6, 9}, 0)

	// Deconvolution: ConvT with ngc-learn's (flipped) kernel orientation.
	s.Flip = true
	yd := make([]float32, 4)
	ConvT(yd, ones, ones, cols, s)
	closeAll(t, "deconv y", yd, []float32{1, 2, 2, 4}, 0)
	dkd := make([]float32, 4)
	// ⟨ConvT(x,K), dy⟩ = ⟨x, Conv(dy,K)⟩: the kernel gradient correlates dy's patches with x.
	ConvKernelGrad(dkd, yd, ones, cols, s, 1, 0)
	closeAll(t, "deconv dK", dkd, []float32{4, 6, 6, 9}, 0)
	dxd := make([]float32, 4)
	Conv(dxd, yd, ones, cols, s)
	closeAll(t, "deconv dx", dxd, []float32{9, 6, 6, 4}, 0)
}

func randomSpec(r *rand.Rand) ConvSpec {
	k := 1 + r.IntN(4)
	stride := 1 + r.IntN(3)
	h := 1 + r.IntN(9)
	w := 1 + r.IntN(9)
	g, _ := SameGeom(h, w, k, stride)
	return ConvSpec{Geom: g, Batch: 1 + r.IntN(3), InC: 1 + r.IntN(3), OutC: 1 + r.IntN(3), Flip: r.IntN(2) == 0}
}

func TestConvMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		s := randomSpec(r)
		x, k := randSlice(r, s.InLen()), randSlice(r, s.KernelLen())
		y := make([]float32, s.OutLen())
		Conv(y, x, k, make([]float32, s.ColsLen()), s)
		closeAll(t, "conv", y, naiveConv(x, k, s), 1e-5)
	}
}

// TestAdjoint checks ⟨ConvT(y), x⟩ = ⟨y, Conv(x)⟩ on random shapes, and that
// ConvKernelGrad is the gradient of ⟨y, Conv(x, K)⟩ with respect to K.
func TestAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		s := randomSpec(r)
		x, y, k := randSlice(r, s.InLen()), randSlice(r, s.OutLen()), randSlice(r, s.KernelLen())
		cols := make([]float32, s.ColsLen())
		cx := make([]float32, s.OutLen())
		Conv(cx, x, k, cols, s)
		ty := make([]float32, s.InLen())
		ConvT(ty, y, k, cols, s)
		lhs, rhs := Dot(ty, x), Dot(y, cx)
		if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
			t.Fatalf("spec %+v: <ConvT(y),x> = %v, <y,Conv(x)> = %v", s, lhs, rhs)
		}
		// ⟨y, Conv(x, K)⟩ is linear in K, so its gradient is exact: compare with
		// ⟨dK, K'⟩ = ⟨y, Conv(x, K')⟩ for a random direction K'.
		dk := make([]float32, s.KernelLen())
		ConvKernelGrad(dk, x, y, cols, s, 1, 0)
		kp := randSlice(r, s.KernelLen())
		Conv(cx, x, kp, cols, s)
		if a, b := Dot(dk, kp), Dot(y, cx); math.Abs(a-b) > 1e-4*(1+math.Abs(a)) {
			t.Fatalf("spec %+v: <dK,K'> = %v, <y,Conv(x,K')> = %v", s, a, b)
		}
	}
}

func TestConvKernelGradAccumulates(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s := ConvSpec{Geom: mustSame(t, 8, 3, 2), Batch: 2, InC: 2, OutC: 3, Flip: true}
	x, y := randSlice(r, s.InLen()), randSlice(r, s.OutLen())
	cols := make([]float32, s.ColsLen())
	once := make([]float32, s.KernelLen())
	ConvKernelGrad(once, x, y, cols, s, 1, 0)
	acc := make([]float32, s.KernelLen())
	ConvKernelGrad(acc, x, y, cols, s, 0.5, 0)
	ConvKernelGrad(acc, x, y, cols, s, 0.5, 1)
	closeAll(t, "accumulated", acc, once, 1e-6)
}

// TestPaperNetworkShapes checks the geometry of every layer of the paper
// network: maps of 32, 16, 8, 4, 2 pixels with channels 3, 25, 20, 15, 10.
func TestPaperNetworkShapes(t *testing.T) {
	channels := []int{3, 25, 20, 15, 10} // bottom → top
	size := 32
	var weights int
	for l := 1; l < len(channels); l++ {
		g := mustSame(t, size, 3, 2)
		s := ConvSpec{Geom: g, Batch: 500, InC: channels[l-1], OutC: channels[l], Flip: true}
		if g.OutH != size/2 || g.PadTop != 0 {
			t.Errorf("layer %d: out %d pad %d, want %d and 0", l, g.OutH, g.PadTop, size/2)
		}
		if s.InLen() != channels[l-1]*500*size*size || s.OutLen() != channels[l]*500*size*size/4 {
			t.Errorf("layer %d: lengths %d/%d", l, s.InLen(), s.OutLen())
		}
		weights += s.KernelLen()
		size /= 2
	}
	if weights != 9225 {
		t.Errorf("paper network has %d kernel weights, want 9,225", weights)
	}
}

func TestActivations(t *testing.T) {
	in := []float32{-2, -0.5, 0, 0.5, 2}
	tests := []struct {
		a    Activation
		want []float32
	}{
		{Identity, []float32{-2, -0.5, 0, 0.5, 2}},
		{LeakyReLU, []float32{-0.02, -0.005, 0, 0.5, 2}},
		{ReLU, []float32{0, 0, 0, 0.5, 2}},
		{Sigmoid, []float32{0.11920292, 0.37754067, 0.5, 0.62245933, 0.88079708}},
	}
	for _, tc := range tests {
		got := make([]float32, len(in))
		tc.a.Apply(got, in)
		closeAll(t, tc.a.String(), got, tc.want, 1e-6)
		back, err := ParseActivation(tc.a.String())
		if err != nil || back != tc.a {
			t.Errorf("ParseActivation(%q) = %v, %v", tc.a.String(), back, err)
		}
	}
	// Derivatives against central differences, away from the kinks.
	pts := []float32{-1.3, -0.4, 0.3, 1.7}
	for _, a := range []Activation{Identity, LeakyReLU, ReLU, Sigmoid, SELU} {
		d := make([]float32, len(pts))
		a.Deriv(d, pts)
		for i, p := range pts {
			const h = 1e-3
			lo, hi := make([]float32, 1), make([]float32, 1)
			a.Apply(lo, []float32{p - h})
			a.Apply(hi, []float32{p + h})
			fd := (float64(hi[0]) - float64(lo[0])) / (2 * h)
			if math.Abs(fd-float64(d[i])) > 2e-3 {
				t.Errorf("%v'(%v) = %v, finite difference %v", a, p, d[i], fd)
			}
		}
	}
	if _, err := ParseActivation("tanhh"); err == nil {
		t.Error("ParseActivation accepted an unknown name")
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	src := randSlice(r, 4*3*10)
	mm := make([]float32, len(src))
	ToMapMajor(mm, src, 4, 3, 10)
	if mm[(2*4+1)*10+7] != src[(1*3+2)*10+7] {
		t.Fatal("ToMapMajor misplaced image 1 channel 2")
	}
	back := make([]float32, len(src))
	FromMapMajor(back, mm, 4, 3, 10)
	closeAll(t, "round trip", back, src, 0)
}

// TestConvTKernelWiderThanMap: a kernel wider than the map has taps that
// read only padding; ConvT (Col2Im) must skip them (it once sliced past
// the row).
func TestConvTKernelWiderThanMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := mustSame(t, 9, 4, 2)
	g2, _ := SameGeom(9, 1, 4, 2)
	for _, geom := range []Geom{g, g2} {
		s := ConvSpec{Geom: geom, Batch: 2, InC: 2, OutC: 3, Flip: true}
		x, y, k := randSlice(r, s.InLen()), randSlice(r, s.OutLen()), randSlice(r, s.KernelLen())
		cols := make([]float32, s.ColsLen())
		cx := make([]float32, s.OutLen())
		Conv(cx, x, k, cols, s)
		ty := make([]float32, s.InLen())
		ConvT(ty, y, k, cols, s)
		if lhs, rhs := Dot(ty, x), Dot(y, cx); math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
			t.Fatalf("%+v: <ConvT(y),x> = %v, <y,Conv(x)> = %v", geom, lhs, rhs)
		}
	}
}
