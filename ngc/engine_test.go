package ngc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// refWorkspace runs inference the way the actors compute it: whole layers
// in the map-major layout, package tensor's Conv and ConvT and package
// neuron's rules. It is the reference the tile engine must reproduce.
type refWorkspace struct {
	m                 *Model
	B                 int
	Z, Mu, E, Phi, Fb [][]float32
	specs             []tensor.ConvSpec
	cols              []float32
}

func newRef(m *Model, b int) *refWorkspace {
	L := m.cfg.Layers()
	r := &refWorkspace{m: m, B: b, Z: make([][]float32, L+1), Mu: make([][]float32, L+1), E: make([][]float32, L+1),
		Phi: make([][]float32, L+1), Fb: make([][]float32, L+1)}
	n := 0
	for l := 0; l <= L; l++ {
		sz := m.cfg.ChannelsAt(l) * b * m.cfg.SizeAt(l) * m.cfg.SizeAt(l)
		r.Z[l] = make([]float32, sz)
		if l < L {
			r.Mu[l], r.E[l] = make([]float32, sz), make([]float32, sz)
		}
		if l > 0 {
			r.Phi[l], r.Fb[l] = make([]float32, sz), make([]float32, sz)
			s := m.Spec(l, b)
			r.specs = append(r.specs, s)
			n = max(n, s.ColsLen())
		}
	}
	r.cols = make([]float32, n)
	return r
}

func (r *refWorkspace) predictLayer(l int) float64 {
	m, s := r.m, r.specs[l-1]
	m.phi.Apply(r.Phi[l], r.Z[l])
	tensor.ConvT(r.Mu[l-1], r.Phi[l], m.syn[l-1].W, r.cols[:s.ColsLen()], s)
	g := tensor.Identity
	if l == 1 && m.cfg.BottomSigmoid {
		g = tensor.Sigmoid
	}
	s0 := m.cfg.SizeAt(l - 1)
	neuron.Predict(r.Mu[l-1], m.syn[l-1].Bias, r.B*s0*s0, g)
	return neuron.Error(r.E[l-1], r.Z[l-1], r.Mu[l-1])
}

func (r *refWorkspace) predict() []float64 {
	L := r.m.cfg.Layers()
	en := make([]float64, L)
	for l := L; l >= 1; l-- {
		en[l-1] = r.predictLayer(l) / float64(r.B)
	}
	return en
}

func (r *refWorkspace) correct(freeBottom bool) {
	m := r.m
	p := m.stateParams()
	for l := 1; l <= m.cfg.Layers(); l++ {
		s := r.specs[l-1]
		tensor.Conv(r.Fb[l], r.E[l-1], m.feedback(l), r.cols[:s.ColsLen()], s)
		neuron.Correct(r.Z[l], r.E[l], r.Fb[l], p)
	}
	if freeBottom {
		neuron.Correct(r.Z[0], r.E[0], nil, p)
	}
}

// infer is the map-major Infer: top from rng, ancestral pass, T Jacobi
// steps, final prediction.
func (r *refWorkspace) infer(x []float32, task Task, rng *rand.Rand) (steps [][]float64, final []float64) {
	m := r.m
	L := m.cfg.Layers()
	m.InitTop(r.Z[L], rng)
	for l := L; l >= 1; l-- {
		r.predictLayer(l)
		if l-1 >= 1 {
			copy(r.Z[l-1], r.Mu[l-1])
		}
	}
	c0, s0 := m.cfg.ChannelsAt(0), m.cfg.SizeAt(0)
	tensor.ToMapMajor(r.Z[0], x, r.B, c0, s0*s0)
	for t := 1; t <= m.cfg.Steps; t++ {
		steps = append(steps, r.predict())
		r.correct(task == Denoise && t >= 2)
	}
	return steps, r.predict()
}

// maxRel is the largest |a−b|/(1+|b|).
func maxRel(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i]))/(1+math.Abs(float64(b[i]))))
	}
	return d
}

