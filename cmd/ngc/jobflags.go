package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/training"
)

// jobFlags are the flags of a long training job, shared by ngc train and
// ngc baseline train: budgets, validation, early stopping, checkpoints,
// resumption and outputs.
type jobFlags struct {
	epochs          int
	maxUpdates      int
	maxTime         time.Duration
	inOrder         bool
	resume          bool
	out             string
	evalImages      int
	valImages       int
	valEvery        int
	valTask         string
	patience        int
	minImprovement  float64
	checkpointEvery string
	quiet           bool
	lrDecay         float64
	lrPatience      int

	// defaultOut is the file name of the default --out, in a new folder
	// under runs/.
	defaultOut string

	// Parsed by check.
	ckptUpdates  int
	ckptInterval time.Duration
	task         ngc.Task
}

// jobHelp describes the job flags' behaviour for a command's --help.
const jobHelp = "Training is a job that can be left running: it validates on a fixed subset of the held-out\n" +
	"split, keeps the best model on validation beside the latest checkpoint, can stop early, and\n" +
	"resumes exactly where it stopped (--resume) after Ctrl-C, kill -9 or a machine stop, ending\n" +
	"with the same model, bit for bit, as an uninterrupted run. Beside --out (say model.safetensors)\n" +
	"it writes as it goes: model-latest.safetensors (the checkpoint: weights, optimiser state,\n" +
	"counters, data order, random stream, curve), model-best.safetensors, model-curve.csv and\n" +
	"model-curve.png (training objective and validation MSE, PSNR, SSIM against updates and\n" +
	"image-updates). When the job ends (a budget, early stopping) it writes --out (the final model),\n" +
	"model.json (metrics) and model.png (test inputs above their reconstructions); a diverging or\n" +
	"interrupted job leaves an existing --out and its JSON untouched."

func (jf *jobFlags) register(fs *pflag.FlagSet, defaultOut string) {
	fs.IntVar(&jf.epochs, "epochs", 3, "budget: passes over the training images, in all (0: no epoch budget); with no budget at all (--epochs, --max-updates, --max-time and --patience all 0) nothing trains and the model is saved as it is")
	fs.IntVar(&jf.maxUpdates, "max-updates", 0, "budget: mini-batch updates of the job in all, over every resumed run (0: no limit)")
	fs.DurationVar(&jf.maxTime, "max-time", 0, "budget: wall time of this run, e.g. 2h30m (0: no limit); the checkpoint is written when it is spent")
	fs.BoolVar(&jf.inOrder, "no-shuffle", false, "train on the images in their stored order every epoch (the order of `ngc run --learn`)")
	fs.BoolVar(&jf.resume, "resume", false, "continue the job whose checkpoint is <out>-latest.safetensors, on the data and with the plan (budgets, validation, patience, order) it recorded; plan flags given here replace the recorded ones")
	outHelp := "where to write the final model; the checkpoints, curve, metrics and pictures go beside it (default: runs/<date>-<time>/" + defaultOut + ", a folder git ignores)"
	jf.defaultOut = defaultOut
	fs.StringVar(&jf.out, "out", "", outHelp)
	fs.IntVar(&jf.valImages, "val-images", 1000, "size of the fixed validation subset of the held-out split (0: no validation, no early stopping)")
	fs.IntVar(&jf.valEvery, "val-every", 0, "updates between validations (0: once per epoch)")
	fs.StringVar(&jf.valTask, "val-task", "", "what validation measures: recon or denoise (default: denoise for conv-dae, recon otherwise)")
	fs.IntVar(&jf.patience, "patience", 0, "stop early after this many validations in a row without a --min-improvement of the validation MSE (0: never)")
	fs.Float64Var(&jf.minImprovement, "min-improvement", training.DefaultMinImprovement, "relative improvement of the validation MSE that resets the patience count")
	fs.Float64Var(&jf.lrDecay, "lr-decay", 0, "multiply the learning rate by this factor in (0, 1) whenever --lr-patience validations in a row have not lowered the best validation MSE (0: never)")
	fs.IntVar(&jf.lrPatience, "lr-patience", 2, "validations without a new best before the learning rate decays (with --lr-decay)")
	fs.StringVar(&jf.checkpointEvery, "checkpoint-every", "10m", "write the latest checkpoint every N updates (a number) or every interval of wall time (a duration such as 10m)")
	fs.IntVar(&jf.evalImages, "eval-images", 1000, "test images to evaluate after training (0: skip)")
	fs.BoolVar(&jf.quiet, "quiet", false, "no progress")
}

