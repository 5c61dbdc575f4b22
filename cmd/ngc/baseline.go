package main

import (
	"context"
	"fmt"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/safetensors"
	"github.com/convngc/convngc/ngc/training"
)

func runBaseline(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "train":
			return runBaselineTrain(ctx, e, args[1:])
		case "eval":
			return runBaselineEval(ctx, e, args[1:])
		}
	}
	fs := newFlags(e, "baseline", "train|eval [flags]",
		"Train or evaluate the paper's baselines, trained by backprop (Conv-AE, Conv-DAE) or by\n"+
			"local learning (fully connected NGC, or PCN with --pcn):\n\n"+
			"  ngc baseline train --model conv-ae|conv-dae|ngc-fc [--pcn] [--dataset D] --out FILE\n"+
			"  ngc baseline eval  --model FILE [--dataset D] [--task recon|denoise]\n\n"+
			"Run \"ngc baseline train --help\" or \"ngc baseline eval --help\" for their flags.")
	if err := parse(fs, args); err != nil {
		return err
	}
	return fmt.Errorf("baseline: want a sub-command: train or eval")
}

func runBaselineTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "baseline train", "--model conv-ae|conv-dae|ngc-fc [flags]",
		"Train a baseline on a data set, save it (safetensors), and evaluate its reconstruction on\n"+
			"test images. conv-ae and conv-dae are the paper's convolutional autoencoders (48,393\n"+
			"parameters; the DAE uses SELU and trains on inputs with Gaussian noise), ngc-fc the fully\n"+
			"connected NGC (3072-200-200-200-200, 738,072 parameters; --pcn for the PCN variant).\n"+
			"Zero-valued model flags keep the paper's setting.\n\n"+jobHelp)
	kind := fs.String("model", "conv-ae", "baseline: conv-ae, conv-dae or ngc-fc")
	pcn := fs.Bool("pcn", false, "ngc-fc: PCN variant, multiply the bottom-up correction by φ'(z)")
	var df dataFlags
	var jf jobFlags
	df.register(fs, 10000)
	lr := fs.Float64("lr", 0, "Adam step size (0: the paper's, 2e-5 for the autoencoders, 1e-3 for ngc-fc)")
	batch := fs.Int("batch", 0, "mini-batch size (0: the paper's, 128 for the autoencoders, 500 for ngc-fc)")
	steps := fs.Int("T", 0, "ngc-fc: inference steps (0: 60)")
	act := fs.String("activation", "", "autoencoders: hidden activation (default relu for conv-ae, selu for conv-dae)")
	loss := fs.String("loss", "", "autoencoders: training loss, bce or mse (default bce)")
	momentum := fs.Float64("bn-momentum", 0, "autoencoders: batch-norm running-average momentum (0: 0.99; short runs: 0.9)")
	noise := fs.Float64("noise-std", 0, "conv-dae: std of the training noise on [0,1] pixels (0: 0.1)")
	seed := fs.Uint64("seed", 1, "seed of initialisation, shuffling and noise")
	from := fs.String("from", "", "start a new job from this trained baseline (its config is kept: model flags are refused)")
	jf.register(fs, "<model>.safetensors")
	if err := parse(fs, args); err != nil {
		return err
	}
	name := *kind // the model's name: conv-ae, conv-dae, ngc or pcn
	switch {
	case *pcn || name == "pcn":
		name = "pcn"
	case name == "ngc-fc":
		name = "ngc"
	}
	jf.defaultOut = name + ".safetensors"
	if err := checkRules("baseline train",
		rule{"lr", *lr, *lr >= 0, "a positive learning rate, or 0 for the paper's"},
		rule{"batch", *batch, *batch >= 0, "a mini-batch of at least 1 image, or 0 for the paper's"},
		rule{"T", *steps, *steps >= 0, "at least 1 step, or 0 for 60"},
		rule{"bn-momentum", *momentum, *momentum >= 0 && *momentum < 1, "a momentum in [0, 1), 0 for 0.99"},
		rule{"noise-std", *noise, *noise >= 0, "a positive standard deviation, or 0 for 0.1"},
		rule{"max-images", df.maxImages, df.maxImages >= 0, "0 (all) or more"},
	); err != nil {
		return err
	}
	defaultTask := ngc.Reconstruct
	if *kind == "conv-dae" {
		defaultTask = ngc.Denoise
	}
	if err := jf.check("baseline train", defaultTask); err != nil {
		return err
	}
	if jf.resume && *from != "" {
		return fmt.Errorf("baseline train: --resume continues the job beside --out; --from starts a new one: give one of them")
	}
	var (
		m     baselines.Model
		state *training.State
		err   error
	)
	open := func(f *safetensors.File) (training.Learner, error) { return baselines.FromCheckpoint(f) }
	if jf.resume || *from != "" {
		for _, name := range []string{"model", "pcn", "lr", "batch", "T", "activation", "loss", "bn-momentum", "noise-std", "seed"} {
			if fs.Changed(name) {
				return fmt.Errorf("baseline train: --%s: a trained baseline keeps its config; train a new one instead of using --from or --resume", name)
			}
		}
	}
	switch {
	case jf.resume:
		l, s, err := jf.resumeJob(e, fs, &df, open)
		if err != nil {
			return fmt.Errorf("baseline train: %w", err)
		}
		m, state = l.(baselines.Model), s
	case *from != "":
		if m, err = baselines.Load(*from); err != nil {
			return err
		}
		state = training.NewState(jf.spec(&df))
	default:
		ae := baselines.AEConfig{LearningRate: *lr, Batch: *batch, Activation: *act, Loss: *loss, BNMomentum: *momentum, NoiseStd: *noise, Seed: *seed}
		if m, err = newBaseline(*kind, *pcn, ae, baselines.NGCConfig{LearningRate: *lr, Batch: *batch, Steps: *steps, Seed: *seed}); err != nil {
			return err
		}
		state = training.NewState(jf.spec(&df))
	}
	report := map[string]any{
		"command": append([]string{"ngc", "baseline", "train"}, args...),
		"model":   m.Name(), "params": m.Params(), "config": baselines.ConfigOf(m),
	}
	return jf.train(ctx, e, fs, "baseline train", m.Name(), fmt.Sprintf("training %s (%d parameters)", m.Name(), m.Params()),
		m, state, report, m.Seed(), m.Save)
}

