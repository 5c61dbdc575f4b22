package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
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