// engineCases are configurations that exercise every path of the engine:
// the paper's shapes at a smaller batch, odd map sizes (28 → 14 →
// 7 → 4 → 2), partial tiles, the generic activations and rules.
func engineCases() []struct {
	name string
	cfg  Config
	b    int
} {
	return []struct {
		name string
		cfg  Config
		b    int
	}{
		{"paper", Config{Steps: 6}, 20},
		{"size-28", Config{Channels: []int{5, 6, 7, 4, 3}, ImageSize: 28, Steps: 5}, 17},
		{"tiny-untied", Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 8, Untied: true}, 3},
		{"pcn", Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 8, PCN: true}, 16},
		{"sigmoid-bottom", Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 8, BottomSigmoid: true}, 5},
		{"selu", Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 8, Phi: "selu"}, 33},
		{"relu", Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 8, Phi: "relu"}, 2},
		{"identity-stride3", Config{Channels: []int{4, 5, 3}, ImageSize: 9, Stride: 3, Kernel: 4, Steps: 4, Phi: "identity"}, 7},
	}
}

// TestEngineMatchesMapMajor: for every configuration and both tasks, the
// tile engine's Infer gives the map-major reference's states, predictions,
// errors, φ, feedback and energies, on every micro-kernel set.
func TestEngineMatchesMapMajor(t *testing.T) {
	for _, isa := range tensor.TileKernelSets() {
		for _, tc := range engineCases() {
			for _, task := range []Task{Reconstruct, Denoise} {
				t.Run(fmt.Sprintf("%s/%s/%v", isa, tc.name, task), func(t *testing.T) {
					prev, err := tensor.UseTileKernels(isa)
					if err != nil {
						t.Fatal(err)
					}
					defer tensor.UseTileKernels(prev)
					m, err := New(tc.cfg)
					if err != nil {
						t.Fatal(err)
					}
					ws := workspace(t, m, tc.b)
					s0 := m.cfg.SizeAt(0)
					x := smoothImages(tc.b, s0, 3)
					var tr Trace
					if err := m.Infer(ws, x, task, rand.New(rand.NewPCG(4, 5)), &tr); err != nil {
						t.Fatal(err)
					}
					ref := newRef(m, tc.b)
					steps, final := ref.infer(x, task, rand.New(rand.NewPCG(4, 5)))
					compareRef(t, ws, ref, 2e-5)
					checkEnergies(t, tr.Steps, steps, tr.Final, final)
				})
			}
		}
	}
}

func compareRef(t *testing.T, ws *Workspace, ref *refWorkspace, tol float64) {
	t.Helper()
	for l := range ws.Z {
		for _, v := range []struct {
			name      string
			got, want []float32
		}{{"z", ws.Z[l], ref.Z[l]}, {"mu", ws.Mu[l], ref.Mu[l]}, {"e", ws.E[l], ref.E[l]}, {"phi", ws.Phi[l], ref.Phi[l]}, {"fb", ws.Fb[l], ref.Fb[l]}} {
			if len(v.got) != len(v.want) {
				t.Fatalf("layer %d %s: %d values, reference %d", l, v.name, len(v.got), len(v.want))
			}
			if d := maxRel(v.got, v.want); d > tol {
				t.Errorf("layer %d %s differs from the map-major reference by %g", l, v.name, d)
			}
		}
	}
}

func checkEnergies(t *testing.T, got, want [][]float64, gotFinal, wantFinal []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d steps of energies, reference %d", len(got), len(want))
	}
	for s := range append(got, gotFinal) {
		g, w := gotFinal, wantFinal
		if s < len(got) {
			g, w = got[s], want[s]
		}
		for l := range w {
			if math.Abs(g[l]-w[l]) > 1e-5*(1+w[l]) {
				t.Errorf("step %d layer %d: energy %v, reference %v", s+1, l, g[l], w[l])
			}
		}
	}
}

// TestStepPredictCorrectMatchMapMajor: the layer-by-layer entry points
// (Predict, Correct, Step) on states left in the workspace give the
// reference's results, and T Steps after the same start give what Infer
// gives.
func TestStepPredictCorrectMatchMapMajor(t *testing.T) {
	for _, tc := range engineCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ws := workspace(t, m, tc.b)
			x := smoothImages(tc.b, m.cfg.SizeAt(0), 8)
			if err := m.Infer(ws, x, Reconstruct, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
				t.Fatal(err)
			}
			ref := newRef(m, tc.b)
			for l := range ws.Z {
				copy(ref.Z[l], ws.Z[l])
			}
			for i := 0; i < 3; i++ {
				free := i == 1
				got := append([]float64(nil), m.Step(ws, free)...)
				want := ref.predict()
				ref.correct(free)
				checkEnergies(t, nil, nil, got, want)
				compareRef(t, ws, ref, 2e-5)
			}
			checkEnergies(t, nil, nil, m.Predict(ws), ref.predict())
			m.Correct(ws, true)
			ref.correct(true)
			compareRef(t, ws, ref, 2e-5)
		})
	}
}

