// Package report writes what an evaluation of a model measured, for people
// and for tools: a one-line summary of the paper's metrics, a JSON file, a
// PNG grid of the first images (original / corrupted / output) and plots of
// the energy and of the error over the inference window. The ngc commands
// write their outputs with it; a Go program evaluating a model
// (ngc.Model.Evaluate, or a baseline's) can write the same.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/viz"
)

// Summary is one evaluation's metrics as one line: "reconstruct on 1000
// images of cifar10/test: MSE 26.48  PSNR 34.02 dB  SSIM 0.9000
// SSIM(gaussian) 0.8100".
func Summary(dataset string, r ngc.EvalResult) string {
	return fmt.Sprintf("%s on %d images of %s: MSE %.2f  PSNR %.2f dB  SSIM %.4f  SSIM(gaussian) %.4f",
		r.Task, r.Images, dataset, r.Report.MSE, r.Report.PSNR, r.Report.SSIM, r.Report.SSIMGaussian)
}

// CheckWritable makes sure a file can be created in path's folder, creating
// the folder, so that long work does not find out at its end that it
// cannot write its outputs.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ngc-write-test-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// WriteJSON writes v as indented JSON to path, creating its folder.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteGrid writes the evaluation's kept samples (EvalOptions.Keep) as a
// PNG grid, one image per column: the originals, with corrupted the
// corrupted inputs, and the outputs. It writes nothing when no sample was
// kept.
func WriteGrid(path string, r ngc.EvalResult, corrupted bool) error {
	n := len(r.Original) / data.ImageSize
	if n == 0 {
		return nil
	}
	row := func(v []float32) viz.Images {
		return viz.Images{Data: v, N: n, C: data.Channels, H: data.Height, W: data.Width}
	}
	rows := []viz.Images{row(r.Original)}
	if corrupted {
		rows = append(rows, row(r.Corrupted))
	}
	rows = append(rows, row(r.Output))
	img, err := viz.Grid(rows, n, 3, 2)
	if err != nil {
		return err
	}
	return viz.WritePNG(path, img)
}

// steps is a series over the steps 1..len(ys).
func steps(name string, ys []float64) viz.Series {
	xs := make([]float64, len(ys))
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return viz.Series{Name: name, X: xs, Y: ys}
}

// EnergyPlot is the mean energy ½‖e‖² per image over the inference window
// (log scale): the total, and with layers every layer's.
func EnergyPlot(title string, r ngc.EvalResult, layers bool) viz.LinePlot {
	series := []viz.Series{steps("total", r.Energy)}
	if layers && len(r.EnergyLayers) > 0 {
		n := len(r.EnergyLayers[0]) // layers every step reports
		for _, row := range r.EnergyLayers {
			n = min(n, len(row))
		}
		for l := range n {
			ys := make([]float64, len(r.EnergyLayers))
			for i := range ys {
				ys[i] = r.EnergyLayers[i][l]
			}
			series = append(series, steps(fmt.Sprintf("layer %d", l), ys))
		}
	}
	return viz.LinePlot{Title: title, XLabel: "step", YLabel: "energy ½‖e‖² per image", LogY: true, Series: series}
}

// StepPlot is the MSE against the clean images of the output predicted
// after every step (EvalOptions.PerStep), log scale.
func StepPlot(title string, r ngc.EvalResult) viz.LinePlot {
	return viz.LinePlot{Title: title, XLabel: "step t", YLabel: "MSE against the clean images", LogY: true,
		Series: []viz.Series{steps("MSE", r.StepMSE)}}
}

// StepSummary is the per-step MSE after step 1, step 5, the lowest and
// the last as one line ("" without per-step figures).
func StepSummary(r ngc.EvalResult) string {
	n := len(r.StepMSE)
	if n == 0 {
		return ""
	}
	best := 0
	for i, v := range r.StepMSE {
		if v < r.StepMSE[best] {
			best = i
		}
	}
	return fmt.Sprintf("MSE after step 1, %d, %d (lowest), %d: %.2f, %.2f, %.2f, %.2f",
		min(5, n), best+1, n, r.StepMSE[0], r.StepMSE[min(5, n)-1], r.StepMSE[best], r.StepMSE[n-1])
}
