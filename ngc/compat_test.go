package ngc

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

// TestOldCheckpointLoads: a checkpoint written before configs held their
// graph (session 2's Color-MNIST model, testdata/session2-color-mnist.safetensors)
// still loads, resolves to the same chain, and gives the figures the code
// of its day gave (`ngc eval` at commit 7e1f454 on the first 100 test
// digits, batches of 50, seed 1; the difference allowed is float32
// round-off from the faster kernels since).
func TestOldCheckpointLoads(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "session2-color-mnist.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config().Chain() || m.Graph() == nil || len(m.Graph().Layers) != 5 {
		t.Fatalf("old checkpoint resolved to %+v", m.Config())
	}
	set, err := data.Load(context.Background(), data.Options{Dataset: data.ColorMNISTName, Split: data.Test, MaxImages: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		task Task
		want metrics.Report
	}{
		{Reconstruct, metrics.Report{MSE: 86.58748041903192, PSNR: 34.550000326036496, SSIM: 0.8999997900638707, SSIMGaussian: 0.8221674033761184}},
		{Denoise, metrics.Report{MSE: 774.9426329879585, PSNR: 32.8693281395646, SSIM: 0.7510235377186903, SSIMGaussian: 0.6826971851952522}},
	} {
		r, err := m.Evaluate(context.Background(), set, EvalOptions{Task: tc.task, Batch: 50, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := r.Report
		for _, f := range []struct {
			name      string
			got, want float64
		}{{"MSE", got.MSE, tc.want.MSE}, {"PSNR", got.PSNR, tc.want.PSNR}, {"SSIM", got.SSIM, tc.want.SSIM}, {"Gaussian SSIM", got.SSIMGaussian, tc.want.SSIMGaussian}} {
			if math.Abs(f.got-f.want) > 1e-4*math.Abs(f.want) {
				t.Errorf("%v %s: %v, the checkpoint's day gave %v", tc.task, f.name, f.got, f.want)
			}
		}
	}
}
