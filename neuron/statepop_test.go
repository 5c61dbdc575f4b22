package neuron

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/convngc/convngc/ngc/tensor"
)

// fakeSharer shares the feedback of every enrolled map: one product per
// (batch, step), counted.
type fakeSharer struct {
	kernels, dsts [][]float32
	spec          tensor.ConvSpec
	done          map[[2]int]bool
	products      int
}

func (f *fakeSharer) Patches(lower, batch, step int, x [][]float32, s tensor.ConvSpec, scratch []float32) []float32 {
	tensor.Im2ColMaps(scratch, x, s)
	return scratch
}

func (f *fakeSharer) ShareFeedback(ref Ref, lower int, s tensor.ConvSpec, kernel, dst []float32) func(batch, step int, x [][]float32) {
	f.kernels, f.dsts, f.spec = append(f.kernels, kernel), append(f.dsts, dst), s
	return func(batch, step int, x [][]float32) {
		if f.done[[2]int{batch, step}] {
			return
		}
		f.done[[2]int{batch, step}] = true
		f.products++
		s := f.spec
		cols := make([]float32, s.ColsLen())
		tensor.Im2ColMaps(cols, x, s)
		s.OutC = len(f.kernels)
		tensor.ConvColsKernels(f.dsts, cols, f.kernels, s)
	}
}

// TestSharedFeedbackMatchesOwn: state maps whose feedback a FeedbackSharer
// computes in one product move exactly as maps that compute their own.
func TestSharedFeedbackMatchesOwn(t *testing.T) {
	const B, maps, lower = 3, 4, 5
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	spec := tensor.ConvSpec{Geom: g, Batch: B, InC: lower, OutC: 1, Flip: true}
	plane := B * g.OutH * g.OutW
	r := rand.New(rand.NewPCG(5, 6))
	randv := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	sh := &fakeSharer{done: map[[2]int]bool{}}
	base := Settings{Batch: B, Steps: 4, State: StateParams{Beta: 0.1, Gamma: 0.001, Phi: tensor.LeakyReLU}, Optimizer: "adam", LearnRate: 0.01, Lambda: 1}
	shared, own := base, base
	shared.Patches = sh
	var ps, po []*StatePop
	for i := 0; i < maps; i++ {
		e := randv(spec.KernelLen())
		z0 := randv(plane)
		for _, v := range []struct {
			set  *Settings
			list *[]*StatePop
		}{{&shared, &ps}, {&own, &po}} {
			p, err := NewStatePop(Ref{Role: StateRole, Layer: 1, Index: i}, v.set, plane, false, false, true,
				[]Feedback{{Lower: 0, Spec: spec, E: append([]float32(nil), e...)}}, []bool{false})
			if err != nil {
				t.Fatal(err)
			}
			copy(p.Z(), z0)
			*v.list = append(*v.list, p)
		}
	}
	if len(sh.kernels) != maps {
		t.Fatalf("%d maps enrolled, want %d", len(sh.kernels), maps)
	}
	for step := 1; step <= 3; step++ {
		below := make([][]float32, lower)
		for j := range below {
			below[j] = randv(B * 8 * 8)
		}
		for i := 0; i < maps; i++ {
			eOwn := randv(plane)
			ps[i].correctAt(0, step, eOwn, [][][]float32{below})
			po[i].Correct(eOwn, [][][]float32{below})
		}
	}
	if sh.products != 3 {
		t.Errorf("%d shared products for 3 steps, want 3", sh.products)
	}
	for i := range ps {
		for k, v := range ps[i].Z() {
			if w := po[i].Z()[k]; math.Abs(float64(v-w)) > 1e-5*(1+math.Abs(float64(w))) {
				t.Fatalf("map %d value %d: shared %v, own %v", i, k, v, w)
			}
		}
	}
	if ps[0].cols != nil {
		t.Error("a map with shared feedback allocated its own patch buffer")
	}
}

// TestClampedErrorIgnoresLateAncestralPhi: a layer that predicts both a free
// layer and the image layer sends its φ(z) of step 0 to both; the image
// error map, which has no ancestral step, may get it after moving on and
// must ignore it rather than call it stale.
func TestClampedErrorIgnoresLateAncestralPhi(t *testing.T) {
	c := newChain(t, 1, 4, false)
	nop := func(Msg) error { return nil }
	phi := func(step int) Msg { return Msg{Kind: KindPhi, From: c.refTop, Step: step, Data: make([]float32, 4)} }
	if err := c.err.Handle(phi(1), nop); err != nil {
		t.Fatal(err)
	}
	if err := c.err.Handle(phi(0), nop); err != nil {
		t.Errorf("late step-0 φ(z): %v", err)
	}
}
