package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/training"
)

// trainFlags are the flags of ngc train beyond the model and data flags.
type trainFlags struct {
	epochs          int
	maxUpdates      int
	maxTime         time.Duration
	inOrder         bool
	from            string
	resume          bool
	out             string
	evalImages      int
	valImages       int
	valEvery        int
	patience        int
	minImprovement  float64
	checkpointEvery string
	quiet           bool
}

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "train", "[flags]",
		"Train a Conv-NGC model (inference with z[0] clamped, then the local Hebbian-like update, per\n"+
			"mini-batch), save it, and evaluate its reconstruction on test images. With no flags it\n"+
			"trains the paper network on 10,000 Color-MNIST digits for 3 epochs (a few minutes on 2 cores).\n\n"+
			"Training is a job that can be left running: it validates on a fixed subset of the held-out\n"+
			"split, keeps the best model on validation beside the latest checkpoint, can stop early, and\n"+
			"resumes exactly where it stopped (--resume) after Ctrl-C, kill -9 or a machine stop, ending\n"+
			"with the same model, bit for bit, as an uninterrupted run. Beside --out (say model.safetensors)\n"+
			"it writes as it goes: model-latest.safetensors (the checkpoint: weights, Adam state, counters,\n"+
			"data order, random stream, curve), model-best.safetensors, model-curve.csv and model-curve.png\n"+
			"(training energy and validation MSE, PSNR, SSIM against updates and image-updates). When the\n"+
			"job ends (a budget, early stopping) it writes --out (the final model), model.json (metrics)\n"+
			"and model.png (test inputs above their reconstructions); a diverging or interrupted job leaves\n"+
			"an existing --out and its JSON untouched.")
	var mf modelFlags
	var df dataFlags
	var tf trainFlags
	df.register(fs, 10000)
	fs.IntVar(&tf.epochs, "epochs", 3, "budget: passes over the training images, in all (0: no epoch budget; with no budget at all (--epochs, --max-updates, --max-time, --patience all 0) nothing trains and the model is saved as it is)")
	fs.IntVar(&tf.maxUpdates, "max-updates", 0, "budget: mini-batch updates of the job in all, over every resumed run (0: no limit)")
	fs.DurationVar(&tf.maxTime, "max-time", 0, "budget: wall time of this run, e.g. 2h30m (0: no limit); the checkpoint is written when it is spent")
	fs.BoolVar(&tf.inOrder, "no-shuffle", false, "train on the images in their stored order every epoch (the order of `ngc run --learn`)")
	mf.register(fs)
	fs.StringVar(&tf.from, "from", "", "start a new job from this trained model: training flags (--batch, --lr, --T, --beta, ...) given here apply and are printed; --channels, --untied, --optimizer and --init-std cannot change")
	fs.BoolVar(&tf.resume, "resume", false, "continue the job whose checkpoint is <out>-latest.safetensors, on the data and with the plan (budgets, validation, patience, order) it recorded; plan flags given here replace the recorded ones")
	fs.StringVar(&tf.out, "out", "model.safetensors", "where to write the final model; the checkpoints, curve, metrics and pictures go beside it")
	fs.IntVar(&tf.valImages, "val-images", 1000, "size of the fixed validation subset of the held-out split (0: no validation, no early stopping)")
	fs.IntVar(&tf.valEvery, "val-every", 0, "updates between validations (0: once per epoch)")
	fs.IntVar(&tf.patience, "patience", 0, "stop early after this many validations in a row without a --min-improvement (0: never)")
	fs.Float64Var(&tf.minImprovement, "min-improvement", training.DefaultMinImprovement, "relative improvement of the validation MSE that resets the patience count")
	fs.StringVar(&tf.checkpointEvery, "checkpoint-every", "10m", "write the latest checkpoint every N updates (a number) or every interval of wall time (a duration such as 10m)")
	fs.IntVar(&tf.evalImages, "eval-images", 1000, "test images to evaluate after training (0: skip)")
	fs.BoolVar(&tf.quiet, "quiet", false, "no progress")
	if err := parse(fs, args); err != nil {
		return err
	}
	ckptUpdates, ckptInterval, err := tf.check()
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(tf.out, filepath.Ext(tf.out))
	paths := trainPaths{out: tf.out, json: base + ".json", grid: base + ".png", latest: base + "-latest.safetensors",
		best: base + "-best.safetensors", csv: base + "-curve.csv", curve: base + "-curve.png"}
	if err := checkWritable(tf.out); err != nil {
		return fmt.Errorf("train: --out: %w", err)
	}

	m, state, err := startJob(e, fs, &mf, &df, &tf, paths)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	plan := tf.plan(fs, state)
	cfg := m.Config()
	report := map[string]any{"command": append([]string{"ngc", "train"}, args...), "config": cfg}
	spec := state.Data
	var res training.Result
	if plan.Epochs > 0 || plan.MaxUpdates > 0 || plan.Patience > 0 || tf.maxTime > 0 {
		job, err := newJob(ctx, m, state, plan, &tf, paths, ckptUpdates, ckptInterval)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		fmt.Fprintf(e.stderr, "training on %d images of %s, %d updates of %d an epoch, T=%d; job at update %d (epoch %d); %s\n",
			job.Train.Len(), job.Train.Name, job.Train.Len()/min(cfg.Batch, job.Train.Len()), min(cfg.Batch, job.Train.Len()),
			cfg.Steps, state.Updates, state.Epoch+1, describeBudget(plan, tf.maxTime))
		if res, err = runJob(ctx, e, job, &tf); err != nil {
			return err
		}
		report["train"] = trainSummary(state, res)
		report["dataset"] = job.Train.Name
		fmt.Fprintf(e.stdout, "stopped (%s) at update %d, epoch %.2f: %d updates this run in %s (%.0f img/s); final energy %.2f per image\n",
			res.Stopped, state.Updates, lastPoint(state).Epoch, res.Updates, time.Duration(res.Seconds*float64(time.Second)).Round(time.Second),
			float64(res.Images)/max(res.Seconds, 1e-9), lastPoint(state).Energy)
		if state.BestUpdate > 0 {
			fmt.Fprintf(e.stdout, "best validation MSE %.3f at update %d: %s\n", state.BestMSE, state.BestUpdate, paths.best)
		}
		fmt.Fprintf(e.stdout, "checkpoint: %s\ncurve: %s, %s\n", paths.latest, paths.csv, paths.curve)
	} else {
		fmt.Fprintf(e.stdout, "no budget (--epochs, --max-updates, --max-time and --patience are 0): saved the model untrained\n")
	}

	var eval *ngc.EvalResult
	if tf.evalImages > 0 {
		test, err := data.Load(ctx, data.Options{Dataset: spec.Dataset, Path: spec.Path, Split: data.Test, MaxImages: tf.evalImages, Seed: spec.Seed})
		if err != nil {
			return fmt.Errorf("train: test images: %w", err)
		}
		bar := newProgress(e, tf.quiet, test.Len(), "evaluating")
		r, err := m.Evaluate(ctx, test, ngc.EvalOptions{Task: ngc.Reconstruct, Seed: mf.seed, Keep: 10,
			Progress: func(d, _ int) { bar.set(d, "") }})
		bar.done()
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		eval = &r
		report["eval"] = r
		report["eval_dataset"] = test.Name
		printReport(e, test.Name, r)
	}
	if err := saveTogether(m, paths, report); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(e.stdout, "model: %s\nmetrics: %s\n", paths.out, paths.json)
	if eval != nil {
		if err := writeGrid(paths.grid, *eval, false); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "grid (inputs / reconstructions): %s\n", paths.grid)
	}
	return nil
}

