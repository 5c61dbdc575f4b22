package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/baselines/experiment"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
)

const experimentDoc = "Reproduce the paper's comparisons: Table 1 (reconstruction and denoising MSE and SSIM),\n" +
	"Table 2a (PSNR) and Table 2b (out-of-distribution reconstruction: train on one data set,\n" +
	"reconstruct another's test images), with Figure 3 (original / corrupted / denoised by\n" +
	"each model) and Figure 4 (Conv-NGC's bottom state maps: the image pyramid).\n\n" +
	"Each trial trains one model on one data set with one seed (trial k: --seed + k - 1) and\n" +
	"evaluates it on the test images the tables need. A finished trial is stored under\n" +
	"DIR/trials with the fingerprint of its protocol: rerunning the same command recomputes\n" +
	"nothing, an interrupted run resumes, and a changed protocol (budget, seeds, settings)\n" +
	"never reuses a trial it did not make. Writes DIR/tables.md (mean ± std over trials),\n" +
	"DIR/trials.csv, DIR/trials.json, DIR/protocol.json, DIR/figure3.png, DIR/figure4.png.\n" +
	"Trained models are kept under DIR/models."

// experimentFlags are the flags of ngc experiment: the protocol's fields,
// table 2b's pairs, the output folder.
type experimentFlags struct {
	experiment.Protocol
	pairs []string
	out   string
	quiet bool
}

func (x *experimentFlags) register(fs *pflag.FlagSet) {
	p := &x.Protocol
	fs.StringSliceVar(&p.Tables, "table", []string{"1"}, "tables to produce: 1, 2a, 2b (comma-separated, or all)")
	fs.IntVar(&p.Trials, "trials", 5, "trials per model and data set (the paper: 5)")
	fs.StringSliceVar(&p.Datasets, "datasets", []string{"color-mnist", "cifar10"}, "data sets of tables 1 and 2a (color-mnist, cifar10, svhn, cinic10, folder)")
	fs.StringSliceVar(&p.Models, "models", []string{experiment.ConvNGC, experiment.ConvAE, experiment.ConvDAE, experiment.NGCFC},
		"models: conv-ngc, conv-ae, conv-dae, ngc-fc, pcn (ngc-fc with φ' in the correction)")
	fs.StringSliceVar(&x.pairs, "pairs", []string{"color-mnist:cifar10", "cifar10:color-mnist"}, "table 2b's FROM:TO pairs (train on FROM, reconstruct TO's test images)")
	fs.StringToStringVar(&p.Paths, "data", nil, "data set locations, DATASET=PATH,... (default: the MNIST module for color-mnist, $NGC_DATA_DIR/<dataset> otherwise)")
	fs.IntVar(&p.Epochs, "epochs", 3, "training epochs of every model")
	fs.StringToIntVar(&p.ModelEpochs, "model-epochs", nil, "epochs by model, MODEL=N,... (overrides --epochs; e.g. conv-ae=10,conv-dae=10)")
	fs.IntVar(&p.MaxImages, "max-images", 10000, "training images per data set (0: all)")
	fs.IntVar(&p.EvalImages, "eval-images", 1000, "test images per data set (0: all)")
	fs.Int64Var(&p.DataSeed, "data-seed", 1, "seed of the validation hold-out, image subsets and Color-MNIST colours")
	fs.Uint64Var(&p.Seed, "seed", 1, "seed of trial 1 (initialisation, shuffling, noise); trial k uses seed+k-1")
	fs.Float64Var(&p.NoiseStd, "noise-std", 0.1, "standard deviation of the denoising noise, on [0,1] pixels")
	fs.BoolVar(&p.NoClip, "no-clip", false, "do not clip noisy pixels to [0,1]")
	fs.IntVar(&p.EvalBatch, "eval-batch", 0, "evaluation mini-batch (0: each model's training batch)")
	fs.IntVar(&p.Samples, "samples", 4, "test images of trial 1 shown in the figures")
	fs.IntVar(&p.ConvNGC.Steps, "T", 60, "inference steps of Conv-NGC and NGC (stimulus window T)")
	fs.IntSliceVar(&p.ConvNGC.Channels, "channels", ngc.PaperChannels, "Conv-NGC maps per layer from the top down to the colour channels")
	fs.IntVar(&p.ConvNGC.Batch, "ngc-batch", 500, "Conv-NGC mini-batch")
	fs.Float64Var(&p.ConvNGC.LearningRate, "ngc-lr", 0.001, "Conv-NGC Adam step size")
	fs.Float64Var(&p.AE.LearningRate, "ae-lr", 2e-5, "Conv-AE and Conv-DAE Adam step size (the paper: 2e-5; short budgets need ~1e-3)")
	fs.IntVar(&p.AE.Batch, "ae-batch", 128, "Conv-AE and Conv-DAE mini-batch")
	fs.Float64Var(&p.AE.BNMomentum, "ae-bn-momentum", 0.99, "Conv-AE and Conv-DAE batch-norm running-average momentum (short runs: 0.9)")
	fs.StringVar(&p.AE.Loss, "ae-loss", "bce", "Conv-AE and Conv-DAE training loss: bce or mse")
	fs.Float64Var(&p.FC.LearningRate, "fc-lr", 0.001, "NGC (fully connected) Adam step size")
	fs.IntVar(&p.FC.Batch, "fc-batch", 500, "NGC (fully connected) mini-batch")
	fs.StringToStringVar(&p.Trained, "trained", nil, "already trained checkpoints, MODEL:DATASET=PATH,... (e.g. conv-ngc:cifar10=model.safetensors from a converged `ngc train` job): evaluated as that model's only trial instead of training it")
	fs.StringVar(&x.out, "out", filepath.Join("runs", "experiment"), "directory of the trials, models and outputs (rerunning with the same directory reuses its trials)")
	fs.BoolVar(&x.quiet, "quiet", false, "no progress bar (one line per trial on stderr still)")
}

