package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

func result(keep int) ngc.EvalResult {
	r := ngc.EvalResult{Task: "denoise", Images: 8, Report: metrics.Report{MSE: 26.4785, PSNR: 34.0213, SSIM: 0.9, SSIMGaussian: 0.81},
		Energy: []float64{9, 4, 2}, EnergyLayers: [][]float64{{5, 4}, {3, 1}, {1.5, 0.5}}, StepMSE: []float64{30, 20, 25}}
	for _, p := range []*[]float32{&r.Original, &r.Corrupted, &r.Output} {
		*p = make([]float32, keep*data.ImageSize)
		for i := range *p {
			(*p)[i] = float32(i%255) / 255
		}
	}
	return r
}

func TestSummary(t *testing.T) {
	if got := Summary("cifar10/test", result(0)); got != "denoise on 8 images of cifar10/test: MSE 26.48  PSNR 34.02 dB  SSIM 0.9000  SSIM(gaussian) 0.8100" {
		t.Errorf("Summary = %q", got)
	}
	if got := StepSummary(result(0)); got != "MSE after step 1, 3, 2 (lowest), 3: 30.00, 25.00, 20.00, 25.00" {
		t.Errorf("StepSummary = %q", got)
	}
	if got := StepSummary(ngc.EvalResult{}); got != "" {
		t.Errorf("StepSummary without steps = %q", got)
	}
}

func TestPlots(t *testing.T) {
	r := result(0)
	if p := EnergyPlot("e", r, true); len(p.Series) != 3 || p.Series[2].Name != "layer 1" || p.Series[2].Y[2] != 0.5 || p.Series[0].X[2] != 3 {
		t.Errorf("energy plot with layers: %+v", p.Series)
	}
	r.EnergyLayers[1] = r.EnergyLayers[1][:1] // a ragged trace plots the layers every step has
	if p := EnergyPlot("e", r, true); len(p.Series) != 2 {
		t.Errorf("ragged energy plot: %d series", len(p.Series))
	}
	if p := EnergyPlot("e", r, false); len(p.Series) != 1 {
		t.Errorf("energy plot: %d series", len(p.Series))
	}
	if p := StepPlot("s", r); len(p.Series) != 1 || len(p.Series[0].Y) != 3 {
		t.Errorf("step plot: %+v", p.Series)
	}
	path := filepath.Join(t.TempDir(), "energy.png")
	if err := EnergyPlot("e", r, true).WritePNG(path); err != nil {
		t.Fatal(err)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "r.json")
	if err := WriteJSON(path, map[string]any{"result": result(0)}); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Result struct {
			Metrics struct{ MSE float64 } `json:"metrics"`
		} `json:"result"`
	}
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &back) != nil || back.Result.Metrics.MSE != 26.4785 || !strings.HasSuffix(string(b), "}\n") {
		t.Errorf("JSON: %v %+v", err, back)
	}
	if err := WriteJSON(filepath.Join(dir, "bad.json"), func() {}); err == nil {
		t.Error("encoded a function")
	}
	grid := filepath.Join(dir, "g.png")
	if err := WriteGrid(grid, result(0), true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(grid); !os.IsNotExist(err) {
		t.Errorf("a grid of no samples was written: %v", err)
	}
	if err := WriteGrid(grid, result(2), true); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(grid); err != nil || st.Size() == 0 {
		t.Errorf("grid: %v", err)
	}
}

// TestCheckWritable: a new folder is created and left empty; a folder
// under a file is refused.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{filepath.Join(dir, "out.json"), true},
		{filepath.Join(dir, "a", "b", "out.json"), true},
		{filepath.Join(file, "out.json"), false},
	} {
		err := CheckWritable(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("CheckWritable(%s): %v, want ok %v", tc.path, err, tc.ok)
		}
		if entries, _ := os.ReadDir(filepath.Dir(tc.path)); tc.ok && len(entries) != 0 && filepath.Dir(tc.path) != dir {
			t.Errorf("CheckWritable(%s) left %d files", tc.path, len(entries))
		}
	}
}

func TestOutputsFor(t *testing.T) {
	for _, tc := range []struct {
		path, model, suffix string
		want                Outputs
	}{
		{"", "dir/m.safetensors", "-denoise", Outputs{"dir/m-denoise.json", "dir/m-denoise.png", "dir/m-denoise-energy.png", "dir/m-denoise-steps.png"}},
		{"out/r.json", "m.safetensors", "-recon", Outputs{"out/r.json", "out/r.png", "out/r-energy.png", "out/r-steps.png"}},
	} {
		if got := OutputsFor(tc.path, tc.model, tc.suffix); got != tc.want {
			t.Errorf("OutputsFor(%q, %q, %q) = %+v", tc.path, tc.model, tc.suffix, got)
		}
	}
}

// TestOutputsWrite: the report, the grid, and the plots the result has
// data for, no others.
func TestOutputsWrite(t *testing.T) {
	for _, tc := range []struct {
		name          string
		energy, steps bool
	}{{"both", true, true}, {"energy", true, false}, {"none", false, false}} {
		o := OutputsFor(filepath.Join(t.TempDir(), "r.json"), "", "")
		r := result(2)
		if !tc.energy {
			r.Energy, r.EnergyLayers = nil, nil
		}
		if !tc.steps {
			r.StepMSE = nil
		}
		if err := o.Write(map[string]any{"n": 1}, r, true); err != nil {
			t.Fatal(err)
		}
		energy, steps, err := o.WritePlots("t", r, true)
		if err != nil || energy != tc.energy || steps != tc.steps {
			t.Errorf("%s: WritePlots = %v, %v, %v", tc.name, energy, steps, err)
		}
		for path, want := range map[string]bool{o.JSON: true, o.Grid: true, o.Energy: tc.energy, o.Steps: tc.steps} {
			if _, err := os.Stat(path); (err == nil) != want {
				t.Errorf("%s: %s exists %v, want %v", tc.name, filepath.Base(path), err == nil, want)
			}
		}
	}
}