// TestInferIsTSteps: Infer equals the same start followed by T calls of
// Step and a Predict, bit for bit (the fused run and the step-by-step
// entry points are one computation), and its trace is theirs.
func TestInferIsTSteps(t *testing.T) {
	m := tiny(t, func(c *Config) { c.Steps = 5; c.TopStd = Float(0) })
	const b = 19
	x := smoothImages(b, 8, 2)
	ws := workspace(t, m, b)
	var tr Trace
	if err := m.Infer(ws, x, Denoise, nil, &tr); err != nil {
		t.Fatal(err)
	}
	// The same start: T = 1 runs the initial states, one step and the final
	// prediction; the rest by Step.
	m1, err := m.WithSteps(1)
	if err != nil {
		t.Fatal(err)
	}
	ws1 := workspace(t, m1, b)
	var tr1 Trace
	if err := m1.Infer(ws1, x, Denoise, nil, &tr1); err != nil {
		t.Fatal(err)
	}
	steps := [][]float64{tr1.Steps[0]}
	for s := 2; s <= 5; s++ {
		steps = append(steps, append([]float64(nil), m1.Step(ws1, true)...))
	}
	final := m1.Predict(ws1)
	for l := range ws.Z {
		for _, pair := range [][2][]float32{{ws.Z[l], ws1.Z[l]}, {ws.Mu[l], ws1.Mu[l]}, {ws.E[l], ws1.E[l]}} {
			for i := range pair[0] {
				if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
					t.Fatalf("layer %d: Infer and Step differ at %d: %v vs %v", l, i, pair[0][i], pair[1][i])
				}
			}
		}
	}
	for s := range steps {
		for l := range steps[s] {
			if steps[s][l] != tr.Steps[s][l] {
				t.Fatalf("step %d layer %d energy: Infer %v, Step %v", s+1, l, tr.Steps[s][l], steps[s][l])
			}
		}
	}
	for l := range final {
		if final[l] != tr.Final[l] {
			t.Fatalf("final energy of layer %d: Infer %v, Predict %v", l, tr.Final[l], final[l])
		}
	}
}