// trainPaths are the files a training job writes.
type trainPaths struct {
	out, json, grid string // when the job ends
	latest, best    string // checkpoints, as it goes
	csv, curve      string // the learning curve, as it goes
}

// check refuses bad values before any work starts and parses
// --checkpoint-every.
func (tf *trainFlags) check() (updates int, interval time.Duration, err error) {
	switch {
	case tf.epochs < 0:
		return 0, 0, fmt.Errorf("train: --epochs %d: want 0 or more", tf.epochs)
	case tf.maxUpdates < 0:
		return 0, 0, fmt.Errorf("train: --max-updates %d: want 0 or more", tf.maxUpdates)
	case tf.maxTime < 0:
		return 0, 0, fmt.Errorf("train: --max-time %v: want 0 or more", tf.maxTime)
	case tf.valImages < 0:
		return 0, 0, fmt.Errorf("train: --val-images %d: want 0 or more", tf.valImages)
	case tf.valEvery < 0:
		return 0, 0, fmt.Errorf("train: --val-every %d: want 0 or more", tf.valEvery)
	case tf.patience < 0:
		return 0, 0, fmt.Errorf("train: --patience %d: want 0 or more", tf.patience)
	case !(tf.minImprovement >= 0 && tf.minImprovement < 1):
		return 0, 0, fmt.Errorf("train: --min-improvement %v: want a fraction in [0, 1)", tf.minImprovement)
	case tf.evalImages < 0:
		return 0, 0, fmt.Errorf("train: --eval-images %d: want 0 or more", tf.evalImages)
	case tf.resume && tf.from != "":
		return 0, 0, errors.New("train: --resume continues the job beside --out; --from starts a new one: give one of them")
	case tf.patience > 0 && tf.valImages == 0:
		return 0, 0, errors.New("train: --patience needs validation (--val-images > 0)")
	}
	if n, err := strconv.Atoi(tf.checkpointEvery); err == nil {
		if n < 1 {
			return 0, 0, fmt.Errorf("train: --checkpoint-every %d: want at least 1 update, or a duration", n)
		}
		return n, 0, nil
	}
	d, err := time.ParseDuration(tf.checkpointEvery)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("train: --checkpoint-every %q: want a number of updates or a positive duration such as 10m", tf.checkpointEvery)
	}
	return 0, d, nil
}

