package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/report"
)

const evalDoc = "Run a trained model on a data set's images and print the paper's metrics (Eq. 4-6, on\n" +
	"outputs rescaled to [0,255]): MSE, PSNR, SSIM with one global window, and the standard\n" +
	"Gaussian-window SSIM. --task recon clamps the image for all T steps; --task denoise adds\n" +
	"N(0, noise-std²) noise, clamps the noisy image at step 1 only and lets it evolve (the\n" +
	"paper's protocol; --clamp-steps keeps it clamped longer). Dynamics flags given here (--T,\n" +
	"--beta, --gamma, --top-mean, --top-std) replace the model's own settings.\n" +
	"Writes a JSON report, a PNG grid (original / corrupted / output) and a plot of the energy\n" +
	"per layer over the window (with --per-step also the MSE against the clean images after every\n" +
	"step t of the window)."

// evalFlags are the flags ngc eval and ngc baseline eval share; those of
// the evaluation bind to ngc.EvalOptions.
type evalFlags struct {
	ngc.EvalOptions
	cmd          string
	model, split string
	task, out    string
	quiet        bool
	df           dataFlags
	t            ngc.Task
}

// register registers --model to --batch.
func (ef *evalFlags) register(fs *pflag.FlagSet, modelHelp string) {
	fs.StringVar(&ef.model, "model", "", modelHelp)
	ef.df.register(fs, 0)
	fs.StringVar(&ef.split, "split", "test", "split to evaluate: train, validation or test")
	fs.StringVar(&ef.task, "task", "recon", "recon (reconstruction) or denoise")
	fs.Float64Var(&ef.NoiseStd, "noise-std", 0.1, "standard deviation of the denoising noise, on [0,1] pixels")
	fs.BoolVar(&ef.NoClip, "no-clip", false, "do not clip noisy pixels to [0,1]")
	fs.IntVar(&ef.Batch, "batch", 0, "mini-batch size (0: the model's)")
}

// registerTail registers --seed, --out and --quiet.
func (ef *evalFlags) registerTail(fs *pflag.FlagSet, seedHelp, outHelp string) {
	fs.Uint64Var(&ef.Seed, "seed", 1, seedHelp)
	fs.StringVar(&ef.out, "out", "", outHelp)
	fs.BoolVar(&ef.quiet, "quiet", false, "no progress bar")
}

// check refuses bad values with one line and parses --task.
func (ef *evalFlags) check(more ...rule) error {
	if ef.model == "" {
		return fmt.Errorf("%s: --model is required", ef.cmd)
	}
	if err := checkRules(ef.cmd, append([]rule{
		rule{"batch", ef.Batch, ef.Batch >= 0, "0 (the model's) or more"},
		rule{"noise-std", ef.NoiseStd, ef.NoiseStd > 0, "a positive standard deviation"},
		rule{"max-images", ef.df.maxImages, ef.df.maxImages >= 0, "0 (all) or more"}}, more...)...); err != nil {
		return err
	}
	t, err := ngc.ParseTask(ef.task)
	if err != nil {
		return fmt.Errorf("%s: --%w", ef.cmd, err)
	}
	ef.t = t
	return nil
}

// load loads the images of --split.
func (ef *evalFlags) load(ctx context.Context) (*data.Set, error) {
	sp, err := data.ParseSplit(ef.split)
	if err != nil {
		return nil, err
	}
	return ef.df.load(ctx, sp)
}

// evaluate runs evaluate with the flags' options and a progress bar, and
// prints the metrics.
func (ef *evalFlags) evaluate(e *env, set *data.Set, desc string,
	evaluate func(*data.Set, ngc.EvalOptions) (ngc.EvalResult, error)) (ngc.EvalResult, error) {
	bar := report.NewProgress(e.stderr, ef.quiet, set.Len(), desc)
	opts := ef.EvalOptions
	opts.Task, opts.Keep, opts.Progress = ef.t, 10, func(d, _ int) { bar.Set(d, "") }
	res, err := evaluate(set, opts)
	bar.Done()
	if err == nil {
		fmt.Fprintln(e.stdout, report.Summary(set.Name, res))
	}
	return res, err
}

// outputs are the report's files: --out (default <model>-<task>.json) and
// the pictures beside it.
func (ef *evalFlags) outputs() report.Outputs {
	return report.OutputsFor(ef.out, ef.model, "-"+ef.t.String())
}

func runEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", "--model FILE [flags]", evalDoc)
	ef := evalFlags{cmd: "eval"}
	ef.register(fs, "trained model (safetensors) to evaluate (required)")
	var dyn dynamicsFlags
	dyn.register(fs)
	fs.IntVar(&ef.ClampSteps, "clamp-steps", 1, "denoising: steps during which the noisy image stays clamped before it moves (1: the paper's; T or more: reconstruct the noisy image)")
	fs.BoolVar(&ef.PerStep, "per-step", false, "also measure MSE and PSNR of the output predicted after every step t = 1..T (costs about T/2 evaluations)")
	ef.registerTail(fs, "seed of the noise and the initial top states", "JSON report path (default: <model>-<task>.json; the grid and plot go beside it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := ef.check(rule{"clamp-steps", ef.ClampSteps, ef.ClampSteps >= 1, "at least 1"}); err != nil {
		return err
	}
	if err := dyn.check("eval", fs); err != nil {
		return err
	}
	m, err := ngc.Load(ef.model)
	if err != nil {
		return err
	}
	if m, err = dyn.applyNoted(e, "eval", fs, m); err != nil {
		return err
	}
	set, err := ef.load(ctx)
	if err != nil {
		return err
	}
	res, err := ef.evaluate(e, set, ef.t.String(),
		func(s *data.Set, o ngc.EvalOptions) (ngc.EvalResult, error) { return m.Evaluate(ctx, s, o) })
	if err != nil {
		return err
	}
	o := ef.outputs()
	if err := o.Write(map[string]any{
		"command": append([]string{"ngc", "eval"}, args...), "model": ef.model, "dataset": set.Name,
		"noise_std": ef.NoiseStd, "clip": !ef.NoClip, "clamp_steps": ef.ClampSteps, "config": m.Config(), "result": res,
	}, res, ef.t == ngc.Denoise); err != nil {
		return err
	}
	_, steps, err := o.WritePlots(ef.t.String()+" on "+set.Name, res, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\nenergy plot: %s\n", o.JSON, o.Grid, o.Energy)
	if steps {
		fmt.Fprintf(e.stdout, "%s\nper-step plot: %s\n", report.StepSummary(res), o.Steps)
	}
	return nil
}
