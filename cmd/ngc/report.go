package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/viz"
)

func last(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// printReport prints one evaluation's metrics.
func printReport(e *env, name string, r ngc.EvalResult) {
	fmt.Fprintf(e.stdout, "%s on %d images of %s: MSE %.2f  PSNR %.2f dB  SSIM %.4f  SSIM(gaussian) %.4f\n",
		r.Task, r.Images, name, r.Report.MSE, r.Report.PSNR, r.Report.SSIM, r.Report.SSIMGaussian)
}

// writeGrid writes original / (corrupted /) output rows of the kept samples.
func writeGrid(path string, r ngc.EvalResult, corrupted bool) error {
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

// writeJSON writes v as indented JSON.
func writeJSON(path string, v any) error {
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