// checkWritable makes sure a file can be created at path's folder.
func checkWritable(path string) error {
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

// shapeFlags are the model flags that decide what the parameters are: they
// cannot change for a trained model.
var shapeFlags = []string{"channels", "untied", "optimizer", "init-std"}

// dataFlagNames are the flags that choose the training data.
var dataFlagNames = []string{"dataset", "data", "max-images", "data-seed", "val-images"}

// startJob returns the model and job state of a new job, a job started from
// a trained model (--from), or a resumed one (--resume), applying and
// printing the training flags given for a trained model.
func startJob(e *env, fs *pflag.FlagSet, mf *modelFlags, df *dataFlags, tf *trainFlags, p trainPaths) (*ngc.Model, *training.State, error) {
	spec := training.DataSpec{Dataset: df.dataset, Path: df.path, MaxImages: df.maxImages, Seed: df.seed, ValidationImages: tf.valImages}
	if !tf.resume && tf.from == "" {
		m, err := ngc.New(mf.config())
		if err != nil {
			return nil, nil, err
		}
		return m, training.NewState(spec), nil
	}
	for _, name := range shapeFlags {
		if fs.Changed(name) {
			return nil, nil, fmt.Errorf("--%s: a trained model's parameters keep their shape and kind; train a new model instead of using --from or --resume", name)
		}
	}
	var (
		m     *ngc.Model
		state *training.State
		err   error
	)
	if tf.resume {
		if m, state, err = training.Resume(p.latest); err != nil {
			return nil, nil, err
		}
		for _, name := range dataFlagNames {
			if fs.Changed(name) && !sameData(name, spec, state.Data) {
				return nil, nil, fmt.Errorf("--%s: the job trains on %s; its data cannot change on resume", name, describeData(state.Data))
			}
		}
		fmt.Fprintf(e.stderr, "resuming %s: update %d, epoch %d, %s trained\n", p.latest, state.Updates, state.Epoch+1,
			time.Duration(state.Seconds*float64(time.Second)).Round(time.Second))
	} else {
		if m, err = ngc.Load(tf.from); err != nil {
			return nil, nil, err
		}
		state = training.NewState(spec)
	}
	cfg, changes := overrides(fs, mf, m.Config())
	if len(changes) > 0 {
		if m, err = m.Retune(cfg); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(e.stderr, "training flags applied to the trained model: %s\n", strings.Join(changes, ", "))
	}
	return m, state, nil
}

// sameData says whether the data flag name has the same value in two specs.
func sameData(name string, a, b training.DataSpec) bool {
	switch name {
	case "dataset":
		return a.Dataset == b.Dataset
	case "data":
		return a.Path == b.Path
	case "max-images":
		return a.MaxImages == b.MaxImages
	case "data-seed":
		return a.Seed == b.Seed
	case "val-images":
		return a.ValidationImages == b.ValidationImages
	}
	return false
}

func describeData(s training.DataSpec) string {
	d := s.Dataset
	if s.Path != "" {
		d += " at " + s.Path
	}
	n := "all images"
	if s.MaxImages > 0 {
		n = fmt.Sprintf("%d images", s.MaxImages)
	}
	return fmt.Sprintf("%s (%s, data seed %d, %d validation images)", d, n, s.Seed, s.ValidationImages)
}

// overrides applies the model flags given on the command line to a trained
// model's config and lists the changes.
func overrides(fs *pflag.FlagSet, mf *modelFlags, c ngc.Config) (ngc.Config, []string) {
	var changes []string
	note := func(name string, was, now any) {
		if fmt.Sprint(was) != fmt.Sprint(now) {
			changes = append(changes, fmt.Sprintf("--%s %v (was %v)", name, now, was))
		}
	}
	given := mf.config()
	for _, f := range []struct {
		name string
		set  func()
	}{
		{"T", func() { note("T", c.Steps, given.Steps); c.Steps = given.Steps }},
		{"beta", func() { note("beta", c.Beta, given.Beta); c.Beta = given.Beta }},
		{"gamma", func() { note("gamma", *c.Gamma, *given.Gamma); c.Gamma = given.Gamma }},
		{"top-mean", func() { note("top-mean", *c.TopMean, *given.TopMean); c.TopMean = given.TopMean }},
		{"top-std", func() { note("top-std", *c.TopStd, *given.TopStd); c.TopStd = given.TopStd }},
		{"phi", func() { note("phi", c.Phi, given.Phi); c.Phi = given.Phi }},
		{"bottom-sigmoid", func() {
			note("bottom-sigmoid", c.BottomSigmoid, given.BottomSigmoid)
			c.BottomSigmoid = given.BottomSigmoid
		}},
		{"pcn", func() { note("pcn", c.PCN, given.PCN); c.PCN = given.PCN }},
		{"lambda", func() { note("lambda", c.Lambda, given.Lambda); c.Lambda = given.Lambda }},
		{"lr", func() { note("lr", c.LearningRate, given.LearningRate); c.LearningRate = given.LearningRate }},
		{"max-kernel-norm", func() {
			note("max-kernel-norm", c.MaxKernelNorm, given.MaxKernelNorm)
			c.MaxKernelNorm = given.MaxKernelNorm
		}},
		{"batch", func() { note("batch", c.Batch, given.Batch); c.Batch = given.Batch }},
		{"seed", func() { note("seed", c.Seed, given.Seed); c.Seed = given.Seed }},
	} {
		if fs.Changed(f.name) {
			f.set()
		}
	}
	return c, changes
}

// plan returns the job's plan: the flags' for a new job; for a resumed one
// the recorded plan, with the plan flags given on the command line instead.
func (tf *trainFlags) plan(fs *pflag.FlagSet, s *training.State) training.Plan {
	given := training.Plan{Epochs: tf.epochs, MaxUpdates: tf.maxUpdates, InOrder: tf.inOrder,
		ValidateEvery: tf.valEvery, Patience: tf.patience, MinImprovement: tf.minImprovement}
	if !tf.resume {
		return given
	}
	p := s.Plan
	for _, f := range []struct {
		name string
		set  func()
	}{
		{"epochs", func() { p.Epochs = given.Epochs }},
		{"max-updates", func() { p.MaxUpdates = given.MaxUpdates }},
		{"no-shuffle", func() { p.InOrder = given.InOrder }},
		{"val-every", func() { p.ValidateEvery = given.ValidateEvery }},
		{"patience", func() { p.Patience = given.Patience }},
		{"min-improvement", func() { p.MinImprovement = given.MinImprovement }},
	} {
		if fs.Changed(f.name) {
			f.set()
		}
	}
	return p
}

// newJob loads the job's data and assembles it.
func newJob(ctx context.Context, m *ngc.Model, state *training.State, plan training.Plan, tf *trainFlags, p trainPaths,
	ckptUpdates int, ckptInterval time.Duration) (*training.Job, error) {
	spec := state.Data
	opts := data.Options{Dataset: spec.Dataset, Path: spec.Path, MaxImages: spec.MaxImages, Seed: spec.Seed}
	opts.Split = data.Train
	train, err := data.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	var val *data.Set
	if spec.ValidationImages > 0 {
		if val, err = data.Load(ctx, data.Options{Dataset: spec.Dataset, Path: spec.Path, Split: data.Validation,
			MaxImages: spec.ValidationImages, Seed: spec.Seed}); err != nil {
			return nil, fmt.Errorf("validation images: %w", err)
		}
	}
	title := fmt.Sprintf("Conv-NGC on %s", train.Name)
	return &training.Job{
		Model: m, Train: train, Validation: val, State: state, Plan: plan, MaxTime: tf.maxTime,
		Latest: p.latest, Best: p.best, CheckpointEvery: ckptUpdates, CheckpointInterval: ckptInterval,
		Curve: &training.CurveFiles{CSV: p.csv, PNG: p.curve, Title: title},
	}, nil
}

// runJob runs the job with progress on stderr: a bar on a terminal, else a
// line at every validation and at most every lineEvery otherwise.
func runJob(ctx context.Context, e *env, job *training.Job, tf *trainFlags) (training.Result, error) {
	total := job.MaxUpdates
	if job.Epochs > 0 {
		perEpoch := max(job.Train.Len()/min(job.Model.Config().Batch, job.Train.Len()), 1)
		if total == 0 || job.Epochs*perEpoch < total {
			total = job.Epochs * perEpoch
		}
	}
	bar := newProgress(e, tf.quiet || !isTerminal(e.stderr), max(total, 1), "training")
	lastLine := time.Now()
	job.Progress = func(p training.Progress) {
		line := fmt.Sprintf("update %d epoch %d (%d/%d) energy %.2f", p.Update, p.Epoch, p.Done, p.PerEpoch, p.Energy)
		if p.Validation != nil {
			line += fmt.Sprintf(" val MSE %.3f PSNR %.2f SSIM %.4f", p.Validation.MSE, p.Validation.PSNR, p.Validation.SSIM)
		}
		if !math.IsInf(p.Best, 1) {
			line += fmt.Sprintf(" best %.3f", p.Best)
		}
		line += fmt.Sprintf(" %.0f img/s", p.ImagesPerSecond)
		if p.ETA >= 0 {
			line += " ETA " + p.ETA.Round(time.Second).String()
		}
		bar.set(p.Update, line)
		if tf.quiet || isTerminal(e.stderr) {
			return
		}
		if p.Validation != nil || p.Checkpointed || time.Since(lastLine) >= lineEvery {
			if p.Checkpointed {
				line += " (checkpoint)"
			}
			fmt.Fprintf(e.stderr, "%s %s\n", time.Now().Format("15:04:05"), line)
			lastLine = time.Now()
		}
	}
	res, err := job.Run(ctx)
	bar.done()
	if err != nil {
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			return res, fmt.Errorf("train: %w; continue with: ngc train --resume --out %s", err, tf.out)
		}
		if errors.Is(err, ngc.ErrDiverged) {
			return res, fmt.Errorf("train: %w; %s and %s were not changed", err, tf.out, job.Latest)
		}
		return res, fmt.Errorf("train: %w", err)
	}
	return res, nil
}

