package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/viz"
)

func runEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", "--model FILE [flags]",
		"Run a trained model on a data set's images and print the paper's metrics (Eq. 4-6, on\n"+
			"outputs rescaled to [0,255]): MSE, PSNR, SSIM with one global window, and the standard\n"+
			"Gaussian-window SSIM. --task recon clamps the image for all T steps; --task denoise adds\n"+
			"N(0, noise-std²) noise, clamps the noisy image at step 1 only and lets it evolve (the\n"+
			"paper's protocol; --clamp-steps keeps it clamped longer). Dynamics flags given here (--T,\n"+
			"--beta, --gamma, --top-mean, --top-std) replace the model's own settings.\n"+
			"Writes a JSON report, a PNG grid (original / corrupted / output) and a plot of the energy\n"+
			"per layer over the window (with --per-step also the MSE against the clean images after every\n"+
			"step t of the window).")
	model := fs.String("model", "", "trained model (safetensors) to evaluate (required)")
	var df dataFlags
	df.register(fs, 0)
	split := fs.String("split", "test", "split to evaluate: train, validation or test")
	task := fs.String("task", "recon", "recon (reconstruction) or denoise")
	noise := fs.Float64("noise-std", 0.1, "standard deviation of the denoising noise, on [0,1] pixels")
	noClip := fs.Bool("no-clip", false, "do not clip noisy pixels to [0,1]")
	batch := fs.Int("batch", 0, "mini-batch size (0: the model's)")
	var dyn dynamicsFlags
	dyn.register(fs)
	clamp := fs.Int("clamp-steps", 1, "denoising: steps during which the noisy image stays clamped before it moves (1: the paper's; T or more: reconstruct the noisy image)")
	perStep := fs.Bool("per-step", false, "also measure MSE and PSNR of the output predicted after every step t = 1..T (costs about T/2 evaluations)")
	seed := fs.Uint64("seed", 1, "seed of the noise and the initial top states")
	out := fs.String("out", "", "JSON report path (default: <model>-<task>.json; the grid and plot go beside it)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return fmt.Errorf("eval: --model is required")
	}
	if err := checkRules("eval",
		rule{"batch", *batch, *batch >= 0, "0 (the model's) or more"},
		rule{"clamp-steps", *clamp, *clamp >= 1, "at least 1"},
		rule{"noise-std", *noise, *noise > 0, "a positive standard deviation"},
		rule{"max-images", df.maxImages, df.maxImages >= 0, "0 (all) or more"},
	); err != nil {
		return err
	}
	if err := dyn.check("eval", fs); err != nil {
		return err
	}
	t, err := ngc.ParseTask(*task)
	if err != nil {
		return fmt.Errorf("eval: --%w", err)
	}
	sp, err := data.ParseSplit(*split)
	if err != nil {
		return err
	}
	m, err := ngc.Load(*model)
	if err != nil {
		return err
	}
	if m, err = dyn.applyNoted(e, "eval", fs, m); err != nil {
		return err
	}
	set, err := df.load(ctx, sp)
	if err != nil {
		return err
	}
	bar := newProgress(e, *quiet, set.Len(), t.String())
	res, err := m.Evaluate(ctx, set, ngc.EvalOptions{Task: t, NoiseStd: *noise, NoClip: *noClip, Batch: *batch, Seed: *seed, Keep: 10,
		ClampSteps: *clamp, PerStep: *perStep, Progress: func(d, _ int) { bar.set(d, "") }})
	bar.done()
	if err != nil {
		return err
	}
	printReport(e, set.Name, res)
	base := *out
	if base == "" {
		base = strings.TrimSuffix(*model, filepath.Ext(*model)) + "-" + t.String() + ".json"
	}
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if err := writeJSON(base, map[string]any{
		"command": append([]string{"ngc", "eval"}, args...), "model": *model, "dataset": set.Name,
		"noise_std": *noise, "clip": !*noClip, "clamp_steps": *clamp, "config": m.Config(), "result": res,
	}); err != nil {
		return err
	}
	if err := writeGrid(stem+".png", res, t == ngc.Denoise); err != nil {
		return err
	}
	if len(res.Energy) > 0 {
		xs := make([]float64, len(res.Energy))
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		series := []viz.Series{{Name: "total", X: xs, Y: res.Energy}}
		for l := range res.EnergyLayers[0] {
			ys := make([]float64, len(xs))
			for i := range ys {
				ys[i] = res.EnergyLayers[i][l]
			}
			series = append(series, viz.Series{Name: fmt.Sprintf("layer %d", l), X: xs, Y: ys})
		}
		plot := viz.LinePlot{Title: t.String() + " on " + set.Name, XLabel: "step", YLabel: "energy ½‖e‖² per image", LogY: true, Series: series}
		if err := plot.WritePNG(stem + "-energy.png"); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\nenergy plot: %s\n", base, stem+".png", stem+"-energy.png")
	if len(res.StepMSE) > 0 {
		xs := make([]float64, len(res.StepMSE))
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		plot := viz.LinePlot{Title: t.String() + " on " + set.Name + ": output after step t", XLabel: "step t", YLabel: "MSE against the clean images", LogY: true,
			Series: []viz.Series{{Name: "MSE", X: xs, Y: res.StepMSE}}}
		if err := plot.WritePNG(stem + "-steps.png"); err != nil {
			return err
		}
		best := 0
		for i, v := range res.StepMSE {
			if v < res.StepMSE[best] {
				best = i
			}
		}
		fmt.Fprintf(e.stdout, "MSE after step 1, %d, %d (lowest), %d: %.2f, %.2f, %.2f, %.2f\nper-step plot: %s\n",
			min(5, len(xs)), best+1, len(xs), res.StepMSE[0], res.StepMSE[min(5, len(xs))-1], res.StepMSE[best], res.StepMSE[len(xs)-1], stem+"-steps.png")
	}
	return nil
}