// check refuses bad values with one line and completes the protocol.
func (x *experimentFlags) check() error {
	x.Protocol = x.Protocol.Complete()
	p := &x.Protocol
	if err := checkRules("experiment",
		rule{"trials", p.Trials, p.Trials >= 1, "at least 1 trial"},
		rule{"epochs", p.Epochs, p.Epochs >= 1, "at least 1 epoch"},
		rule{"max-images", p.MaxImages, p.MaxImages >= 0, "0 (all) or more"},
		rule{"eval-images", p.EvalImages, p.EvalImages >= 0, "0 (all) or more"},
		rule{"noise-std", p.NoiseStd, p.NoiseStd > 0, "a positive standard deviation"},
		rule{"eval-batch", p.EvalBatch, p.EvalBatch >= 0, "0 (each model's) or more"},
		rule{"samples", p.Samples, p.Samples >= 1, "at least 1 image"},
		rule{"T", p.ConvNGC.Steps, p.ConvNGC.Steps >= 1, "at least 1 step"},
		rule{"ngc-batch", p.ConvNGC.Batch, p.ConvNGC.Batch >= 1, "at least 1 image"},
		rule{"ngc-lr", p.ConvNGC.LearningRate, p.ConvNGC.LearningRate > 0, "a positive learning rate"},
		rule{"ae-lr", p.AE.LearningRate, p.AE.LearningRate > 0, "a positive learning rate"},
		rule{"ae-batch", p.AE.Batch, p.AE.Batch >= 1, "at least 1 image"},
		rule{"ae-bn-momentum", p.AE.BNMomentum, p.AE.BNMomentum > 0 && p.AE.BNMomentum < 1, "a momentum in (0, 1)"},
		rule{"fc-lr", p.FC.LearningRate, p.FC.LearningRate > 0, "a positive learning rate"},
		rule{"fc-batch", p.FC.Batch, p.FC.Batch >= 1, "at least 1 image"},
	); err != nil {
		return err
	}
	if err := report.CheckWritable(filepath.Join(x.out, "protocol.json")); err != nil {
		return fmt.Errorf("experiment: --out: %w", err)
	}
	pairs, err := experiment.ParsePairs(x.pairs)
	if err != nil {
		return err
	}
	p.Pairs = append(p.Pairs, pairs...)
	return p.Validate()
}

func runExperiment(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "experiment", "--table 1|2a|2b[,...] [flags] --out DIR", experimentDoc)
	var x experimentFlags
	x.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := x.check(); err != nil {
		return err
	}
	start := time.Now()
	v := experiment.NewView(e.stderr, x.quiet, start)
	res, err := experiment.Run(ctx, x.Protocol, experiment.Options{Dir: x.out, Events: v.Event})
	v.Done()
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, experiment.Markdown(x.Protocol, res.Trials))
	fmt.Fprint(e.stdout, res.Describe(x.out, time.Since(start)))
	return nil
}
