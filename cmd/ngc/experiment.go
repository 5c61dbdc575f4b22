package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/cmd/ngc/internal/experiment"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
)

func runExperiment(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "experiment", "--table 1|2a|2b[,...] [flags] --out DIR",
		"Reproduce the paper's comparisons: Table 1 (reconstruction and denoising MSE and SSIM),\n"+
			"Table 2a (PSNR) and Table 2b (out-of-distribution reconstruction: train on one data set,\n"+
			"reconstruct another's test images), with Figure 3 (original / corrupted / denoised by\n"+
			"each model) and Figure 4 (Conv-NGC's bottom state maps: the image pyramid).\n\n"+
			"Each trial trains one model on one data set with one seed (trial k: --seed + k - 1) and\n"+
			"evaluates it on the test images the tables need. A finished trial is stored under\n"+
			"DIR/trials with the fingerprint of its protocol: rerunning the same command recomputes\n"+
			"nothing, an interrupted run resumes, and a changed protocol (budget, seeds, settings)\n"+
			"never reuses a trial it did not make. Writes DIR/tables.md (mean ± std over trials),\n"+
			"DIR/trials.csv, DIR/trials.json, DIR/protocol.json, DIR/figure3.png, DIR/figure4.png.\n"+
			"Trained models are kept under DIR/models.")
	tables := fs.StringSlice("table", []string{"1"}, "tables to produce: 1, 2a, 2b (comma-separated, or all)")
	trials := fs.Int("trials", 5, "trials per model and data set (the paper: 5)")
	datasets := fs.StringSlice("datasets", []string{"color-mnist", "cifar10"}, "data sets of tables 1 and 2a (color-mnist, cifar10, svhn, cinic10, folder)")
	models := fs.StringSlice("models", []string{experiment.ConvNGC, experiment.ConvAE, experiment.ConvDAE, experiment.NGCFC},
		"models: conv-ngc, conv-ae, conv-dae, ngc-fc, pcn (ngc-fc with φ' in the correction)")
	pairs := fs.StringSlice("pairs", []string{"color-mnist:cifar10", "cifar10:color-mnist"}, "table 2b's FROM:TO pairs (train on FROM, reconstruct TO's test images)")
	paths := fs.StringToString("data", nil, "data set locations, DATASET=PATH,... (default: the MNIST module for color-mnist, $NGC_DATA_DIR/<dataset> otherwise)")
	epochs := fs.Int("epochs", 3, "training epochs of every model")
	modelEpochs := fs.StringToInt("model-epochs", nil, "epochs by model, MODEL=N,... (overrides --epochs; e.g. conv-ae=10,conv-dae=10)")
	maxImages := fs.Int("max-images", 10000, "training images per data set (0: all)")
	evalImages := fs.Int("eval-images", 1000, "test images per data set (0: all)")
	dataSeed := fs.Int64("data-seed", 1, "seed of the validation hold-out, image subsets and Color-MNIST colours")
	seed := fs.Uint64("seed", 1, "seed of trial 1 (initialisation, shuffling, noise); trial k uses seed+k-1")
	noise := fs.Float64("noise-std", 0.1, "standard deviation of the denoising noise, on [0,1] pixels")
	noClip := fs.Bool("no-clip", false, "do not clip noisy pixels to [0,1]")
	evalBatch := fs.Int("eval-batch", 0, "evaluation mini-batch (0: each model's training batch)")
	samples := fs.Int("samples", 4, "test images of trial 1 shown in the figures")
	steps := fs.Int("T", 60, "inference steps of Conv-NGC and NGC (stimulus window T)")
	channels := fs.IntSlice("channels", ngc.PaperChannels, "Conv-NGC maps per layer from the top down to the colour channels")
	ngcBatch := fs.Int("ngc-batch", 500, "Conv-NGC mini-batch")
	ngcLR := fs.Float64("ngc-lr", 0.001, "Conv-NGC Adam step size")
	aeLR := fs.Float64("ae-lr", 2e-5, "Conv-AE and Conv-DAE Adam step size (the paper: 2e-5; short budgets need ~1e-3)")
	aeBatch := fs.Int("ae-batch", 128, "Conv-AE and Conv-DAE mini-batch")
	aeMomentum := fs.Float64("ae-bn-momentum", 0.99, "Conv-AE and Conv-DAE batch-norm running-average momentum (short runs: 0.9)")
	aeLoss := fs.String("ae-loss", "bce", "Conv-AE and Conv-DAE training loss: bce or mse")
	fcLR := fs.Float64("fc-lr", 0.001, "NGC (fully connected) Adam step size")
	fcBatch := fs.Int("fc-batch", 500, "NGC (fully connected) mini-batch")
	trained := fs.StringToString("trained", nil, "already trained checkpoints, MODEL:DATASET=PATH,... (e.g. conv-ngc:cifar10=model.safetensors from a converged `ngc train` job): evaluated as that model's only trial instead of training it")
	out := fs.String("out", filepath.Join("runs", "experiment"), "directory of the trials, models and outputs (rerunning with the same directory reuses its trials)")
	quiet := fs.Bool("quiet", false, "no progress bar (one line per trial on stderr still)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(*tables) == 1 && (*tables)[0] == "all" {
		*tables = experiment.TableNames()
	}
	p := experiment.Protocol{
		Tables: *tables, Trials: *trials, Datasets: *datasets, Models: *models, Epochs: *epochs, ModelEpochs: *modelEpochs,
		MaxImages: *maxImages, EvalImages: *evalImages, DataSeed: *dataSeed, Seed: *seed,
		NoiseStd: *noise, NoClip: *noClip, EvalBatch: *evalBatch, Paths: *paths, Samples: *samples, Trained: *trained,
		ConvNGC: ngc.Config{Channels: *channels, Steps: *steps, Batch: *ngcBatch, LearningRate: *ngcLR},
		AE:      baselines.AEConfig{LearningRate: *aeLR, Batch: *aeBatch, BNMomentum: *aeMomentum, Loss: *aeLoss},
		FC:      baselines.NGCConfig{Steps: *steps, Batch: *fcBatch, LearningRate: *fcLR},
	}
	if err := checkRules("experiment",
		rule{"trials", *trials, *trials >= 1, "at least 1 trial"},
		rule{"epochs", *epochs, *epochs >= 1, "at least 1 epoch"},
		rule{"max-images", *maxImages, *maxImages >= 0, "0 (all) or more"},
		rule{"eval-images", *evalImages, *evalImages >= 0, "0 (all) or more"},
		rule{"noise-std", *noise, *noise > 0, "a positive standard deviation"},
		rule{"eval-batch", *evalBatch, *evalBatch >= 0, "0 (each model's) or more"},
		rule{"samples", *samples, *samples >= 1, "at least 1 image"},
		rule{"T", *steps, *steps >= 1, "at least 1 step"},
		rule{"ngc-batch", *ngcBatch, *ngcBatch >= 1, "at least 1 image"},
		rule{"ngc-lr", *ngcLR, *ngcLR > 0, "a positive learning rate"},
		rule{"ae-lr", *aeLR, *aeLR > 0, "a positive learning rate"},
		rule{"ae-batch", *aeBatch, *aeBatch >= 1, "at least 1 image"},
		rule{"ae-bn-momentum", *aeMomentum, *aeMomentum > 0 && *aeMomentum < 1, "a momentum in (0, 1)"},
		rule{"fc-lr", *fcLR, *fcLR > 0, "a positive learning rate"},
		rule{"fc-batch", *fcBatch, *fcBatch >= 1, "at least 1 image"},
	); err != nil {
		return err
	}
	if err := checkWritable(filepath.Join(*out, "protocol.json")); err != nil {
		return fmt.Errorf("experiment: --out: %w", err)
	}
	for _, s := range *pairs {
		pr, err := experiment.ParsePair(s)
		if err != nil {
			return err
		}
		p.Pairs = append(p.Pairs, pr)
	}
	if err := p.Validate(); err != nil {
		return err
	}

	var bar *report.Progress // nil (quiet) until the first event
	start := time.Now()
	events := func(ev experiment.Event) {
		switch ev.Stage {
		case "reuse", "done":
			bar.Clear()
			fmt.Fprintf(e.stderr, "[%d/%d %s] %s %s: %s\n", ev.Job, ev.Jobs, time.Since(start).Round(time.Second),
				ev.Name, map[string]string{"reuse": "reused", "done": "done"}[ev.Stage], ev.Message)
			bar.Set(ev.Job, ev.Name)
			return
		}
		if bar == nil && !*quiet {
			bar = report.NewProgress(e.stderr, false, ev.Jobs, "experiment")
		}
		d := ev.Name + " " + ev.Stage
		if ev.Stage == "eval" {
			d += " " + ev.Message
		}
		if ev.Total > 0 {
			d += fmt.Sprintf(" %d/%d", ev.Done, ev.Total)
		}
		bar.Set(ev.Job-1, d)
	}
	res, err := experiment.Run(ctx, p, experiment.Options{Dir: *out, Events: events})
	bar.Done()
	if err != nil {
		return err
	}
	md := experiment.Markdown(p, res.Trials)
	fmt.Fprint(e.stdout, md)
	fmt.Fprintf(e.stdout, "trials: %d (trained %d models, computed %d evaluations, reused %d stored trials) in %s\n",
		len(res.Trials), res.Trained, res.Evaluated, res.Reused, time.Since(start).Round(time.Second))
	if res.Ignored > 0 {
		fmt.Fprintf(e.stdout, "ignored %d stored trial files of other protocols in %s/trials\n", res.Ignored, *out)
	}
	fmt.Fprintf(e.stdout, "outputs in %s: %s\n", *out, strings.Join(res.Files, ", "))
	return nil
}