// check refuses bad values before any work starts and parses
// --checkpoint-every and --val-task (defaultTask when not given).
func (jf *jobFlags) check(cmd string, defaultTask ngc.Task) error {
	bad := func(format string, args ...any) error { return fmt.Errorf(cmd+": "+format, args...) }
	if jf.out == "" {
		if jf.resume {
			return bad("--resume needs the --out of the job to continue")
		}
		jf.out = filepath.Join("runs", time.Now().Format("20060102-150405"), jf.defaultOut)
	}
	if err := checkRules(cmd,
		rule{"epochs", jf.epochs, jf.epochs >= 0, wantNonNegative},
		rule{"max-updates", jf.maxUpdates, jf.maxUpdates >= 0, wantNonNegative},
		rule{"max-time", jf.maxTime, jf.maxTime >= 0, wantNonNegative},
		rule{"val-images", jf.valImages, jf.valImages >= 0, wantNonNegative},
		rule{"val-every", jf.valEvery, jf.valEvery >= 0, wantNonNegative},
		rule{"patience", jf.patience, jf.patience >= 0, wantNonNegative},
		rule{"min-improvement", jf.minImprovement, jf.minImprovement >= 0 && jf.minImprovement < 1, "a fraction in [0, 1)"},
		rule{"eval-images", jf.evalImages, jf.evalImages >= 0, wantNonNegative},
		rule{"lr-decay", jf.lrDecay, jf.lrDecay >= 0 && jf.lrDecay < 1, "a factor in (0, 1), or 0 for none"},
		rule{"lr-patience", jf.lrPatience, jf.lrPatience >= 1, "at least 1 validation"},
		rule{"lr-decay", jf.lrDecay, jf.lrDecay == 0 || jf.valImages > 0, "validation (--val-images > 0) to count from"},
		rule{"patience", jf.patience, jf.patience == 0 || jf.valImages > 0, "validation (--val-images > 0) to count from"},
	); err != nil {
		return err
	}
	jf.task = defaultTask
	if t, err := ngc.ParseTask(jf.valTask); err == nil {
		jf.task = t
	} else if jf.valTask != "" {
		return bad("--val-task %q: want recon or denoise", jf.valTask)
	}
	if n, err := strconv.Atoi(jf.checkpointEvery); err == nil {
		if n < 1 {
			return bad("--checkpoint-every %d: want at least 1 update, or a duration", n)
		}
		jf.ckptUpdates = n
	} else if d, err := time.ParseDuration(jf.checkpointEvery); err != nil || d <= 0 {
		return bad("--checkpoint-every %q: want a number of updates or a positive duration such as 10m", jf.checkpointEvery)
	} else {
		jf.ckptInterval = d
	}
	if err := checkWritable(jf.out); err != nil {
		return bad("--out: %w", err)
	}
	return nil
}

// checkWritable makes sure a file can be created in path's folder.
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

// dataFlagNames are the flags that choose the training data.
var dataFlagNames = []string{"dataset", "data", "max-images", "data-seed", "val-images"}

// spec returns the data the flags choose.
func (jf *jobFlags) spec(df *dataFlags) training.DataSpec {
	return training.DataSpec{Dataset: df.dataset, Path: df.path, MaxImages: df.maxImages, Seed: df.seed, ValidationImages: jf.valImages}
}

