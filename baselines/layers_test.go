package baselines

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/convngc/convngc/ngc/tensor"
)

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// naiveConv is a direct SAME convolution (TensorFlow padding, no kernel
// flip) over map-major x, for checking Conv2D's orientation and padding.
func naiveConv(x []float32, in Shape, w, b []float32, out, k, stride int) ([]float32, Shape) {
	oh, ow := (in.H+stride-1)/stride, (in.W+stride-1)/stride
	padH := max((oh-1)*stride+k-in.H, 0) / 2
	padW := max((ow-1)*stride+k-in.W, 0) / 2
	sh := Shape{C: out, B: in.B, H: oh, W: ow}
	y := make([]float32, sh.Len())
	for o := 0; o < out; o++ {
		for bi := 0; bi < in.B; bi++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := float64(b[o])
					for c := 0; c < in.C; c++ {
						for ty := 0; ty < k; ty++ {
							for tx := 0; tx < k; tx++ {
								iy, ix := oy*stride+ty-padH, ox*stride+tx-padW
								if iy < 0 || iy >= in.H || ix < 0 || ix >= in.W {
									continue
								}
								s += float64(w[((o*in.C+c)*k+ty)*k+tx]) * float64(x[((c*in.B+bi)*in.H+iy)*in.W+ix])
							}
						}
					}
					y[((o*in.B+bi)*oh+oy)*ow+ox] = float32(s)
				}
			}
		}
	}
	return y, sh
}

func TestConv2DMatchesDirectSAME(t *testing.T) {
	for _, tc := range []struct{ size, stride int }{{8, 2}, {7, 2}, {6, 1}, {5, 3}} {
		r := rng(uint64(tc.size))
		c, err := NewConv2D("c", 2, 3, 3, tc.stride, r)
		if err != nil {
			t.Fatal(err)
		}
		c.Bias.Value = randSlice(r, 3, -1, 1)
		in := Shape{C: 2, B: 2, H: tc.size, W: tc.size}
		out, err := c.Setup(in)
		if err != nil {
			t.Fatal(err)
		}
		x := randSlice(r, in.Len(), -1, 1)
		want, wsh := naiveConv(x, in, c.Weight.Value, c.Bias.Value, 3, 3, tc.stride)
		if out != wsh {
			t.Fatalf("size %d stride %d: output shape %v, want %v", tc.size, tc.stride, out, wsh)
		}
		got := c.Forward(x, true)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("size %d stride %d: y[%d] = %g, want %g", tc.size, tc.stride, i, got[i], want[i])
			}
		}
	}
}

func TestConv2DGradient(t *testing.T) {
	for _, tc := range []struct{ size, stride int }{{8, 2}, {7, 2}, {5, 1}} {
		r := rng(2)
		c, err := NewConv2D("c", 3, 4, 3, tc.stride, r)
		if err != nil {
			t.Fatal(err)
		}
		c.Bias.Value = randSlice(r, 4, -1, 1)
		checkGrad(t, c, gradCase{in: Shape{C: 3, B: 2, H: tc.size, W: tc.size}, h: 0.05, rtol: 1e-3, atol: 1e-3, seed: 3})
	}
}

func TestConvTranspose2DGradient(t *testing.T) {
	for _, stride := range []int{2, 1} {
		r := rng(4)
		c, err := NewConvTranspose2D("d", 4, 3, 3, stride, r)
		if err != nil {
			t.Fatal(err)
		}
		c.Bias.Value = randSlice(r, 3, -1, 1)
		checkGrad(t, c, gradCase{in: Shape{C: 4, B: 2, H: 4, W: 4}, h: 0.05, rtol: 1e-3, atol: 1e-3, seed: 5})
	}
}

// TestConvTransposeIsAdjoint checks ⟨ConvT(y), x⟩ = ⟨y, Conv(x)⟩ for the
// layers' shared kernel (biases zero), the defining property of TF's SAME
// conv2d_transpose.
func TestConvTransposeIsAdjoint(t *testing.T) {
	r := rng(6)
	conv, _ := NewConv2D("c", 3, 5, 3, 2, r)
	dec, _ := NewConvTranspose2D("d", 5, 3, 3, 2, r)
	copy(dec.Weight.Value, conv.Weight.Value) // [5][3][3][3] both
	large := Shape{C: 3, B: 2, H: 8, W: 8}
	small, err := conv.Setup(large)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := dec.Setup(small); err != nil || out != large {
		t.Fatalf("transposed conv of %v gives %v, %v; want %v", small, out, err, large)
	}
	x := randSlice(r, large.Len(), -1, 1)
	y := randSlice(r, small.Len(), -1, 1)
	a := projection(y, conv.Forward(x, false))
	b := projection(x, dec.Forward(y, false))
	if math.Abs(a-b) > 1e-4*math.Abs(a) {
		t.Errorf("⟨y, Conv x⟩ = %g, ⟨ConvT y, x⟩ = %g", a, b)
	}
}

