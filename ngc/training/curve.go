package training

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/convngc/convngc/ngc/viz"
)

// CurveFiles are the learning curve's files, rewritten as a job goes.
type CurveFiles struct {
	// CSV gets one row per update: update, image_updates, epoch, the
	// training objective (a column named by Objective), seconds, and the
	// validation metrics val_mse, val_psnr, val_ssim, val_ssim_gaussian
	// where the job validated (empty elsewhere).
	CSV string
	// PNG gets eight panels: the training objective and the validation MSE,
	// PSNR and SSIM, against updates (top row) and image-updates (bottom).
	PNG string
	// Title names the run in the plot.
	Title string
	// Objective names the training objective (Learner.Objective); "" is
	// "objective".
	Objective string
}

// CSVHeader returns the first row of the learning-curve CSV.
func (c *CurveFiles) CSVHeader() []string {
	return []string{"update", "image_updates", "epoch", c.objective(), "seconds",
		"val_mse", "val_psnr", "val_ssim", "val_ssim_gaussian"}
}

func (c *CurveFiles) objective() string {
	if c.Objective == "" {
		return "objective"
	}
	return c.Objective
}

// Write rewrites both files from the job's state; an empty path is skipped.
func (c *CurveFiles) Write(s *State) error {
	if c.CSV != "" {
		if err := writeAtomic(c.CSV, c.curveCSV(s)); err != nil {
			return fmt.Errorf("training: curve: %w", err)
		}
	}
	if c.PNG != "" && len(s.Curve) > 0 {
		if err := c.writePNG(s); err != nil {
			return fmt.Errorf("training: curve: %w", err)
		}
	}
	return nil
}

func (c *CurveFiles) curveCSV(s *State) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(c.CSVHeader())
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, p := range s.Curve {
		row := []string{strconv.Itoa(p.Update), strconv.FormatInt(p.Images, 10), f(p.Epoch), f(p.Objective), f(p.Seconds), "", "", "", ""}
		if v := p.Validation; v != nil {
			row[5], row[6], row[7], row[8] = f(v.MSE), f(v.PSNR), f(v.SSIM), f(v.SSIMGaussian)
		}
		_ = w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}

func (c *CurveFiles) writePNG(s *State) error {
	var upd, img, en, vu, vi, mse, psnr, ssim, ssimG []float64
	for _, p := range s.Curve {
		upd = append(upd, float64(p.Update))
		img = append(img, float64(p.Images))
		en = append(en, p.Objective)
		if v := p.Validation; v != nil {
			vu = append(vu, float64(p.Update))
			vi = append(vi, float64(p.Images))
			mse = append(mse, v.MSE)
			psnr = append(psnr, v.PSNR)
			ssim = append(ssim, v.SSIM)
			ssimG = append(ssimG, v.SSIMGaussian)
		}
	}
	var plots []viz.LinePlot
	for _, x := range []struct {
		label      string
		all, valid []float64
	}{{"update", upd, vu}, {"image-updates", img, vi}} {
		plots = append(plots,
			viz.LinePlot{Title: c.Title + ": training " + c.objective(), XLabel: x.label, YLabel: c.objective(), LogY: true,
				Series: []viz.Series{{X: x.all, Y: en}}},
			viz.LinePlot{Title: "validation MSE", XLabel: x.label, YLabel: "MSE (0-255 scale)", LogY: true,
				Series: []viz.Series{{X: x.valid, Y: mse}}},
			viz.LinePlot{Title: "validation PSNR", XLabel: x.label, YLabel: "dB",
				Series: []viz.Series{{X: x.valid, Y: psnr}}},
			viz.LinePlot{Title: "validation SSIM", XLabel: x.label, YLabel: "SSIM",
				Series: []viz.Series{{Name: "Eq. 5", X: x.valid, Y: ssim}, {Name: "Gaussian", X: x.valid, Y: ssimG}}},
		)
	}
	dir, base := filepath.Split(c.PNG)
	tmp := filepath.Join(dir, "."+base+".tmp.png")
	if err := viz.WritePanels(tmp, 4, plots); err != nil {
		return err
	}
	return os.Rename(tmp, c.PNG)
}

// writeAtomic writes b to path through a temporary file in the same folder.
func writeAtomic(path string, b []byte) error {
	dir, base := filepath.Split(path)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
