package training

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/ngc/metrics"
)

func TestFilesFor(t *testing.T) {
	f := FilesFor(filepath.Join("runs", "x", "m.safetensors"))
	want := Files{Out: "runs/x/m.safetensors", JSON: "runs/x/m.json", Grid: "runs/x/m.png", Latest: "runs/x/m-latest.safetensors",
		Best: "runs/x/m-best.safetensors", CSV: "runs/x/m-curve.csv", Curve: "runs/x/m-curve.png"}
	if f != want {
		t.Errorf("FilesFor = %+v", f)
	}
}

// TestWriteFinal: the model and its report are replaced together; a save
// that fails leaves the old pair and no temporary files.
func TestWriteFinal(t *testing.T) {
	dir := t.TempDir()
	f := FilesFor(filepath.Join(dir, "m.safetensors"))
	save := func(body string) func(string) error {
		return func(path string) error { return os.WriteFile(path, []byte(body), 0o644) }
	}
	if err := f.WriteFinal(save("one"), map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFinal(func(string) error { return errors.New("disk full") }, map[string]any{"n": 2}); err == nil {
		t.Fatal("a failed save was not an error")
	}
	if err := f.WriteFinal(save("three"), map[string]any{"bad": math.NaN()}); err == nil {
		t.Fatal("an unencodable report was not an error")
	}
	model, _ := os.ReadFile(f.Out)
	report, _ := os.ReadFile(f.JSON)
	if string(model) != "one" || strings.TrimSpace(string(report)) != "{\n  \"n\": 1\n}" {
		t.Errorf("after failures: model %q, report %q", model, report)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d files left in the folder, want 2", len(ents))
	}
}

func TestDescriptions(t *testing.T) {
	spec := DataSpec{Dataset: "cifar10", Path: "/d", MaxImages: 500, Seed: 3, ValidationImages: 100}
	if got := spec.String(); got != "cifar10 at /d (500 images, data seed 3, 100 validation images)" {
		t.Errorf("DataSpec.String = %q", got)
	}
	if got := (DataSpec{Dataset: "color-mnist", Seed: 1}).String(); got != "color-mnist (all images, data seed 1, 0 validation images)" {
		t.Errorf("DataSpec.String = %q", got)
	}
	if got := (Plan{}).Describe(0); got != "no budget" {
		t.Errorf("Describe = %q", got)
	}
	p := Plan{Epochs: 3, MaxUpdates: 100, Patience: 2, MinImprovement: 0.01, LRDecay: 0.5, LRPatience: 2}
	if got := p.Describe(2 * time.Hour); got != "budget: 3 epochs, 100 updates, 2h0m0s this run, early stop after 2 validations under 1.0% improvement, learning rate ×0.5 after 2 validations without a new best" {
		t.Errorf("Describe = %q", got)
	}
	pr := Progress{Update: 12, Epoch: 1, Done: 6000, PerEpoch: 20000, Objective: 41.25, ImagesPerSecond: 812.4, ETA: 250 * time.Second,
		Validation: &metrics.Report{MSE: 95.31, PSNR: 29.21, SSIM: 0.8712}, Best: 95.31}
	if got := pr.Describe("energy"); got != "update 12 epoch 1 (6000/20000) energy 41.25 val MSE 95.310 PSNR 29.21 SSIM 0.8712 best 95.310 812 img/s ETA 4m10s" {
		t.Errorf("Progress.Describe = %q", got)
	}
	if got := (Progress{Best: math.Inf(1), ETA: -1}).Describe("loss"); got != "update 0 epoch 0 (0/0) loss 0 0 img/s" {
		t.Errorf("Progress.Describe = %q", got)
	}
}

// TestSummary: the JSON summary of a job names its objective's curve and
// leaves out a best validation MSE that never was.
func TestSummary(t *testing.T) {
	s := NewState(DataSpec{Dataset: "color-mnist"})
	if (s.Last() != Point{}) {
		t.Errorf("Last of a new job: %+v", s.Last())
	}
	s.Curve = []Point{{Update: 1, Objective: 3, Epoch: 0.5}, {Update: 2, Objective: 2, Epoch: 1}}
	s.Updates = 2
	b, err := json.Marshal(s.Summary(Result{Stopped: StopEpochs, Updates: 2}, "energy"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["objective"] != "energy" || len(got["energy_per_batch"].([]any)) != 2 || got["epochs"] != 1.0 ||
		got["best_validation_mse"] != nil || got["stopped"] != StopEpochs || got["updates"] != 2.0 {
		t.Errorf("summary: %s", b)
	}
}

// TestDataSpecLoad loads a job's training, validation and test images.
func TestDataSpecLoad(t *testing.T) {
	spec := DataSpec{Dataset: "color-mnist", MaxImages: 20, Seed: 1, ValidationImages: 10}
	train, val, err := spec.Load(context.Background())
	if err != nil {
		t.Skip("no MNIST here:", err)
	}
	test, err := spec.LoadTest(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 20 || val.Len() != 10 || test.Len() != 5 {
		t.Errorf("%d training, %d validation, %d test images", train.Len(), val.Len(), test.Len())
	}
	spec.ValidationImages = 0
	if _, val, err := spec.Load(context.Background()); err != nil || val != nil {
		t.Errorf("no validation: %v, %v", val, err)
	}
	if _, _, err := (DataSpec{Dataset: "nosuchset"}).Load(context.Background()); err == nil {
		t.Error("loaded nosuchset")
	}
}