func TestBatchNormGradient(t *testing.T) {
	r := rng(7)
	bn, err := NewBatchNorm("bn", 3, 0.9, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	bn.Gamma.Value = randSlice(r, 3, 0.5, 1.5)
	bn.Beta.Value = randSlice(r, 3, -1, 1)
	in := Shape{C: 3, B: 4, H: 3, W: 3}
	checkGrad(t, bn, gradCase{in: in, train: true, h: 1e-2, rtol: 1e-2, atol: 2e-3, seed: 8})
	// Evaluation mode: a fixed affine map with the running statistics.
	bn.RunningMean.Value = randSlice(r, 3, -0.5, 0.5)
	bn.RunningVar.Value = randSlice(r, 3, 0.5, 2)
	checkGrad(t, bn, gradCase{in: in, train: false, h: 1e-2, rtol: 1e-3, atol: 1e-3, seed: 9})
}

func TestBatchNormStatistics(t *testing.T) {
	bn, _ := NewBatchNorm("bn", 2, 0.75, 1e-3)
	in := Shape{C: 2, B: 2, H: 1, W: 2}
	if _, err := bn.Setup(in); err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 2, 3, 4, 10, 10, 10, 10}
	y := bn.Forward(x, true)
	// Map 0: mean 2.5, variance 1.25; map 1: constant.
	for i, v := range x[:4] {
		want := (v - 2.5) / float32(math.Sqrt(1.25+1e-3))
		if math.Abs(float64(y[i]-want)) > 1e-6 {
			t.Errorf("y[%d] = %g, want %g", i, y[i], want)
		}
	}
	for i, v := range y[4:] {
		if v != 0 {
			t.Errorf("constant map normalised to y[%d] = %g, want 0", 4+i, v)
		}
	}
	if m, v := bn.RunningMean.Value, bn.RunningVar.Value; math.Abs(float64(m[0])-0.625) > 1e-6 ||
		math.Abs(float64(v[0])-(0.75+0.25*1.25)) > 1e-6 || math.Abs(float64(m[1])-2.5) > 1e-6 || math.Abs(float64(v[1])-0.75) > 1e-6 {
		t.Errorf("running mean %v, var %v after one batch", m, v)
	}
	// Evaluation uses the running statistics.
	y = bn.Forward(x, false)
	want := (float32(1) - bn.RunningMean.Value[0]) / float32(math.Sqrt(float64(bn.RunningVar.Value[0])+1e-3))
	if math.Abs(float64(y[0]-want)) > 1e-6 {
		t.Errorf("eval y[0] = %g, want %g", y[0], want)
	}
}

