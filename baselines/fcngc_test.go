package baselines

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

func newNGC(t *testing.T, cfg NGCConfig) *NGC {
	t.Helper()
	m, err := NewNGC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNGCParamCount asserts the paper's 738,072 free parameters:
// 3,072·200 + 3·200·200 = 734,400 weights and 3,072 + 3·200 = 3,672 biases.
func TestNGCParamCount(t *testing.T) {
	m := newNGC(t, NGCConfig{})
	if got := m.Params(); got != 738072 || m.Config().ParamCount() != got {
		t.Errorf("paper NGC: %d parameters (config says %d), want 738,072", got, m.Config().ParamCount())
	}
	weights := 0
	for l := 1; l <= 4; l++ {
		w, b := m.Weights(l)
		weights += len(w)
		if len(b) != m.Config().UnitsAt(l-1) {
			t.Errorf("b.%d has %d values, want %d", l, len(b), m.Config().UnitsAt(l-1))
		}
	}
	if weights != 734400 {
		t.Errorf("%d weights, want 734,400", weights)
	}
	c := m.Config()
	if c.Steps != 60 || c.Beta != 0.1 || *c.Gamma != 0.001 || *c.TopMean != 0.5 || *c.TopStd != 0.05 || c.Phi != "leaky-relu" ||
		c.Output != "sigmoid" || c.LearningRate != 0.001 || c.Batch != 500 || c.InitStd != 0.1 || c.MaxColumnNorm != 1 {
		t.Errorf("paper defaults resolved to %+v", c)
	}
	if m.Name() != "ngc" || newNGC(t, NGCConfig{Units: []int{2, 3}, PCN: true}).Name() != "pcn" {
		t.Error("wrong model names")
	}
}

func TestNGCConfigErrors(t *testing.T) {
	for _, c := range []NGCConfig{
		{Units: []int{5}},
		{Units: []int{4, 0, 3}},
		{Units: []int{1 << 17, 3}},
		{Steps: -1},
		{Phi: "tanhh"},
		{Output: "soft"},
		{Beta: -1},
		{TopStd: ngc.Float(-1)},
	} {
		if _, err := NewNGC(c); !errors.Is(err, ErrConfig) {
			t.Errorf("NewNGC(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

// energy is the total discrepancy per image of the states in ws under the
// current weights, recomputing every prediction.
func energy(m *NGC, ws *fcWorkspace) float64 {
	var s float64
	for _, v := range m.predict(ws) {
		s += v
	}
	return s
}

// TestNGCLearningRuleIsEnergyGradient checks that the Hebbian-like update
// is the negative gradient of the energy with the states fixed, by central
// finite differences: for every layer with identity predictions, and for
// the layers above a sigmoid image prediction (whose rule omits g').
func TestNGCLearningRuleIsEnergyGradient(t *testing.T) {
	for _, output := range []string{"identity", "sigmoid"} {
		m := newNGC(t, NGCConfig{Units: []int{3, 4, 6, 12}, Steps: 7, Output: output, Seed: 1})
		r := rand.New(rand.NewPCG(2, 2))
		for l := 1; l <= 3; l++ {
			_, b := m.Weights(l)
			copy(b, randSlice(r, len(b), -0.3, 0.3))
		}
		x := randSlice(r, 5*12, 0, 1)
		ws := m.workspace(5)
		m.infer(ws, x, ngc.Reconstruct, r, nil)
		m.gradients(ws)
		for l := 1; l <= 3; l++ {
			if output == "sigmoid" && l == 1 {
				continue
			}
			for _, p := range []*Param{m.w[l-1], m.b[l-1]} {
				for i := range p.Value {
					old := p.Value[i]
					const h = 1e-2
					p.Value[i] = old + h
					up := energy(m, ws)
					p.Value[i] = old - h
					down := energy(m, ws)
					p.Value[i] = old
					num := (up - down) / (float64(old+h) - float64(old-h))
					if d := math.Abs(num - float64(p.Grad[i])); d > 1e-3+1e-3*math.Abs(num) {
						t.Errorf("%s output, %s[%d]: −rule %.6g, energy gradient %.6g", output, p.Name, i, p.Grad[i], num)
					}
				}
			}
		}
	}
}

// TestNGCInference checks the dynamics of a trained network: the energy
// falls over the T steps,
// z[0] stays clamped to the image for reconstruction and moves after step 1
// for denoising.
func TestNGCInference(t *testing.T) {
	for _, pcn := range []bool{false, true} {
		m := newNGC(t, NGCConfig{Units: []int{8, 8, 48}, Steps: 30, Output: "identity", PCN: pcn, LearningRate: 1e-2, Seed: 3})
		for i := 0; i < 20; i++ {
			if _, err := m.TrainBatch(smoothImages(16, 3, 4, 5)); err != nil {
				t.Fatal(err)
			}
		}
		x := smoothImages(4, 3, 4, 4)
		var tr ngc.Trace
		out := make([]float32, len(x))
		if err := m.Infer(out, x, ngc.Reconstruct, rand.New(rand.NewPCG(1, 1)), &tr); err != nil {
			t.Fatal(err)
		}
		tot := tr.Total()
		if len(tot) != 30 || len(tr.Final) != 2 || !(tr.FinalTotal() < 0.9*tot[0]) {
			t.Errorf("pcn %v: energy %v over the steps", pcn, tot)
		}
		z0 := make([]float32, len(x))
		tensorFromUnitMajor(z0, m.ws.Z[0], 4, 48)
		if !equal(z0, x) {
			t.Errorf("pcn %v: z[0] moved during reconstruction", pcn)
		}
		if err := m.Infer(out, x, ngc.Denoise, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
			t.Fatal(err)
		}
		tensorFromUnitMajor(z0, m.ws.Z[0], 4, 48)
		if equal(z0, x) {
			t.Errorf("pcn %v: z[0] stayed clamped during denoising", pcn)
		}
	}
}

func tensorFromUnitMajor(dst, src []float32, b, n int) {
	for i := 0; i < b; i++ {
		for u := 0; u < n; u++ {
			dst[i*n+u] = src[u*b+i]
		}
	}
}

// TestNGCEnergyFallsOverTraining trains on a fixed set of small images.
// With identity predictions, where the update is the exact negative energy
// gradient, the total energy after the T steps falls from batch to batch.
// With the paper's sigmoid image prediction the latent layers' share of the
// energy first grows as the states come to carry the images, so there the
// image layer's error must fall. Every column stays within the norm bound.
func TestNGCEnergyFallsOverTraining(t *testing.T) {
	x := smoothImages(64, 3, 4, 6)
	for _, output := range []string{"identity", "sigmoid"} {
		m := newNGC(t, NGCConfig{Units: []int{16, 16, 16, 16, 48}, Steps: 20, LearningRate: 1e-2, Output: output, Seed: 5})
		var total, bottom []float64
		for i := 0; i < 40; i++ {
			b := i % 4
			ws := m.workspace(16)
			var tr ngc.Trace
			m.infer(ws, x[b*16*48:(b+1)*16*48], ngc.Reconstruct, batchRand(5, streamStates, m.ps.updates), &tr)
			m.learn(ws)
			total, bottom = append(total, tr.FinalTotal()), append(bottom, tr.Final[0])
		}
		series := total
		if output == "sigmoid" {
			series = bottom
		}
		first, last := mean(series[:4]), mean(series[len(series)-4:])
		if !(last < 0.8*first) {
			t.Errorf("%s output: energy per image %.4g over the first four batches, %.4g over the last four", output, first, last)
		}
		for l := 1; l <= 4; l++ {
			w, _ := m.Weights(l)
			n := m.Config().UnitsAt(l - 1)
			for c := 0; c < len(w)/n; c++ {
				var ss float64
				for _, v := range w[c*n : (c+1)*n] {
					ss += float64(v) * float64(v)
				}
				if math.Sqrt(ss) > 1+1e-5 {
					t.Fatalf("W.%d column %d has norm %g > 1", l, c, math.Sqrt(ss))
				}
			}
		}
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, e := range v {
		s += e
	}
	return s / float64(len(v))
}

// TestNGCPaperNetworkTrains runs one small training batch and an
// evaluation through the paper's 738,072-parameter network.
func TestNGCPaperNetworkTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("paper-size network")
	}
	m := newNGC(t, NGCConfig{Batch: 16, Seed: 7})
	set := smoothSet(16, 8)
	fit, err := m.Fit(context.Background(), set, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fit.Updates != 1 || fit.Objective != "energy" || !(fit.Loss[0] > 0) || math.IsInf(fit.Loss[0], 0) {
		t.Errorf("fit %+v", fit)
	}
	res, err := m.Evaluate(context.Background(), set, ngc.EvalOptions{Task: ngc.Denoise, Seed: 1, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if res.Images != 16 || !(r.MSE > 0) || math.IsNaN(r.PSNR) || math.IsNaN(r.SSIM) || math.IsNaN(r.SSIMGaussian) {
		t.Errorf("evaluation %+v", r)
	}
	if len(res.Energy) != 60 || len(res.EnergyLayers[0]) != 4 {
		t.Errorf("energy trace of %d steps × %d layers, want 60 × 4", len(res.Energy), len(res.EnergyLayers[0]))
	}
	if len(res.Latents) != 5 || len(res.Latents[0]) != 2*data.ImageSize || len(res.Latents[4]) != 2*200 {
		t.Errorf("latents %d layers", len(res.Latents))
	}
	if len(res.Output) != 2*data.ImageSize {
		t.Errorf("kept %d output values", len(res.Output))
	}
}

func TestNGCBadInput(t *testing.T) {
	m := newNGC(t, NGCConfig{Units: []int{4, 12}})
	if _, err := m.TrainBatch(make([]float32, 13)); err == nil {
		t.Error("TrainBatch accepted a partial image")
	}
	r := rand.New(rand.NewPCG(1, 1))
	if err := m.Infer(make([]float32, 5), make([]float32, 12), ngc.Reconstruct, r, nil); err == nil {
		t.Error("Infer accepted a short output")
	}
	if err := m.Infer(nil, make([]float32, 12), ngc.Task(9), r, nil); err == nil {
		t.Error("Infer accepted an unknown task")
	}
	if err := m.Infer(nil, make([]float32, 12), ngc.Reconstruct, nil, nil); err == nil {
		t.Error("Infer accepted a nil random source")
	}
	if _, err := m.Fit(context.Background(), smoothSet(2, 1), FitOptions{}); err == nil {
		t.Error("Fit accepted 32×32×3 images for 12 image units")
	}
}