func describeBudget(p training.Plan, maxTime time.Duration) string {
	var parts []string
	if p.Epochs > 0 {
		parts = append(parts, fmt.Sprintf("%d epochs", p.Epochs))
	}
	if p.MaxUpdates > 0 {
		parts = append(parts, fmt.Sprintf("%d updates", p.MaxUpdates))
	}
	if maxTime > 0 {
		parts = append(parts, maxTime.String()+" this run")
	}
	if p.Patience > 0 {
		parts = append(parts, fmt.Sprintf("early stop after %d validations under %.1f%% improvement", p.Patience, 100*p.MinImprovement))
	}
	if len(parts) == 0 {
		return "no budget"
	}
	return "budget: " + strings.Join(parts, ", ")
}

func lastPoint(s *training.State) training.Point {
	if len(s.Curve) == 0 {
		return training.Point{}
	}
	return s.Curve[len(s.Curve)-1]
}

// trainSummary is the training part of the JSON report.
func trainSummary(s *training.State, r training.Result) map[string]any {
	energy := make([]float64, len(s.Curve))
	for i, p := range s.Curve {
		energy[i] = p.Energy
	}
	return map[string]any{"energy_per_batch": energy,
		"stopped": r.Stopped, "updates": s.Updates, "image_updates": s.Images, "epochs": lastPoint(s).Epoch,
		"seconds": s.Seconds, "run_updates": r.Updates, "run_seconds": r.Seconds,
		"best_update": s.BestUpdate, "best_validation_mse": finiteOrNil(s.BestMSE),
		"final_energy": lastPoint(s).Energy, "last_validation": s.LastValidation(),
	}
}

func finiteOrNil(v float64) any {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return v
}

// saveTogether replaces the model at p.out and its JSON report as one step:
// both are written to temporary files first, then renamed, so a failure
// leaves the old pair.
func saveTogether(m *ngc.Model, p trainPaths, report map[string]any) error {
	b, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", p.json, err)
	}
	dir := filepath.Dir(p.out)
	tmpModel := filepath.Join(dir, "."+filepath.Base(p.out)+".new")
	tmpJSON := filepath.Join(dir, "."+filepath.Base(p.json)+".new")
	if err := m.Save(tmpModel); err != nil {
		return err
	}
	if err := os.WriteFile(tmpJSON, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmpModel)
		return fmt.Errorf("write %s: %w", p.json, err)
	}
	if err := os.Rename(tmpModel, p.out); err != nil {
		os.Remove(tmpModel)
		os.Remove(tmpJSON)
		return err
	}
	return os.Rename(tmpJSON, p.json)
}