func TestMaxPool(t *testing.T) {
	mp, err := NewMaxPool(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	// One 3×3 map: SAME gives 2×2, the last row and column pooled alone.
	in := Shape{C: 1, B: 1, H: 3, W: 3}
	out, err := mp.Setup(in)
	if err != nil || out != (Shape{C: 1, B: 1, H: 2, W: 2}) {
		t.Fatalf("pool of %v: %v, %v", in, out, err)
	}
	y := mp.Forward([]float32{
		1, 5, -2,
		3, 4, -7,
		-1, 0, -3}, false)
	if want := []float32{5, -2, 0, -3}; !equal(y, want) {
		t.Errorf("pooled %v, want %v", y, want)
	}
	dx := mp.Backward([]float32{1, 2, 3, 4})
	if want := []float32{0, 1, 2, 0, 0, 0, 0, 3, 4}; !equal(dx, want) {
		t.Errorf("pool gradient %v, want %v", dx, want)
	}
	// Distinct values 0.01 apart, so a step of 1e-3 never changes a maximum.
	for _, size := range []int{4, 5} {
		in := Shape{C: 2, B: 3, H: size, W: size}
		x := make([]float32, in.Len())
		for i, p := range rng(10).Perm(len(x)) {
			x[i] = float32(p) * 0.01
		}
		checkGrad(t, mp, gradCase{in: in, x: x, h: 1e-3, rtol: 1e-2, atol: 1e-3, seed: 11})
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestActGradient(t *testing.T) {
	in := Shape{C: 2, B: 3, H: 4, W: 4}
	for _, f := range []tensor.Activation{tensor.Identity, tensor.ReLU, tensor.LeakyReLU, tensor.Sigmoid, tensor.SELU} {
		// Inputs kept away from the kinks of the piecewise-linear ones.
		r := rng(12)
		x := randSlice(r, in.Len(), 0.05, 2)
		for i := range x {
			if r.IntN(2) == 0 {
				x[i] = -x[i]
			}
		}
		checkGrad(t, NewAct(f), gradCase{in: in, x: x, h: 1e-2, rtol: 1e-2, atol: 1e-3, seed: 13})
	}
}

func TestDenseGradient(t *testing.T) {
	r := rng(14)
	d, err := NewDense("fc", 7, 5, r)
	if err != nil {
		t.Fatal(err)
	}
	d.Bias.Value = randSlice(r, 5, -1, 1)
	in := Shape{C: 7, B: 6, H: 1, W: 1}
	out, err := d.Setup(in)
	if err != nil || out != (Shape{C: 5, B: 6, H: 1, W: 1}) {
		t.Fatalf("dense of %v: %v, %v", in, out, err)
	}
	// Forward against y = W·x + b, unit-major.
	x := randSlice(r, in.Len(), -1, 1)
	y := d.Forward(x, false)
	for o := 0; o < 5; o++ {
		for b := 0; b < 6; b++ {
			s := float64(d.Bias.Value[o])
			for i := 0; i < 7; i++ {
				s += float64(d.Weight.Value[o*7+i]) * float64(x[i*6+b])
			}
			if math.Abs(s-float64(y[o*6+b])) > 1e-5 {
				t.Fatalf("y[%d][%d] = %g, want %g", o, b, y[o*6+b], s)
			}
		}
	}
	checkGrad(t, d, gradCase{in: in, h: 0.05, rtol: 1e-3, atol: 1e-3, seed: 15})
}

func TestFlatten(t *testing.T) {
	f := &Flatten{}
	in := Shape{C: 2, B: 3, H: 2, W: 1}
	out, err := f.Setup(in)
	if err != nil || out != (Shape{C: 4, B: 3, H: 1, W: 1}) {
		t.Fatalf("flatten of %v: %v, %v", in, out, err)
	}
	x := make([]float32, in.Len())
	for i := range x {
		x[i] = float32(i) // x[c][b][h] = (c·3 + b)·2 + h
	}
	y := f.Forward(x, false)
	for c := 0; c < 2; c++ {
		for h := 0; h < 2; h++ {
			for b := 0; b < 3; b++ {
				if got, want := y[(c*2+h)*3+b], x[(c*3+b)*2+h]; got != want {
					t.Errorf("feature (%d,%d) image %d = %g, want %g", c, h, b, got, want)
				}
			}
		}
	}
	checkGrad(t, f, gradCase{in: in, h: 0.1, rtol: 1e-4, atol: 1e-5, seed: 16})
}

// TestSequentialGradient checks backpropagation through a whole small
// autoencoder of the real architecture, in training mode (batch statistics)
// and evaluation mode. It uses the sigmoid as hidden activation: ReLU's and
// SELU's derivatives jump at 0, and with thousands of pre-activations some
// cross 0 within any step, which makes finite differences of the whole
// network unreliable; those activations are checked on their own above.
// Where a max-pool's maximum changes hands within the step, the index is
// skipped (see gradCase.kinks).
func TestSequentialGradient(t *testing.T) {
	cfg, err := AEConfig{ImageSize: 16, Maps: 4, BNMomentum: 0.5}.resolve(kindAE)
	if err != nil {
		t.Fatal(err)
	}
	net, err := buildAE(cfg, tensor.Sigmoid, rng(17))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		if len(p.Value) < 10 { // biases, gammas and betas away from their initial values
			p.Value = randSlice(rng(uint64(len(p.Name))), len(p.Value), 0.5, 1)
		}
	}
	x := smoothImages(4, 3, 16, 18)
	xm := make([]float32, len(x))
	tensor.ToMapMajor(xm, x, 4, 3, 256)
	for _, train := range []bool{true, false} {
		checkGrad(t, net, gradCase{in: Shape{C: 3, B: 4, H: 16, W: 16}, x: xm, train: train,
			h: 1e-2, rtol: 2e-2, atol: 2e-3, samples: 16, seed: 19, kinks: true})
	}
}

func TestLossGradient(t *testing.T) {
	r := rng(20)
	const n = 50
	p := randSlice(r, n, 0.05, 0.95)
	x := randSlice(r, n, 0, 1)
	for _, l := range []Loss{MSE, BCE} {
		grad := make([]float32, n)
		if _, err := l.Eval(grad, p, x); err != nil {
			t.Fatal(err)
		}
		const h = 1e-3
		for i := range p {
			old := p[i]
			p[i] = old + h
			up, _ := l.Eval(nil, p, x)
			p[i] = old - h
			down, _ := l.Eval(nil, p, x)
			p[i] = old
			num := (up - down) / (float64(p[i]+h-p[i]) + float64(p[i]-(p[i]-h)))
			if d := math.Abs(num - float64(grad[i])); d > 1e-3*math.Abs(num)+1e-6 {
				t.Errorf("%v: dL/dp[%d] = %g, finite difference %g", l, i, grad[i], num)
			}
		}
		// Through the sigmoid: the gradient with respect to the logits.
		a := randSlice(r, n, -3, 3)
		sig := func() []float32 { s := make([]float32, n); tensor.Sigmoid.Apply(s, a); return s }
		if _, err := l.EvalSigmoid(grad, sig(), x); err != nil {
			t.Fatal(err)
		}
		for i := range a {
			old := a[i]
			a[i] = old + h
			up, _ := l.EvalSigmoid(nil, sig(), x)
			a[i] = old - h
			down, _ := l.EvalSigmoid(nil, sig(), x)
			a[i] = old
			num := (up - down) / (2 * h)
			if d := math.Abs(num - float64(grad[i])); d > 2e-2*math.Abs(num)+1e-5 {
				t.Errorf("%v: dL/da[%d] = %g, finite difference %g", l, i, grad[i], num)
			}
		}
	}
	// Hand values.
	mse, _ := MSE.Eval(nil, []float32{0.5, 1}, []float32{0, 1})
	bce, _ := BCE.Eval(nil, []float32{0.5}, []float32{1})
	if math.Abs(mse-0.125) > 1e-7 || math.Abs(bce-math.Ln2) > 1e-7 {
		t.Errorf("mse %g (want 0.125), bce %g (want ln 2)", mse, bce)
	}
	if _, err := MSE.Eval(nil, []float32{1}, []float32{1, 2}); err == nil {
		t.Error("mismatched loss inputs accepted")
	}
	if _, err := ParseLoss("l1"); err == nil {
		t.Error("unknown loss accepted")
	}
}

func TestGlorotUniform(t *testing.T) {
	w := make([]float32, 10000)
	GlorotUniform(w, 27, 288, rng(21))
	a := math.Sqrt(6.0 / (27 + 288))
	var lo, hi float64
	for _, v := range w {
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	if lo < -a || hi > a || lo > -0.95*a || hi < 0.95*a {
		t.Errorf("Glorot draws in [%g, %g], want to fill [−%g, %g]", lo, hi, a, a)
	}
}

func TestLayerShapeErrors(t *testing.T) {
	r := rng(22)
	conv, _ := NewConv2D("c", 3, 4, 3, 2, r)
	dense, _ := NewDense("d", 4, 2, r)
	bn, _ := NewBatchNorm("bn", 4, 0.9, 1e-3)
	for _, tc := range []struct {
		l  Layer
		in Shape
	}{
		{conv, Shape{C: 2, B: 1, H: 4, W: 4}},
		{conv, Shape{C: 3, B: 0, H: 4, W: 4}},
		{dense, Shape{C: 4, B: 2, H: 2, W: 1}},
		{bn, Shape{C: 3, B: 2, H: 1, W: 1}},
		{NewSequential(conv, bn), Shape{C: 3, B: 1, H: 4, W: 4}}, // conv gives 4 maps: fine
	} {
		_, err := tc.l.Setup(tc.in)
		if _, ok := tc.l.(*Sequential); ok {
			if err != nil {
				t.Errorf("sequential on %v: %v", tc.in, err)
			}
			continue
		}
		if !errors.Is(err, ErrShape) {
			t.Errorf("%T.Setup(%v) = %v, want ErrShape", tc.l, tc.in, err)
		}
	}
	if _, err := NewConv2D("c", 0, 1, 3, 1, r); !errors.Is(err, ErrShape) {
		t.Errorf("NewConv2D with no input maps: %v", err)
	}
	if _, err := NewMaxPool(0, 2); !errors.Is(err, ErrShape) {
		t.Errorf("NewMaxPool(0, 2): %v", err)
	}
	if _, err := NewBatchNorm("bn", 2, 1.5, 1e-3); !errors.Is(err, ErrShape) {
		t.Errorf("NewBatchNorm with momentum 1.5: %v", err)
	}
}
