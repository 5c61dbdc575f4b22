package ngc

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/convngc/convngc/ngc/graph"
)

// randomImages returns b images of side size with uniform pixels.
func randomImages(b, size int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, b*3*size*size)
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

// relClose reports whether a and b agree to tol relative to their scale.
func relClose(a, b []float32, tol float64) (float64, bool) {
	var diff, scale float64
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i]-b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff, diff <= tol*(1+scale)
}

// TestGraphExecEqualsEngineOnChain: the whole-layer graph executor and the
// tiled engine run a chain to the same states, outputs, energies and
// gradients.
func TestGraphExecEqualsEngineOnChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		task Task
	}{
		{"tied recon", Config{}, Reconstruct},
		{"tied denoise", Config{}, Denoise},
		{"untied pcn", Config{Untied: true, PCN: true}, Reconstruct},
		{"sigmoid bottom", Config{BottomSigmoid: true}, Denoise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Channels, cfg.ImageSize, cfg.Steps, cfg.Seed = []int{4, 5, 6, 3}, 16, 7, 5
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			const b = 5
			x := randomImages(b, 16, 1)
			tiled, err := m.NewWorkspace(b)
			if err != nil {
				t.Fatal(err)
			}
			whole := m.newGraphWorkspace(b)
			var trT, trW Trace
			if err := m.infer(tiled, x, tc.task, rand.New(rand.NewPCG(9, 9)), &trT, true, runOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := m.infer(whole, x, tc.task, rand.New(rand.NewPCG(9, 9)), &trW, true, runOptions{}); err != nil {
				t.Fatal(err)
			}
			for l := range tiled.Z {
				if d, ok := relClose(whole.Z[l], tiled.Z[l], 1e-5); !ok {
					t.Errorf("layer %d states differ by %g", l, d)
				}
			}
			if d, ok := relClose(whole.Mu[0], tiled.Mu[0], 1e-5); !ok {
				t.Errorf("outputs differ by %g", d)
			}
			for i := range trT.Final {
				if math.Abs(trT.Final[i]-trW.Final[i]) > 1e-5*(1+trT.Final[i]) {
					t.Errorf("final energy of layer %d: %v and %v", i, trW.Final[i], trT.Final[i])
				}
			}
			for si := range m.g.Synapses {
				if d, ok := relClose(whole.gx.gW[si], tiled.gW[si], 1e-4); !ok {
					t.Errorf("synapse %d: W gradients differ by %g", si, d)
				}
				if d, ok := relClose(whole.gx.gB[si], tiled.gB[si], 1e-4); !ok {
					t.Errorf("synapse %d: bias gradients differ by %g", si, d)
				}
			}
		})
	}
}

