package study

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/neuron"
)

// TestRunSigmaDelta: a study with a sigma-delta encoding runs every mode
// and the training batch under dense and sigma-delta messages on the same
// images; with θ = 0 the sync runs reconstruct identically and make at
// most the dense synaptic operations; with a threshold sigma-delta delivers
// fewer values and operations, and its tables, JSON and plots say so.
func TestRunSigmaDelta(t *testing.T) {
	m, set := tiny(t, 4)
	targets, err := LoadTargets([]string{"loihi2", "truenorth"})
	if err != nil {
		t.Fatal(err)
	}
	for _, theta := range []float64{0, 0.05} {
		enc := neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: theta}
		var last Progress
		r, err := Run(context.Background(), m, set, Options{Targets: targets, Batch: 2, MaxLag: 2, Jitter: 0.25, Seed: 3,
			SkipReference: true, Encoding: enc, Progress: func(p Progress) { last = p }})
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * 2 * (2*2 + 1); last.Total != want || last.Done != want {
			t.Errorf("θ=%g: progress %+v, want %d", theta, last, want)
		}
		for _, a := range r.Archs {
			if len(a.Runs) != 4 || a.Training == nil || a.TrainingEncoded == nil || a.TrainingEncoded.Encoding != enc.String() {
				t.Fatalf("θ=%g %s: %d runs, training %v / %v", theta, a.Arch, len(a.Runs), a.Training, a.TrainingEncoded)
			}
			dense, sd := a.Runs[0], a.Runs[1]
			if dense.Encoding != "dense" || sd.Encoding != enc.String() || sd.Mode != "sync" {
				t.Fatalf("runs %q %q %q", dense.Label(), sd.Label(), a.Runs[2].Label())
			}
			if sd.PerImageStep.SynapticOps > dense.PerImageStep.SynapticOps || sd.PerImageStep.Values > dense.PerImageStep.Values {
				t.Errorf("θ=%g %s: %+v, dense %+v", theta, a.Arch, sd.PerImageStep, dense.PerImageStep)
			}
			if theta == 0 && sd.ReconMSE != dense.ReconMSE {
				t.Errorf("θ=0 %s: MSE %g, dense %g", a.Arch, sd.ReconMSE, dense.ReconMSE)
			}
			if theta > 0 && (sd.PerImageStep.Values >= dense.PerImageStep.Values || sd.EnergyPerImage >= dense.EnergyPerImage) {
				t.Errorf("θ=%g %s: %.0f values, %g J per image; dense %.0f, %g J", theta, a.Arch, sd.PerImageStep.Values, sd.EnergyPerImage,
					dense.PerImageStep.Values, dense.EnergyPerImage)
			}
		}
		var text strings.Builder
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Per image and step", "sync, " + enc.String(), "truenorth, " + enc.String()} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("text lacks %q:\n%s", want, text.String())
			}
		}
		if _, files, err := r.Save(filepath.Join(t.TempDir(), "out")); err != nil || len(files) == 0 {
			t.Fatalf("save: %v", err)
		}
	}
	if _, err := Run(context.Background(), m, set, Options{Targets: targets, SkipReference: true, Quantize: true,
		Encoding: neuron.Encoding{Scheme: neuron.SigmaDelta}}); err == nil {
		t.Error("quantised sigma-delta: no error")
	}
}
