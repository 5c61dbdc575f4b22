package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
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

const baselineTrainDoc = "Train a baseline on a data set, save it (safetensors), and evaluate its reconstruction on\n" +
	"test images. conv-ae and conv-dae are the paper's convolutional autoencoders (48,393\n" +
	"parameters; the DAE uses SELU and trains on inputs with Gaussian noise), ngc-fc the fully\n" +
	"connected NGC (3072-200-200-200-200, 738,072 parameters; --pcn for the PCN variant).\n" +
	"Zero-valued model flags keep the paper's setting.\n\n" + jobHelp

// baselineTrainFlags are the flags of ngc baseline train.
type baselineTrainFlags struct {
	kind, act, loss, from string
	pcn                   bool
	lr, momentum, noise   float64
	batch, steps          int
	seed                  uint64
	df                    dataFlags
	jf                    jobFlags
}

func (b *baselineTrainFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&b.kind, "model", "conv-ae", "baseline: conv-ae, conv-dae or ngc-fc")
	fs.BoolVar(&b.pcn, "pcn", false, "ngc-fc: PCN variant, multiply the bottom-up correction by φ'(z)")
	b.df.register(fs, 10000)
	fs.Float64Var(&b.lr, "lr", 0, "Adam step size (0: the paper's, 2e-5 for the autoencoders, 1e-3 for ngc-fc)")
	fs.IntVar(&b.batch, "batch", 0, "mini-batch size (0: the paper's, 128 for the autoencoders, 500 for ngc-fc)")
	fs.IntVar(&b.steps, "T", 0, "ngc-fc: inference steps (0: 60)")
	fs.StringVar(&b.act, "activation", "", "autoencoders: hidden activation (default relu for conv-ae, selu for conv-dae)")
	fs.StringVar(&b.loss, "loss", "", "autoencoders: training loss, bce or mse (default bce)")
	fs.Float64Var(&b.momentum, "bn-momentum", 0, "autoencoders: batch-norm running-average momentum (0: 0.99; short runs: 0.9)")
	fs.Float64Var(&b.noise, "noise-std", 0, "conv-dae: std of the training noise on [0,1] pixels (0: 0.1)")
	fs.Uint64Var(&b.seed, "seed", 1, "seed of initialisation, shuffling and noise")
	fs.StringVar(&b.from, "from", "", "start a new job from this trained baseline (its config is kept: model flags are refused)")
	b.jf.register(fs, "<model>.safetensors")
}

// check refuses bad values with one line, before anything loads.
func (b *baselineTrainFlags) check(fs *pflag.FlagSet) error {
	name := b.kind // the model's name: conv-ae, conv-dae, ngc or pcn
	switch {
	case b.pcn || name == "pcn":
		name = "pcn"
	case name == "ngc-fc":
		name = "ngc"
	}
	b.jf.defaultOut = name + ".safetensors"
	if err := checkRules("baseline train",
		rule{"lr", b.lr, b.lr >= 0, "a positive learning rate, or 0 for the paper's"},
		rule{"batch", b.batch, b.batch >= 0, "a mini-batch of at least 1 image, or 0 for the paper's"},
		rule{"T", b.steps, b.steps >= 0, "at least 1 step, or 0 for 60"},
		rule{"bn-momentum", b.momentum, b.momentum >= 0 && b.momentum < 1, "a momentum in [0, 1), 0 for 0.99"},
		rule{"noise-std", b.noise, b.noise >= 0, "a positive standard deviation, or 0 for 0.1"},
		rule{"max-images", b.df.maxImages, b.df.maxImages >= 0, "0 (all) or more"},
	); err != nil {
		return err
	}
	defaultTask := ngc.Reconstruct
	if b.kind == "conv-dae" {
		defaultTask = ngc.Denoise
	}
	if err := b.jf.check("baseline train", defaultTask); err != nil {
		return err
	}
	if b.jf.resume && b.from != "" {
		return fmt.Errorf("baseline train: --resume continues the job beside --out; --from starts a new one: give one of them")
	}
	if b.jf.resume || b.from != "" {
		for _, name := range []string{"model", "pcn", "lr", "batch", "T", "activation", "loss", "bn-momentum", "noise-std", "seed"} {
			if fs.Changed(name) {
				return fmt.Errorf("baseline train: --%s: a trained baseline keeps its config; train a new one instead of using --from or --resume", name)
			}
		}
	}
	return nil
}

// start returns the model and job state of a resumed job, a job started
// from a trained baseline (--from), or a new one.
func (b *baselineTrainFlags) start(e *env, fs *pflag.FlagSet) (baselines.Model, *training.State, error) {
	switch {
	case b.jf.resume:
		open := func(f *safetensors.File) (training.Learner, error) { return baselines.FromCheckpoint(f) }
		l, s, err := b.jf.resumeJob(e, fs, &b.df, open)
		if err != nil {
			return nil, nil, fmt.Errorf("baseline train: %w", err)
		}
		return l.(baselines.Model), s, nil
	case b.from != "":
		m, err := baselines.Load(b.from)
		return m, training.NewState(b.jf.spec(&b.df)), err
	}
	ae := baselines.AEConfig{LearningRate: b.lr, Batch: b.batch, Activation: b.act, Loss: b.loss, BNMomentum: b.momentum, NoiseStd: b.noise, Seed: b.seed}
	m, err := newBaseline(b.kind, b.pcn, ae, baselines.NGCConfig{LearningRate: b.lr, Batch: b.batch, Steps: b.steps, Seed: b.seed})
	return m, training.NewState(b.jf.spec(&b.df)), err
}

func runBaselineTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "baseline train", "--model conv-ae|conv-dae|ngc-fc [flags]", baselineTrainDoc)
	var b baselineTrainFlags
	b.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.check(fs); err != nil {
		return err
	}
	m, state, err := b.start(e, fs)
	if err != nil {
		return err
	}
	report := map[string]any{
		"command": append([]string{"ngc", "baseline", "train"}, args...),
		"model":   m.Name(), "params": m.Params(), "config": baselines.ConfigOf(m),
	}
	return b.jf.train(ctx, e, fs, "baseline train", m.Name(), fmt.Sprintf("training %s (%d parameters)", m.Name(), m.Params()),
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
	res, err := ef.evaluate(e, set, m.Name()+" "+ef.t.String(),
		func(s *data.Set, o ngc.EvalOptions) (ngc.EvalResult, error) { return m.Evaluate(ctx, s, o) })
	if err != nil {
		return err
	}
	o := ef.outputs()
	if err := o.Write(map[string]any{
		"command": append([]string{"ngc", "baseline", "eval"}, args...), "model": ef.model, "kind": m.Name(), "params": m.Params(),
		"config": baselines.ConfigOf(m), "dataset": set.Name, "noise_std": ef.NoiseStd, "clip": !ef.NoClip, "result": res,
	}, res, ef.t == ngc.Denoise); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\n", o.JSON, o.Grid)
	if energy, _, err := o.WritePlots(m.Name()+" "+ef.t.String()+" on "+set.Name, res, false); err != nil {
		return err
	} else if energy {
		fmt.Fprintf(e.stdout, "energy plot: %s\n", o.Energy)
	}
	return nil
}
