package baselines

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

func newAE(t *testing.T, kind string, cfg AEConfig) *Autoencoder {
	t.Helper()
	m, err := newAutoencoder(kind, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAEParamCount asserts the count documented on AEConfig: the paper's
// 48,393 trainable parameters, and the layer shapes of the architecture.
func TestAEParamCount(t *testing.T) {
	for _, kind := range []string{kindAE, kindDAE} {
		m := newAE(t, kind, AEConfig{})
		if got := m.Params(); got != 48393 {
			t.Errorf("%s: %d trainable parameters, want %d", kind, got, PaperAEParams)
		}
		if got := m.cfg.paramCount(); got != m.Params() {
			t.Errorf("%s: paramCount %d, model has %d", kind, got, m.Params())
		}
		weights, biases, bn, state := 0, 0, 0, 0
		for _, p := range m.net.Params() {
			switch {
			case len(p.Shape) == 4:
				weights += len(p.Value)
			case len(p.Name) > 5 && p.Name[len(p.Name)-5:] == ".bias":
				biases += len(p.Value)
			default:
				bn += len(p.Value)
			}
		}
		for _, p := range m.net.State() {
			state += len(p.Value)
		}
		if weights != 47808 || biases != 195 || bn != 390 || state != 390 {
			t.Errorf("%s: %d weights, %d biases, %d batch-norm parameters, %d running statistics; want 47,808, 195, 390, 390",
				kind, weights, biases, bn, state)
		}
	}
	// Shapes through the network: 32×32 → bottleneck 32×2×2 → 3×32×32.
	m := newAE(t, kindAE, AEConfig{})
	sh := Shape{C: 3, B: 2, H: 32, W: 32}
	var sizes []int
	for _, l := range m.net.Layers {
		var err error
		if sh, err = l.Setup(sh); err != nil {
			t.Fatal(err)
		}
		if _, ok := l.(*BatchNorm); ok {
			sizes = append(sizes, sh.H)
		}
	}
	if want := []int{16, 4, 4, 8, 16, 32, 32}; !equalInts(sizes, want) || sh != (Shape{C: 3, B: 2, H: 32, W: 32}) {
		t.Errorf("batch norms at sizes %v, want %v; output %v", sizes, want, sh)
	}
	if m.Name() != "conv-ae" || newAE(t, kindDAE, AEConfig{}).Name() != "conv-dae" {
		t.Error("wrong model names")
	}
	if c := newAE(t, kindDAE, AEConfig{}).Config(); c.Activation != "selu" || c.LearningRate != 2e-5 || c.Batch != 128 {
		t.Errorf("Conv-DAE defaults %+v", c)
	}
}

func equalInts(a, b []int) bool {
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

func TestAEConfigErrors(t *testing.T) {
	for _, c := range []AEConfig{
		{ImageSize: 24},
		{Maps: -1},
		{Activation: "tanhh"},
		{Loss: "l1"},
		{LearningRate: -1},
		{BNMomentum: 2},
	} {
		if _, err := NewConvAE(c); !errors.Is(err, ErrConfig) {
			t.Errorf("NewConvAE(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

// TestAETrainingLossFalls trains small autoencoders of the real
// architecture on a fixed batch of 16×16 images; the loss must fall.
func TestAETrainingLossFalls(t *testing.T) {
	x := smoothImages(16, 3, 16, 1)
	for _, kind := range []string{kindAE, kindDAE} {
		for _, loss := range []string{"bce", "mse"} {
			m := newAE(t, kind, AEConfig{ImageSize: 16, Maps: 8, LearningRate: 3e-3, Loss: loss, Seed: 2})
			var first, last float64
			for i := 0; i < 40; i++ {
				l, err := m.TrainBatch(x)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = l
				}
				last = l
			}
			// BCE of a perfect reconstruction is the images' entropy, not 0:
			// compare against it.
			floor := 0.0
			if loss == "bce" {
				floor, _ = BCE.Eval(nil, x, x)
			}
			if !(last-floor < 0.5*(first-floor)) {
				t.Errorf("%s %s: loss %.4g → %.4g over 40 steps (floor %.4g)", kind, loss, first, last, floor)
			}
			if m.Updates() != 40 {
				t.Errorf("%s: %d updates, want 40", kind, m.Updates())
			}
		}
	}
}

// TestDAETrainsOnFreshNoise checks that the Conv-DAE's input is the
// corrupted batch, clipped, with new noise each update, drawn from the seed.
func TestDAETrainsOnFreshNoise(t *testing.T) {
	x := smoothImages(2, 3, 16, 3)
	m := newAE(t, kindDAE, AEConfig{ImageSize: 16, Maps: 4, Seed: 4})
	var inputs [][]float32
	for i := 0; i < 2; i++ {
		if _, err := m.TrainBatch(x); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, append([]float32(nil), m.noisy...))
	}
	var d01, dx float64
	for i, v := range inputs[0] {
		if v < 0 || v > 1 {
			t.Fatalf("noisy pixel %g outside [0, 1]", v)
		}
		d01 += math.Abs(float64(v - inputs[1][i]))
		dx += float64((v - x[i]) * (v - x[i]))
	}
	if d01 == 0 {
		t.Error("the same noise in two updates")
	}
	if std := math.Sqrt(dx / float64(len(x))); std < 0.07 || std > 0.1 {
		t.Errorf("noise std %.3g, want about 0.1 (less where clipped)", std)
	}
	// The same seed gives the same noise.
	n := newAE(t, kindDAE, AEConfig{ImageSize: 16, Maps: 4, Seed: 4})
	if _, err := n.TrainBatch(x); err != nil {
		t.Fatal(err)
	}
	if !equal(n.noisy, inputs[0]) {
		t.Error("same seed, different noise")
	}
}

func TestAEFitAndEvaluate(t *testing.T) {
	train, test := smoothSet(48, 5), smoothSet(20, 6)
	grey := make([]float32, len(test.Images))
	for i := range grey {
		grey[i] = 0.5
	}
	baseline, err := metrics.Evaluate(test.Images, grey, metrics.Shape{N: 20, C: 3, H: 32, W: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{kindAE, kindDAE} {
		m := newAE(t, kind, AEConfig{LearningRate: 1e-2, Batch: 16, BNMomentum: 0.6, Seed: 7})
		var calls int
		fit, err := m.Fit(context.Background(), train, FitOptions{Epochs: 10, Progress: func(p FitProgress) {
			calls++
			if p.Epochs != 10 || p.Batches != 3 || p.ImagesPerSecond <= 0 {
				t.Errorf("progress %+v", p)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if fit.Updates != 30 || calls != 30 || len(fit.Loss) != 30 || fit.Images != 30*16 || fit.Objective != "bce" {
			t.Errorf("%s fit: %+v, %d progress calls", kind, fit, calls)
		}
		for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
			res, err := m.Evaluate(context.Background(), test, ngc.EvalOptions{Task: task, Seed: 1, Keep: 3, Batch: 8})
			if err != nil {
				t.Fatal(err)
			}
			r := res.Report
			if res.Images != 20 || r.Images != 20 || res.Task != task.String() {
				t.Errorf("%s %v: %d images, report %+v", kind, task, res.Images, r)
			}
			// A briefly trained model: far from perfect, but better than a
			// uniform grey output.
			if !(r.MSE > 0 && r.MSE < baseline.MSE && r.PSNR > baseline.PSNR && r.PSNR < 60 &&
				r.SSIM > 0 && r.SSIM <= 1 && r.SSIMGaussian > -1 && r.SSIMGaussian <= 1) {
				t.Errorf("%s %v: implausible metrics %+v (grey output: %+v)", kind, task, r, baseline)
			}
			if len(res.Original) != 3*data.ImageSize || len(res.Output) != 3*data.ImageSize || len(res.Corrupted) != 3*data.ImageSize {
				t.Errorf("%s %v: kept %d/%d/%d values, want 3 images", kind, task, len(res.Original), len(res.Corrupted), len(res.Output))
			}
			if task == ngc.Reconstruct && !equal(res.Corrupted, res.Original) {
				t.Errorf("%s: reconstruction input is not the original", kind)
			}
		}
	}
}

// TestSameCorruptionAsConvNGC checks that for one seed the baselines
// denoise exactly the images Conv-NGC denoises.
func TestSameCorruptionAsConvNGC(t *testing.T) {
	set := smoothSet(6, 8)
	conv, err := ngc.New(ngc.Config{Steps: 1, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	opts := ngc.EvalOptions{Task: ngc.Denoise, Seed: 9, Keep: 6}
	want, err := conv.Evaluate(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	ae := newAE(t, kindAE, AEConfig{Maps: 2, Batch: 5})
	got, err := ae.Evaluate(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := NewNGC(NGCConfig{Units: []int{4, 3072}, Steps: 1, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	gotFC, err := fc.Evaluate(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got.Corrupted, want.Corrupted) || !equal(gotFC.Corrupted, want.Corrupted) {
		t.Error("corrupted images differ from Conv-NGC's for the same seed")
	}
}

func TestAEBadInput(t *testing.T) {
	m := newAE(t, kindAE, AEConfig{ImageSize: 16, Maps: 2})
	if _, err := m.TrainBatch(make([]float32, 100)); err == nil {
		t.Error("TrainBatch accepted a partial image")
	}
	if _, err := m.TrainBatch(nil); err == nil {
		t.Error("TrainBatch accepted an empty batch")
	}
	if err := m.Reconstruct(make([]float32, 3), make([]float32, 3*16*16)); err == nil {
		t.Error("Reconstruct accepted a short output")
	}
	// A 16×16 model cannot take the 32×32 data sets.
	if _, err := m.Fit(context.Background(), smoothSet(2, 1), FitOptions{}); err == nil {
		t.Error("Fit accepted images of the wrong size")
	}
	full := newAE(t, kindAE, AEConfig{Maps: 2})
	if _, err := full.Fit(context.Background(), &data.Set{}, FitOptions{}); err == nil {
		t.Error("Fit accepted an empty set")
	}
	if _, err := full.Evaluate(context.Background(), smoothSet(2, 1), ngc.EvalOptions{Task: 7}); err == nil {
		t.Error("Evaluate accepted an unknown task")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := full.Fit(ctx, smoothSet(4, 1), FitOptions{Batch: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("Fit with a cancelled context: %v", err)
	}
}