// TestStepAllocatesNothing: one inference step on a workspace that has
// been used once allocates nothing (energies go to a buffer the workspace
// owns).
func TestStepAllocatesNothing(t *testing.T) {
	m, err := New(Config{Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	ws := workspace(t, m, 40)
	if err := m.Infer(ws, smoothImages(40, 32, 1), Reconstruct, nil, nil); err != nil {
		t.Fatal(err)
	}
	m.Step(ws, false)
	if a := testing.AllocsPerRun(20, func() { m.Step(ws, false) }); a != 0 {
		t.Errorf("Step allocates %v times", a)
	}
	if a := testing.AllocsPerRun(20, func() { m.Predict(ws); m.Correct(ws, true) }); a != 0 {
		t.Errorf("Predict and Correct allocate %v times", a)
	}
}

// TestGradientsMatchMapMajor: the learning rule's gradients, computed on
// the tiles right after inference (TrainBatch) and from the workspace
// afterwards (Gradients), are bit-identical, and equal ConvKernelGrad and
// BiasGrad over the whole batch in the map-major layout.
func TestGradientsMatchMapMajor(t *testing.T) {
	for _, isa := range tensor.TileKernelSets() {
		for _, tc := range engineCases() {
			t.Run(isa+"/"+tc.name, func(t *testing.T) {
				prev, err := tensor.UseTileKernels(isa)
				if err != nil {
					t.Fatal(err)
				}
				defer tensor.UseTileKernels(prev)
				m, err := New(tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				ws := workspace(t, m, tc.b)
				x := smoothImages(tc.b, m.cfg.SizeAt(0), 6)
				if err := m.infer(ws, x, Reconstruct, nil, nil, true, runOptions{}); err != nil {
					t.Fatal(err)
				}
				var fusedW, fusedB [][]float32
				for l := range ws.gW {
					fusedW = append(fusedW, append([]float32(nil), ws.gW[l]...))
					fusedB = append(fusedB, append([]float32(nil), ws.gB[l]...))
				}
				gW, gB := m.Gradients(ws)
				alpha := -1 / float32(tc.b)
				for l := 1; l <= m.cfg.Layers(); l++ {
					for i := range gW[l-1] {
						if math.Float32bits(gW[l-1][i]) != math.Float32bits(fusedW[l-1][i]) {
							t.Fatalf("layer %d weight %d: Gradients %v, TrainBatch's %v", l, i, gW[l-1][i], fusedW[l-1][i])
						}
					}
					for i := range gB[l-1] {
						if gB[l-1][i] != fusedB[l-1][i] {
							t.Fatalf("layer %d bias %d: Gradients %v, TrainBatch's %v", l, i, gB[l-1][i], fusedB[l-1][i])
						}
					}
					s := m.Spec(l, tc.b)
					wantW := make([]float32, s.KernelLen())
					tensor.ConvKernelGrad(wantW, ws.E[l-1], ws.Phi[l], make([]float32, s.ColsLen()), s, alpha, 0)
					wantB := make([]float32, s.InC)
					sz := m.cfg.SizeAt(l - 1)
					neuron.BiasGrad(wantB, ws.E[l-1], tc.b*sz*sz, alpha)
					if d := maxRel(gW[l-1], wantW); d > 1e-5 {
						t.Errorf("layer %d: kernel gradient differs from ConvKernelGrad by %g", l, d)
					}
					if d := maxRel(gB[l-1], wantB); d > 1e-5 {
						t.Errorf("layer %d: bias gradient differs from BiasGrad by %g", l, d)
					}
				}
			})
		}
	}
}

// TestResultsIndependentOfGoroutines: tiles are summed in tile order, so
// training on one goroutine or several gives bit-identical kernels,
// outputs and energies.
func TestResultsIndependentOfGoroutines(t *testing.T) {
	run := func(procs int) ([]float32, []float32, float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		m, err := New(Config{Channels: []int{5, 6, 3}, ImageSize: 16, Steps: 5, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		ws := workspace(t, m, 70)
		var tr Trace
		for i := 0; i < 3; i++ {
			if err := m.TrainBatch(ws, smoothImages(70, 16, uint64(i)), nil, &tr); err != nil {
				t.Fatal(err)
			}
		}
		out := make([]float32, 70*3*16*16)
		ws.Output(out)
		return append([]float32(nil), m.Synapses(1).W...), out, tr.FinalTotal()
	}
	w1, o1, e1 := run(1)
	w3, o3, e3 := run(3)
	for i := range w1 {
		if math.Float32bits(w1[i]) != math.Float32bits(w3[i]) {
			t.Fatalf("kernel %d: %v on one goroutine, %v on three", i, w1[i], w3[i])
		}
	}
	for i := range o1 {
		if math.Float32bits(o1[i]) != math.Float32bits(o3[i]) {
			t.Fatalf("output %d differs", i)
		}
	}
	if e1 != e3 {
		t.Errorf("energy %v on one goroutine, %v on three", e1, e3)
	}
}

// TestForeignWorkspace: the step-by-step entry points refuse a workspace
// made by another model (which would compute with that model's weights).
func TestForeignWorkspace(t *testing.T) {
	a, b := tiny(t, nil), tiny(t, nil)
	ws := workspace(t, a, 2)
	for name, f := range map[string]func(){
		"Step":      func() { b.Step(ws, false) },
		"Predict":   func() { b.Predict(ws) },
		"Correct":   func() { b.Correct(ws, false) },
		"Gradients": func() { b.Gradients(ws) },
		"Learn":     func() { b.Learn(ws) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s accepted another model's workspace", name)
				}
			}()
			f()
		}()
	}
	if err := b.TrainBatch(ws, smoothImages(2, 8, 1), nil, nil); err == nil {
		t.Error("TrainBatch accepted another model's workspace")
	}
}