// skipGraph is a three-layer network with a skip synapse from the top
// straight to the image, and a layer predicted by two.
func skipGraph(t *testing.T) *graph.Graph {
	t.Helper()
	g := &graph.Graph{
		Layers: []graph.Layer{{Maps: 3, Size: 16, Image: true}, {Maps: 4, Size: 8}, {Maps: 5, Size: 4}},
		Synapses: []graph.Synapse{
			{From: 1, To: 0, Kernel: 3, Stride: 2},
			{From: 2, To: 1, Kernel: 3, Stride: 2},
			{From: 2, To: 0, Kernel: 5, Stride: 4},
		},
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

// totalEnergy predicts from the states in ws and returns Σ_ℓ ½‖e[ℓ]‖² per
// image.
func totalEnergy(m *Model, ws *Workspace) float64 {
	var s float64
	for _, v := range m.Predict(ws) {
		s += v
	}
	return s
}

// checkGradient compares a gradient with central finite differences of
// the total energy, with the states held fixed, at a few entries of w.
func checkGradient(t *testing.T, what string, m *Model, ws *Workspace, w, grad []float32, rng *rand.Rand) {
	t.Helper()
	checkGradientStep(t, what, m, ws, w, grad, rng, 1e-2)
}

// checkGradientStep is checkGradient with finite differences of step h
// (small, where the energy has kinks: rectifiers, the maxima of pools).
func checkGradientStep(t *testing.T, what string, m *Model, ws *Workspace, w, grad []float32, rng *rand.Rand, h float32) {
	t.Helper()
	for range 6 {
		i := rng.IntN(len(w))
		old := w[i]
		w[i] = old + h
		up := totalEnergy(m, ws)
		w[i] = old - h
		down := totalEnergy(m, ws)
		w[i] = old
		fd := (up - down) / (2 * float64(h))
		if math.Abs(fd-float64(grad[i])) > 2e-3*(1+math.Abs(fd)) {
			t.Errorf("%s[%d]: gradient %v, finite difference %v", what, i, grad[i], fd)
		}
	}
}

// TestSkipGraphGradients: on a graph with a skip synapse and a layer with
// two parents, the learning rule is the negative energy gradient (finite
// differences), and training lowers the energy.
func TestSkipGraphGradients(t *testing.T) {
	m, err := New(Config{Graph: skipGraph(t), Steps: 8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config().Chain() || m.Config().Channels != nil {
		t.Fatalf("a skip graph resolved as a chain: %+v", m.Config())
	}
	const b = 4
	ws, err := m.NewWorkspace(b)
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(b, 16, 4)
	if err := m.Infer(ws, x, Reconstruct, nil, nil); err != nil {
		t.Fatal(err)
	}
	gW, gB := m.Gradients(ws)
	rng := rand.New(rand.NewPCG(1, 2))
	for si := range m.g.Synapses {
		checkGradient(t, "W of synapse "+string(rune('0'+si)), m, ws, m.syn[si].W, gW[si], rng)
		if m.syn[si].Bias != nil {
			checkGradient(t, "bias of synapse "+string(rune('0'+si)), m, ws, m.syn[si].Bias, gB[si], rng)
		}
	}
	if m.syn[2].Bias != nil || m.syn[0].Bias == nil {
		t.Error("the image layer's biases should live with its first synapse only")
	}
	var tr Trace
	var first, last float64
	for i := range 40 {
		if err := m.TrainBatch(ws, x, nil, &tr); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tr.FinalTotal()
		}
		last = tr.FinalTotal()
	}
	if !(last < 0.7*first) {
		t.Errorf("training a skip graph: energy %v → %v", first, last)
	}
}

// residualGraph is a chain of two synapses turned into residual blocks.
func residualGraph(t *testing.T, block func(lower int) *graph.Block) *graph.Graph {
	t.Helper()
	g, err := graph.Chain([]int{5, 4, 3}, 16, 3, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.Synapses {
		s := g.Synapses[i]
		g.Synapses[i] = graph.Synapse{From: s.From, To: s.To, Block: block(g.Layers[s.To].Maps)}
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestResidualBlockLearning: the last stage's update is the negative energy
// gradient exactly (its error d is the layer's own error), finite
// differences agree; training an Appendix C network lowers its energy; and
// the model survives a checkpoint.
func TestResidualBlockLearning(t *testing.T) {
	// A block whose last stage has neither pool nor rectifier.
	plainLast := func(lower int) *graph.Block {
		return &graph.Block{Skip: true, Stages: []graph.Stage{
			{Maps: 4, Kernel: 3, Stride: 2, Pool: 2, ReLU: true},
			{Maps: lower, Kernel: 3, Stride: 2},
		}}
	}
	m, err := New(Config{Graph: residualGraph(t, plainLast), Steps: 6, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	const b = 3
	ws, err := m.NewWorkspace(b)
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(b, 16, 6)
	if err := m.Infer(ws, x, Reconstruct, nil, nil); err != nil {
		t.Fatal(err)
	}
	m.Gradients(ws)
	rng := rand.New(rand.NewPCG(3, 4))
	for si := range m.g.Synapses {
		checkGradient(t, "last stage W", m, ws, m.syn[si].Stages[1].W, ws.gx.gStage[si][1], rng)
	}

	// With linear stages and E = W, the pathway is backprop: every stage's
	// update is the negative energy gradient.
	linear := func(lower int) *graph.Block {
		return &graph.Block{Skip: true, Stages: []graph.Stage{{Maps: 4, Kernel: 3, Stride: 2}, {Maps: 4, Kernel: 3, Stride: 1}, {Maps: lower, Kernel: 3, Stride: 1}}}
	}
	ex, err := New(Config{Graph: residualGraph(t, linear), Steps: 6, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for si := range ex.syn {
		for _, st := range ex.syn[si].Stages {
			copy(st.E, st.W)
		}
	}
	ws, err = ex.NewWorkspace(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Infer(ws, x, Reconstruct, nil, nil); err != nil {
		t.Fatal(err)
	}
	ex.Gradients(ws)
	for si := range ex.syn {
		for k := range ex.syn[si].Stages {
			checkGradient(t, "linear block stage W", ex, ws, ex.syn[si].Stages[k].W, ws.gx.gStage[si][k], rng)
		}
	}

	// A block learns: training lowers the energy.
	lm, err := New(Config{Graph: residualGraph(t, linear), Steps: 10, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	ws, err = lm.NewWorkspace(b)
	if err != nil {
		t.Fatal(err)
	}
	var tr Trace
	var first, last float64
	for i := range 200 {
		if err := lm.TrainBatch(ws, x, nil, &tr); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tr.FinalTotal()
		}
		last = tr.FinalTotal()
	}
	if !(last < 0.95*first) {
		t.Errorf("training a residual network: energy %v → %v", first, last)
	}
	ac, err := New(Config{Graph: residualGraph(t, func(lower int) *graph.Block { return graph.AppendixC(4, lower, 3) }), Steps: 10, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}

	// Save, load: the same model, the same outputs.
	path := filepath.Join(t.TempDir(), "res.safetensors")
	if err := ac.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Graph().Equal(ac.Graph()) {
		t.Fatal("the graph changed through a checkpoint")
	}
	out := func(m *Model) []float32 {
		w, err := m.NewWorkspace(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Infer(w, x, Denoise, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
			t.Fatal(err)
		}
		o := make([]float32, len(x))
		w.Output(o)
		return o
	}
	if !slices.Equal(out(back), out(ac)) {
		t.Error("a loaded residual model gives other outputs")
	}
	s := ac.Inspect()
	if s.Weights == 0 || s.StateMaps != 12 || s.ErrorMaps != 7 {
		t.Errorf("inspect of a residual model: %+v", s)
	}
}
