package report

import (
	"path/filepath"
	"strings"

	"github.com/convngc/convngc/ngc"
)

// Outputs are the files of an evaluation's report: the JSON report and,
// beside it, the PNG grid of its samples, the plot of its energy over the
// inference window and the plot of its per-step error.
type Outputs struct {
	JSON, Grid, Energy, Steps string
}

// OutputsFor returns the outputs of the JSON report at path (say r.json):
// r.png, r-energy.png and r-steps.png. An empty path is model's stem with
// suffix and ".json" (m.safetensors, "-denoise": m-denoise.json).
func OutputsFor(path, model, suffix string) Outputs {
	if path == "" {
		path = strings.TrimSuffix(model, filepath.Ext(model)) + suffix + ".json"
	}
	stem := strings.TrimSuffix(path, filepath.Ext(path))
	return Outputs{JSON: path, Grid: stem + ".png", Energy: stem + "-energy.png", Steps: stem + "-steps.png"}
}

// Write writes doc as the JSON report and r's samples as the grid, with
// the corrupted inputs' row when corrupted (WriteGrid).
func (o Outputs) Write(doc any, r ngc.EvalResult, corrupted bool) error {
	if err := WriteJSON(o.JSON, doc); err != nil {
		return err
	}
	return WriteGrid(o.Grid, r, corrupted)
}

// WritePlots writes, titled title, the energy plot when r has an energy
// trace (every layer's too when layers, EnergyPlot) and the per-step plot
// when r has per-step errors (StepPlot, titled "<title>: output after step
// t"). It says which it wrote.
func (o Outputs) WritePlots(title string, r ngc.EvalResult, layers bool) (energy, steps bool, err error) {
	if len(r.Energy) > 0 {
		if err := EnergyPlot(title, r, layers).WritePNG(o.Energy); err != nil {
			return false, false, err
		}
	}
	if len(r.StepMSE) > 0 {
		if err := StepPlot(title+": output after step t", r).WritePNG(o.Steps); err != nil {
			return len(r.Energy) > 0, false, err
		}
	}
	return len(r.Energy) > 0, len(r.StepMSE) > 0, nil
}