// newBaseline returns a freshly initialised baseline of the given kind,
// refusing flags of the other kinds.
func newBaseline(kind string, pcn bool, ae baselines.AEConfig, fc baselines.NGCConfig) (baselines.Model, error) {
	switch {
	case (kind == "conv-ae" || kind == "conv-dae") && (pcn || fc.Steps != 0):
		return nil, fmt.Errorf("baseline train: --pcn and --T are for ngc-fc, not %s", kind)
	case (kind == "ngc-fc" || kind == "ngc" || kind == "pcn") && (ae.Activation != "" || ae.Loss != "" || ae.BNMomentum != 0 || ae.NoiseStd != 0):
		return nil, fmt.Errorf("baseline train: --activation, --loss, --bn-momentum and --noise-std are for the autoencoders, not %s", kind)
	case kind != "conv-ae" && kind != "conv-dae" && kind != "ngc-fc" && kind != "ngc" && kind != "pcn":
		return nil, fmt.Errorf("baseline train: --model %q (want conv-ae, conv-dae or ngc-fc)", kind)
	}
	fc.PCN = pcn
	return baselines.New(kind, ae, fc)
}

func runBaselineEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "baseline eval", "--model FILE [flags]",
		"Run a trained baseline (from ngc baseline train) on a data set's images and print the\n"+
			"paper's metrics (Eq. 4-6, on outputs rescaled to [0,255]): MSE, PSNR, SSIM with one global\n"+
			"window, and the Gaussian-window SSIM. --task denoise adds N(0, noise-std²) noise first;\n"+
			"for one --seed every model, Conv-NGC included, sees the same noisy images. Writes a JSON\n"+
			"report and a PNG grid (original / corrupted / output); ngc-fc also an energy plot.")
	ef := evalFlags{cmd: "baseline eval"}
	ef.register(fs, "trained baseline (safetensors) to evaluate (required)")
	ef.registerTail(fs, "seed of the noise (and of ngc-fc's initial top states)", "JSON report path (default: <model>-<task>.json; the grid goes beside it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := ef.check(); err != nil {
		return err
	}
	m, err := baselines.Load(ef.model)
	if err != nil {
		return err
	}
	set, err := ef.load(ctx)
	if err != nil {
		return err
	}
	res, err := ef.evaluate(e, set, m.Name()+" "+ef.t.String(), ngc.EvalOptions{},
		func(s *data.Set, o ngc.EvalOptions) (ngc.EvalResult, error) { return m.Evaluate(ctx, s, o) })
	if err != nil {
		return err
	}
	path, stem, err := ef.writeReport(map[string]any{
		"command": append([]string{"ngc", "baseline", "eval"}, args...), "model": ef.model, "kind": m.Name(), "params": m.Params(),
		"config": baselines.ConfigOf(m), "dataset": set.Name, "noise_std": ef.noise, "clip": !ef.noClip, "result": res,
	}, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\n", path, stem+".png")
	if len(res.Energy) > 0 {
		if err := report.EnergyPlot(m.Name()+" "+ef.t.String()+" on "+set.Name, res, false).WritePNG(stem + "-energy.png"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "energy plot: %s\n", stem+"-energy.png")
	}
	return nil
}
