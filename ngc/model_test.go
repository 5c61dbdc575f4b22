package ngc

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/convngc/convngc/ngc/data"
)

// tiny is a small network for fast tests: channels 4, 6, 3 over 8×8 images.
func tiny(t *testing.T, mod func(*Config)) *Model {
	t.Helper()
	c := Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 20, Seed: 3}
	if mod != nil {
		mod(&c)
	}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func workspace(t *testing.T, m *Model, b int) *Workspace {
	t.Helper()
	ws, err := m.NewWorkspace(b)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestInspectPaperNetwork(t *testing.T) {
	s := Inspect(Config{})
	if s.Weights != 9225 || s.Biases != 63 {
		t.Errorf("paper network: %d weights + %d biases, want 9,225 + 63", s.Weights, s.Biases)
	}
	if s.StateMaps != 73 || s.ErrorMaps != 63 {
		t.Errorf("paper network: %d state maps, %d error maps, want 73 and 63", s.StateMaps, s.ErrorMaps)
	}
	sizes := []int{2, 4, 8, 16, 32}
	for i, l := range s.Layers {
		if l.Size != sizes[i] || l.Maps != PaperChannels[i] {
			t.Errorf("layer %d: %d maps of %d, want %d of %d", l.Layer, l.Maps, l.Size, PaperChannels[i], sizes[i])
		}
	}
	u := Inspect(Config{Untied: true})
	if u.Weights != 18450 {
		t.Errorf("untied paper network: %d weights, want 18,450", u.Weights)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	rc, err := Config{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Steps != 60 || rc.Beta != 0.1 || *rc.Gamma != 0.001 || *rc.TopMean != 0.5 || *rc.TopStd != 0.05 ||
		rc.LearningRate != 0.001 || rc.Batch != 500 || rc.Phi != "leaky-relu" || rc.Optimizer != "adam" || rc.MaxKernelNorm != 1 {
		t.Errorf("zero config resolved to %v", rc)
	}
	zero, err := Config{TopStd: Float(0), Gamma: Float(0)}.Resolve()
	if err != nil || *zero.TopStd != 0 || *zero.Gamma != 0 {
		t.Errorf("explicit zeros lost: %v, %v", zero, err)
	}
	bad := []Config{
		{Channels: []int{3}},
		{Channels: []int{4, 0, 3}},
		{Steps: -1},
		{Phi: "tanhh"},
		{Optimizer: "sgd"},
		{Beta: -0.1},
		{TopStd: Float(-1)},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted a bad config", c)
		}
	}
}

// TestLearningRuleIsNegativeGradient checks, by central finite differences
// with the states held fixed, that Gradients is the gradient of the total
// discrepancy ½Σ‖e‖² (per image) with respect to every kernel weight and bias.
func TestLearningRuleIsNegativeGradient(t *testing.T) {
	for _, untied := range []bool{false, true} {
		m := tiny(t, func(c *Config) { c.Untied = untied })
		ws := workspace(t, m, 3)
		x := smoothImages(3, 8, 5)
		if err := m.Infer(ws, x, Reconstruct, nil, nil); err != nil {
			t.Fatal(err)
		}
		gW, gB := m.Gradients(ws)
		energy := func() float64 {
			var s float64
			for _, v := range m.Predict(ws) {
				s += v
			}
			return s
		}
		const h = 1e-2
		check := func(name string, p []float32, g []float32) {
			for i := range p {
				old := p[i]
				p[i] = old + h
				up := energy()
				p[i] = old - h
				down := energy()
				p[i] = old
				fd := (up - down) / (2 * h)
				if math.Abs(fd-float64(g[i])) > 2e-3*(1+math.Abs(fd)) {
					t.Fatalf("untied=%v %s[%d]: rule gives %v, finite difference %v", untied, name, i, g[i], fd)
				}
			}
		}
		for l := 1; l <= m.cfg.Layers(); l++ {
			check("W", m.syn[l-1].W, gW[l-1])
			check("b", m.syn[l-1].Bias, gB[l-1])
		}
	}
}

// TestEnergyFallsOverSteps: with z[0] clamped the T steps of inference
// lower the total discrepancy, for a fresh and for a trained model.
func TestEnergyFallsOverSteps(t *testing.T) {
	m := tiny(t, func(c *Config) { c.Steps = 40 })
	ws := workspace(t, m, 16)
	train := smoothImages(16, 8, 11)
	for i := 0; i < 30; i++ {
		if err := m.TrainBatch(ws, train, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var tr Trace
	if err := m.Infer(ws, smoothImages(16, 8, 12), Reconstruct, nil, &tr); err != nil {
		t.Fatal(err)
	}
	tot := tr.Total()
	if len(tot) != 40 || len(tr.Final) != 2 {
		t.Fatalf("trace has %d steps and %d final layers", len(tot), len(tr.Final))
	}
	if !(tr.FinalTotal() < 0.95*tot[0]) {
		t.Errorf("energy did not fall over the steps: first %v, final %v", tot[0], tr.FinalTotal())
	}
	t.Logf("total discrepancy per image: step 1 %.4f, step 10 %.4f, final %.4f", tot[0], tot[9], tr.FinalTotal())
}

// TestEnergyFallsOverBatches: training lowers the final energy and the
// reconstruction error on the training images.
func TestEnergyFallsOverBatches(t *testing.T) {
	m := tiny(t, func(c *Config) { c.LearningRate = 0.01 })
	ws := workspace(t, m, 16)
	x := smoothImages(16, 8, 21)
	var first, last Trace
	if err := m.TrainBatch(ws, x, nil, &first); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		if err := m.TrainBatch(ws, x, nil, &last); err != nil {
			t.Fatal(err)
		}
	}
	if !(last.FinalTotal() < 0.5*first.FinalTotal()) {
		t.Errorf("final energy %v after 61 batches, %v after the first: did not halve", last.FinalTotal(), first.FinalTotal())
	}
}

func TestTiedHasNoSecondCopy(t *testing.T) {
	m := tiny(t, nil)
	ws := workspace(t, m, 4)
	for i := 0; i < 3; i++ {
		if err := m.TrainBatch(ws, smoothImages(4, 8, 1), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for l := 1; l <= m.cfg.Layers(); l++ {
		s := m.Synapses(l)
		if s.E != nil {
			t.Fatalf("tied layer %d stores E", l)
		}
		if fb := m.feedback(l); &fb[0] != &s.W[0] {
			t.Fatalf("tied layer %d feeds back through a copy of W", l)
		}
	}
}

func TestUntiedLearnsE(t *testing.T) {
	m := tiny(t, func(c *Config) { c.Untied = true })
	before := append([]float32(nil), m.Synapses(1).E...)
	ws := workspace(t, m, 4)
	for i := 0; i < 3; i++ {
		if err := m.TrainBatch(ws, smoothImages(4, 8, 1), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := m.Synapses(1)
	changed := false
	for i := range before {
		if before[i] != s.E[i] {
			changed = true
		}
	}
	if !changed {
		t.Error("untied E did not change with training")
	}
	if &s.E[0] == &s.W[0] {
		t.Error("untied E aliases W")
	}
	if fb := m.feedback(1); &fb[0] != &s.E[0] {
		t.Error("untied feedback does not use E")
	}
}

// TestDeterministicRuns: with σ_z = 0 the result does not depend on the
// noise stream at all, and two runs are bit-identical.
func TestDeterministicRuns(t *testing.T) {
	run := func(rngSeed uint64) ([]float32, []float32) {
		m := tiny(t, func(c *Config) { c.TopStd = Float(0) })
		ws := workspace(t, m, 4)
		rng := rand.New(rand.NewPCG(rngSeed, 0))
		for i := 0; i < 3; i++ {
			if err := m.TrainBatch(ws, smoothImages(4, 8, 9), rng, nil); err != nil {
				t.Fatal(err)
			}
		}
		out := make([]float32, 4*3*64)
		ws.Output(out)
		return append([]float32(nil), m.Synapses(1).W...), out
	}
	w1, o1 := run(1)
	w2, o2 := run(2)
	for i := range w1 {
		if math.Float32bits(w1[i]) != math.Float32bits(w2[i]) {
			t.Fatalf("weights differ at %d: %v vs %v", i, w1[i], w2[i])
		}
	}
	for i := range o1 {
		if math.Float32bits(o1[i]) != math.Float32bits(o2[i]) {
			t.Fatalf("outputs differ at %d", i)
		}
	}
}

func TestKernelsStayInBall(t *testing.T) {
	m := tiny(t, func(c *Config) { c.LearningRate = 0.5 })
	ws := workspace(t, m, 4)
	for i := 0; i < 5; i++ {
		if err := m.TrainBatch(ws, smoothImages(4, 8, 2), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for l := 1; l <= m.cfg.Layers(); l++ {
		w := m.Synapses(l).W
		for off := 0; off < len(w); off += 9 {
			var ss float64
			for _, v := range w[off : off+9] {
				ss += float64(v) * float64(v)
			}
			if math.Sqrt(ss) > 1+1e-5 {
				t.Fatalf("layer %d kernel %d has norm %v > 1", l, off/9, math.Sqrt(ss))
			}
		}
	}
}

func TestDenoiseFreesTheImageLayer(t *testing.T) {
	m := tiny(t, nil)
	ws := workspace(t, m, 2)
	x := smoothImages(2, 8, 4)
	if err := m.Infer(ws, x, Reconstruct, nil, nil); err != nil {
		t.Fatal(err)
	}
	z0 := make([]float32, len(x))
	ws.Layer(z0, 0)
	for i := range x {
		if z0[i] != x[i] {
			t.Fatal("reconstruction did not keep z[0] clamped")
		}
	}
	if err := m.Infer(ws, x, Denoise, nil, nil); err != nil {
		t.Fatal(err)
	}
	ws.Layer(z0, 0)
	moved := false
	for i := range x {
		if z0[i] != x[i] {
			moved = true
		}
	}
	if !moved {
		t.Error("denoising left z[0] clamped after step 1")
	}
}

func TestPCNAndNormalizedOptions(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.PCN = true },
		func(c *Config) { c.Optimizer = "normalized"; c.LearningRate = 0.01 },
		func(c *Config) { c.BottomSigmoid = true },
	} {
		m := tiny(t, mod)
		ws := workspace(t, m, 8)
		x := smoothImages(8, 8, 6)
		var first, last Trace
		if err := m.TrainBatch(ws, x, nil, &first); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			if err := m.TrainBatch(ws, x, nil, &last); err != nil {
				t.Fatal(err)
			}
		}
		if !(last.FinalTotal() < first.FinalTotal()) {
			t.Errorf("config %+v: energy %v → %v did not fall", m.cfg, first.FinalTotal(), last.FinalTotal())
		}
	}
}

func TestBadBatch(t *testing.T) {
	m := tiny(t, nil)
	ws := workspace(t, m, 2)
	if err := m.Infer(ws, make([]float32, 5), Reconstruct, nil, nil); err == nil {
		t.Error("Infer accepted a short batch")
	}
	other := tiny(t, nil)
	if err := other.Infer(ws, make([]float32, 2*3*64), Reconstruct, nil, nil); err == nil {
		t.Error("Infer accepted another model's workspace")
	}
	if _, err := m.NewWorkspace(0); err == nil {
		t.Error("NewWorkspace accepted an empty batch")
	}
}

// TestEvaluatePerStepAndClamp: the per-step MSE ends at the evaluation's
// MSE, and each step's figure is what a window of that many steps gives;
// a clamp over the whole window reconstructs the noisy input.
func TestEvaluatePerStepAndClamp(t *testing.T) {
	m, err := New(Config{Channels: []int{4, 5, 3}, Steps: 6, Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	set := randomSet(t, 10)
	ctx := context.Background()
	for _, task := range []Task{Reconstruct, Denoise} {
		r, err := m.Evaluate(ctx, set, EvalOptions{Task: task, Seed: 3, PerStep: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.StepMSE) != 6 || math.Abs(r.StepMSE[5]-r.Report.MSE) > 1e-9*r.Report.MSE {
			t.Fatalf("%v: per-step MSE %v, evaluation MSE %v", task, r.StepMSE, r.Report.MSE)
		}
		short, err := m.WithSteps(3)
		if err != nil {
			t.Fatal(err)
		}
		r3, err := short.Evaluate(ctx, set, EvalOptions{Task: task, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.StepMSE[2]-r3.Report.MSE) > 1e-9*r3.Report.MSE {
			t.Errorf("%v: MSE after step 3 %v, a 3-step window %v", task, r.StepMSE[2], r3.Report.MSE)
		}
	}
	// Clamped for the whole window, denoising is reconstruction of the
	// noisy images.
	den, err := m.Evaluate(ctx, set, EvalOptions{Task: Denoise, Seed: 3, ClampSteps: 6, Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	noisy := &data.Set{Name: "noisy", Images: den.Corrupted, Labels: make([]int, 10)}
	rec, err := m.Evaluate(ctx, noisy, EvalOptions{Task: Reconstruct, Seed: 3, Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(den.Output, rec.Output) {
		t.Error("denoising clamped for all T steps differs from reconstructing the noisy images")
	}
	paper, err := m.Evaluate(ctx, set, EvalOptions{Task: Denoise, Seed: 3, Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(paper.Output, den.Output) {
		t.Error("the clamp made no difference")
	}
}

// randomSet returns n images of uniform random pixels.
func randomSet(t *testing.T, n int) *data.Set {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	s := &data.Set{Name: "random", Images: make([]float32, n*data.ImageSize), Labels: make([]int, n)}
	for i := range s.Images {
		s.Images[i] = rng.Float32()
	}
	return s
}
