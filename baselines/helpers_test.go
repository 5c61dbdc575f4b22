package baselines

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/convngc/convngc/ngc/data"
)

// smoothImages returns n synthetic c×size×size images, image-major, in
// [0, 1]: random low-frequency ramps and blobs that a small model can learn.
func smoothImages(n, c, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*c*size*size)
	for i := 0; i < n; i++ {
		cy, cx := r.Float64()*float64(size), r.Float64()*float64(size)
		rad := (0.2 + 0.3*r.Float64()) * float64(size)
		for ch := 0; ch < c; ch++ {
			a, b, p := 1.2*(r.Float64()-0.5), 1.2*(r.Float64()-0.5), r.Float64()
			blob := r.Float64() - 0.5
			for y := 0; y < size; y++ {
				for xx := 0; xx < size; xx++ {
					d := math.Hypot(float64(y)-cy, float64(xx)-cx) / rad
					v := 0.5 + a*(float64(y)/float64(size)-0.5) + b*(float64(xx)/float64(size)-0.5) + 0.3*(p-0.5) + blob*math.Exp(-d*d)
					x[((i*c+ch)*size+y)*size+xx] = float32(min(max(v, 0), 1))
				}
			}
		}
	}
	return x
}

// smoothSet returns a data set of n synthetic 32×32×3 images.
func smoothSet(n int, seed uint64) *data.Set {
	return &data.Set{Name: "smooth", Images: smoothImages(n, data.Channels, data.Height, seed), Labels: make([]int, n)}
}

func randSlice(r *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return s
}

// projection returns the scalar loss Σ r·y in float64.
func projection(r, y []float32) float64 {
	var s float64
	for i, v := range y {
		s += float64(r[i]) * float64(v)
	}
	return s
}

// gradCase configures checkGrad.
type gradCase struct {
	in      Shape
	x       []float32 // input; random in [-1, 1] when nil
	train   bool
	h       float64 // finite-difference step
	rtol    float64
	atol    float64
	samples int // indices checked per tensor (all when the tensor is smaller)
	seed    uint64
	// kinks allows for points where the loss is not differentiable within
	// the step (a max-pool's maximum changes hands): an index passes when
	// the finite difference with step h, h/2, h/4 or h/8 matches, and is
	// skipped when none does and they disagree among themselves. At most a
	// quarter may be skipped. A wrong Backward still fails: the steps then
	// agree with each other and not with it.
	kinks bool
}

// checkGrad compares the layer's Backward (input gradient and every
// trainable parameter's gradient) with central finite differences of the
// scalar loss Σ r·Forward(x) for a random projection r.
func checkGrad(t *testing.T, l Layer, c gradCase) {
	t.Helper()
	r := rand.New(rand.NewPCG(c.seed, 99))
	out, err := l.Setup(c.in)
	if err != nil {
		t.Fatal(err)
	}
	x := c.x
	if x == nil {
		x = randSlice(r, c.in.Len(), -1, 1)
	}
	proj := randSlice(r, out.Len(), -1, 1)
	loss := func() float64 { return projection(proj, l.Forward(x, c.train)) }
	loss()
	dx := append([]float32(nil), l.Backward(proj)...)
	type target struct {
		name string
		v    []float32
		g    []float32
	}
	targets := []target{{"input", x, dx}}
	for _, p := range l.Params() {
		targets = append(targets, target{p.Name, p.Value, append([]float32(nil), p.Grad...)})
	}
	for _, tg := range targets {
		idx := r.Perm(len(tg.v))
		if c.samples > 0 && len(idx) > c.samples {
			idx = idx[:c.samples]
		}
		bad, skipped := 0, 0
		close := func(a, b float64) bool { return math.Abs(a-b) <= c.atol+c.rtol*max(math.Abs(a), math.Abs(b)) }
		for _, i := range idx {
			old := tg.v[i]
			fd := func(h float64) float64 {
				tg.v[i] = old + float32(h)
				up := loss()
				tg.v[i] = old - float32(h)
				down := loss()
				tg.v[i] = old
				return (up - down) / (2 * h)
			}
			num := fd(c.h)
			ana := float64(tg.g[i])
			if c.kinks && !close(num, ana) {
				lo, hi := num, num
				for h := c.h / 2; h >= c.h/8 && !close(num, ana); h /= 2 {
					num = fd(h)
					lo, hi = min(lo, num), max(hi, num)
				}
				if !close(num, ana) && !close(lo, hi) {
					skipped++
					continue
				}
			}
			if !close(num, ana) {
				if bad < 5 {
					t.Errorf("%T %s[%d]: backward %.6g, finite difference %.6g", l, tg.name, i, ana, num)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%T %s: %d of %d gradients off", l, tg.name, bad, len(idx))
		}
		if 4*skipped > len(idx) {
			t.Errorf("%T %s: %d of %d indices skipped as not differentiable", l, tg.name, skipped, len(idx))
		}
	}
}