// resumeJob reads the job checkpoint beside --out and refuses data flags
// that differ from the data it recorded.
func (jf *jobFlags) resumeJob(e *env, fs *pflag.FlagSet, df *dataFlags, open training.Opener) (training.Learner, *training.State, error) {
	latest := training.FilesFor(jf.out).Latest
	m, state, err := training.Resume(latest, open)
	if err != nil {
		return nil, nil, err
	}
	given := jf.spec(df)
	for _, name := range dataFlagNames {
		if fs.Changed(name) && !sameData(name, given, state.Data) {
			return nil, nil, fmt.Errorf("--%s: the job trains on %s; its data cannot change on resume", name, state.Data)
		}
	}
	fmt.Fprintf(e.stderr, "resuming %s: update %d, epoch %d, %s trained\n", latest, state.Updates, state.Epoch+1,
		time.Duration(state.Seconds*float64(time.Second)).Round(time.Second))
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

// plan returns the job's plan: the flags' for a new job; for a resumed one
// the recorded plan, with the plan flags given on the command line instead.
func (jf *jobFlags) plan(fs *pflag.FlagSet, s *training.State) training.Plan {
	given := training.Plan{Epochs: jf.epochs, MaxUpdates: jf.maxUpdates, InOrder: jf.inOrder,
		ValidateEvery: jf.valEvery, Patience: jf.patience, MinImprovement: jf.minImprovement, ValidationTask: jf.task,
		LRDecay: jf.lrDecay, LRPatience: jf.lrPatience}
	if !jf.resume {
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
		{"val-task", func() { p.ValidationTask = given.ValidationTask }},
		{"patience", func() { p.Patience = given.Patience }},
		{"min-improvement", func() { p.MinImprovement = given.MinImprovement }},
		{"lr-decay", func() { p.LRDecay = given.LRDecay }},
		{"lr-patience", func() { p.LRPatience = given.LRPatience }},
	} {
		if fs.Changed(f.name) {
			f.set()
		}
	}
	return p
}

// hasBudget says whether the plan trains at all.
func (jf *jobFlags) hasBudget(p training.Plan) bool {
	return p.Epochs > 0 || p.MaxUpdates > 0 || p.Patience > 0 || jf.maxTime > 0
}

// newJob loads the job's data and assembles the job.
func (jf *jobFlags) newJob(ctx context.Context, m training.Learner, state *training.State, plan training.Plan, title string) (*training.Job, error) {
	train, val, err := state.Data.Load(ctx)
	if err != nil {
		return nil, err
	}
	f := training.FilesFor(jf.out)
	return &training.Job{
		Model: m, Train: train, Validation: val, State: state, Plan: plan, MaxTime: jf.maxTime,
		Latest: f.Latest, Best: f.Best, CheckpointEvery: jf.ckptUpdates, CheckpointInterval: jf.ckptInterval,
		Curve: &training.CurveFiles{CSV: f.CSV, PNG: f.Curve, Title: title + " on " + train.Name, Objective: m.Objective()},
	}, nil
}

// run runs the job with progress on stderr (a bar on a terminal, else a
// line at every validation and checkpoint and at most every report.LineEvery
// otherwise) and reports where it stopped on stdout.
func (jf *jobFlags) run(ctx context.Context, e *env, cmd string, job *training.Job) (training.Result, error) {
	s := job.State
	batch := min(job.Model.Batch(), job.Train.Len())
	perEpoch := max(job.Train.Len()/batch, 1)
	fmt.Fprintf(e.stderr, "training on %d images of %s, %d updates of %d an epoch; job at update %d (epoch %d); %s\n",
		job.Train.Len(), job.Train.Name, perEpoch, batch, s.Updates, s.Epoch+1, job.Plan.Describe(jf.maxTime))
	fmt.Fprintf(e.stderr, "writing to %s: the final model %s, and as it goes %s and %s\n",
		filepath.Dir(jf.out), filepath.Base(jf.out), filepath.Base(job.Latest), filepath.Base(job.Curve.CSV))
	total := job.MaxUpdates
	if job.Epochs > 0 && (total == 0 || job.Epochs*perEpoch < total) {
		total = job.Epochs * perEpoch
	}
	terminal := report.IsTerminal(e.stderr)
	bar := report.NewProgress(e.stderr, jf.quiet || !terminal, max(total, 1), "training")
	lastLine := time.Now()
	objective := job.Model.Objective()
	job.Progress = func(p training.Progress) {
		line := p.Describe(objective)
		bar.Set(p.Update, line)
		if jf.quiet || terminal {
			return
		}
		if p.Validation != nil || p.Checkpointed || time.Since(lastLine) >= report.LineEvery {
			if p.Checkpointed {
				line += " (checkpoint)"
			}
			fmt.Fprintf(e.stderr, "%s %s\n", time.Now().Format("15:04:05"), line)
			lastLine = time.Now()
		}
	}
	res, err := job.Run(ctx)
	bar.Done()
	if err != nil {
		switch {
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return res, fmt.Errorf("%s: %w; continue with: --resume --out %s", cmd, err, jf.out)
		case errors.Is(err, ngc.ErrDiverged):
			return res, fmt.Errorf("%s: %w; %s and %s were not changed", cmd, err, jf.out, job.Latest)
		}
		return res, fmt.Errorf("%s: %w", cmd, err)
	}
	last := s.Last()
	fmt.Fprintf(e.stdout, "stopped (%s) at update %d, epoch %.2f: %d updates this run in %s (%.0f img/s); final %s %.4g\n",
		res.Stopped, s.Updates, last.Epoch, res.Updates, time.Duration(res.Seconds*float64(time.Second)).Round(time.Second),
		float64(res.Images)/max(res.Seconds, 1e-9), objective, last.Objective)
	if s.BestUpdate > 0 {
		fmt.Fprintf(e.stdout, "best validation MSE %.3f at update %d: %s\n", s.BestMSE, s.BestUpdate, job.Best)
	}
	fmt.Fprintf(e.stdout, "checkpoint: %s\ncurve: %s, %s\n", job.Latest, job.Curve.CSV, job.Curve.PNG)
	return res, nil
}

// train runs the job's plan when it has a budget (note, when not empty,
// goes to stderr first), measures the test images and writes the final
// model (save) and its report (summary).
func (jf *jobFlags) train(ctx context.Context, e *env, fs *pflag.FlagSet, cmd, title, note string, l training.Learner,
	state *training.State, summary map[string]any, seed uint64, save func(path string) error) error {
	if plan := jf.plan(fs, state); jf.hasBudget(plan) {
		job, err := jf.newJob(ctx, l, state, plan, title)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if note != "" {
			fmt.Fprintln(e.stderr, note)
		}
		res, err := jf.run(ctx, e, cmd, job)
		if err != nil {
			return err
		}
		summary["train"] = state.Summary(res, l.Objective())
		summary["dataset"] = job.Train.Name
	} else {
		fmt.Fprintf(e.stdout, "no budget (--epochs, --max-updates, --max-time and --patience are 0): saved the model untrained\n")
	}
	eval, err := jf.evaluateTest(ctx, e, l, state.Data, seed, summary)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if err := jf.finish(e, save, summary, eval); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// evaluateTest measures reconstruction of the job's test images (none when
// --eval-images is 0).
func (jf *jobFlags) evaluateTest(ctx context.Context, e *env, m training.Learner, spec training.DataSpec, seed uint64, summary map[string]any) (*ngc.EvalResult, error) {
	if jf.evalImages == 0 {
		return nil, nil
	}
	test, err := spec.LoadTest(ctx, jf.evalImages)
	if err != nil {
		return nil, err
	}
	bar := report.NewProgress(e.stderr, jf.quiet, test.Len(), "evaluating")
	r, err := m.Evaluate(ctx, test, ngc.EvalOptions{Task: ngc.Reconstruct, Seed: seed, Keep: 10,
		Progress: func(d, _ int) { bar.Set(d, "") }})
	bar.Done()
	if err != nil {
		return nil, err
	}
	summary["eval"] = r
	summary["eval_dataset"] = test.Name
	fmt.Fprintln(e.stdout, report.Summary(test.Name, r))
	return &r, nil
}

// finish replaces the model at --out and its JSON report as one step
// (training.Files.WriteFinal) and writes the test grid.
func (jf *jobFlags) finish(e *env, save func(path string) error, summary map[string]any, eval *ngc.EvalResult) error {
	f := training.FilesFor(jf.out)
	if err := f.WriteFinal(save, summary); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "model: %s\nmetrics: %s\n", f.Out, f.JSON)
	if eval != nil {
		if err := report.WriteGrid(f.Grid, *eval, false); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "grid (inputs / reconstructions): %s\n", f.Grid)
	}
	return nil
}
