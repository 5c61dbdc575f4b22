package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/viz"
)

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "train", "[flags]",
		"Train a Conv-NGC model (inference with z[0] clamped, then the local Hebbian-like update, per\n"+
			"mini-batch), save it, and evaluate its reconstruction on test images. With no flags it\n"+
			"trains the paper network on 10,000 Color-MNIST digits for 3 epochs (a few minutes on 2 cores).\n"+
			"Writes the model (--out), a metrics JSON, a PNG grid (inputs / reconstructions) and a PNG\n"+
			"plot of the energy per update beside it.")
	var mf modelFlags
	var df dataFlags
	df.register(fs, 10000)
	epochs := fs.Int("epochs", 3, "passes over the training images (0: save the initialised model untrained)")
	inOrder := fs.Bool("no-shuffle", false, "train on the images in their stored order every epoch (the order of `ngc run --learn`)")
	mf.register(fs)
	from := fs.String("from", "", "continue training this checkpoint (its config wins over the model flags)")
	out := fs.String("out", "model.safetensors", "where to write the trained model")
	evalImages := fs.Int("eval-images", 1000, "test images to evaluate after training (0: skip)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *epochs < 0 {
		return fmt.Errorf("train: --epochs %d: want 0 or more", *epochs)
	}
	base := strings.TrimSuffix(*out, filepath.Ext(*out))

	var m *ngc.Model
	var err error
	if *from != "" {
		m, err = ngc.Load(*from)
	} else {
		m, err = ngc.New(mf.config())
	}
	if err != nil {
		return err
	}
	cfg := m.Config()
	var fit ngc.FitResult
	var train *data.Set
	if *epochs > 0 {
		if train, err = df.load(ctx, data.Train); err != nil {
			return err
		}
		batches := *epochs * max(train.Len()/min(cfg.Batch, train.Len()), 1)
		fmt.Fprintf(e.stderr, "training on %d images of %s: %d epochs, %d updates of %d images, T=%d\n",
			train.Len(), train.Name, *epochs, batches, min(cfg.Batch, train.Len()), cfg.Steps)
		bar := newProgress(e, *quiet, batches, "training")
		done := 0
		fit, err = m.Fit(ctx, train, ngc.FitOptions{Epochs: *epochs, InOrder: *inOrder, Progress: func(p ngc.FitProgress) {
			done++
			bar.set(done, describe("epoch %d/%d energy %.1f %.0f img/s", p.Epoch, p.Epochs, p.Energy, p.ImagesPerSecond))
		}})
		bar.done()
		if err != nil {
			return err
		}
	}
	if err := m.Save(*out); err != nil {
		return err
	}
	if *epochs > 0 {
		fmt.Fprintf(e.stdout, "trained %d updates on %d images in %s (%.0f img/s); final energy %.2f per image\n",
			fit.Updates, fit.Images, time.Duration(fit.Seconds*float64(time.Second)).Round(time.Second),
			float64(fit.Images)/fit.Seconds, last(fit.Energy))
	} else if *from != "" {
		fmt.Fprintf(e.stdout, "saved %s unchanged (--epochs 0)\n", *from)
	} else {
		fmt.Fprintf(e.stdout, "saved the initialised model untrained (--epochs 0)\n")
	}
	fmt.Fprintf(e.stdout, "model: %s\n", *out)

	report := map[string]any{
		"command": append([]string{"ngc", "train"}, args...),
		"config":  cfg,
		"train":   fit,
	}
	if train != nil {
		report["dataset"] = train.Name
	}
	if len(fit.Energy) > 0 {
		xs := make([]float64, len(fit.Energy))
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		plot := viz.LinePlot{Title: "Conv-NGC training on " + train.Name, XLabel: "update", YLabel: "total discrepancy per image", LogY: true,
			Series: []viz.Series{{Name: "final energy", X: xs, Y: fit.Energy}}}
		if err := plot.WritePNG(base + "-energy.png"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "energy plot: %s\n", base+"-energy.png")
	}
	if *evalImages > 0 {
		test, err := data.Load(ctx, data.Options{Dataset: df.dataset, Path: df.path, Split: data.Test, MaxImages: *evalImages, Seed: df.seed})
		if err != nil {
			return err
		}
		bar := newProgress(e, *quiet, test.Len(), "evaluating")
		res, err := m.Evaluate(ctx, test, ngc.EvalOptions{Task: ngc.Reconstruct, Seed: mf.seed, Keep: 10,
			Progress: func(d, _ int) { bar.set(d, "") }})
		bar.done()
		if err != nil {
			return err
		}
		report["eval"] = res
		report["eval_dataset"] = test.Name
		printReport(e, test.Name, res)
		if err := writeGrid(base+".png", res, false); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "grid (inputs / reconstructions): %s\n", base+".png")
	}
	if err := writeJSON(base+".json", report); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "metrics: %s\n", base+".json")
	return nil
}

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
