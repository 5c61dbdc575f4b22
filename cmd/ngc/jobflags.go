package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/training"
)

// jobFlags are the flags of a long training job, shared by ngc train and
// ngc baseline train: budgets, validation, early stopping, checkpoints,
// resumption and outputs. The plan's flags bind to training.Plan, the
// outputs' to training.Setup.
type jobFlags struct {
	training.Plan
	training.Setup
	resume          bool
	evalImages      int
	valImages       int
	valTask         string
	checkpointEvery string
	quiet           bool

	// defaultOut is the file name of the default --out, in a new folder
	// under runs/.
	defaultOut string
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
	p := &jf.Plan
	fs.IntVar(&p.Epochs, "epochs", 3, "budget: passes over the training images, in all (0: no epoch budget); with no budget at all (--epochs, --max-updates, --max-time and --patience all 0) nothing trains and the model is saved as it is")
	fs.IntVar(&p.MaxUpdates, "max-updates", 0, "budget: mini-batch updates of the job in all, over every resumed run (0: no limit)")
	fs.DurationVar(&jf.MaxTime, "max-time", 0, "budget: wall time of this run, e.g. 2h30m (0: no limit); the checkpoint is written when it is spent")
	fs.BoolVar(&p.InOrder, "no-shuffle", false, "train on the images in their stored order every epoch (the order of `ngc run --learn`)")
	fs.BoolVar(&jf.resume, "resume", false, "continue the job whose checkpoint is <out>-latest.safetensors, on the data and with the plan (budgets, validation, patience, order) it recorded; plan flags given here replace the recorded ones")
	outHelp := "where to write the final model; the checkpoints, curve, metrics and pictures go beside it (default: runs/<date>-<time>/" + defaultOut + ", a folder git ignores)"
	jf.defaultOut = defaultOut
	fs.StringVar(&jf.Out, "out", "", outHelp)
	fs.IntVar(&jf.valImages, "val-images", 1000, "size of the fixed validation subset of the held-out split (0: no validation, no early stopping)")
	fs.IntVar(&p.ValidateEvery, "val-every", 0, "updates between validations (0: once per epoch)")
	fs.StringVar(&jf.valTask, "val-task", "", "what validation measures: recon or denoise (default: denoise for conv-dae, recon otherwise)")
	fs.IntVar(&p.Patience, "patience", 0, "stop early after this many validations in a row without a --min-improvement of the validation MSE (0: never)")
	fs.Float64Var(&p.MinImprovement, "min-improvement", training.DefaultMinImprovement, "relative improvement of the validation MSE that resets the patience count")
	fs.Float64Var(&p.LRDecay, "lr-decay", 0, "multiply the learning rate by this factor in (0, 1) whenever --lr-patience validations in a row have not lowered the best validation MSE (0: never)")
	fs.IntVar(&p.LRPatience, "lr-patience", 2, "validations without a new best before the learning rate decays (with --lr-decay)")
	fs.StringVar(&jf.checkpointEvery, "checkpoint-every", "10m", "write the latest checkpoint every N updates (a number) or every interval of wall time (a duration such as 10m)")
	fs.IntVar(&jf.evalImages, "eval-images", 1000, "test images to evaluate after training (0: skip)")
	fs.BoolVar(&jf.quiet, "quiet", false, "no progress")
}

// check refuses bad values before any work starts and parses
// --checkpoint-every and --val-task (defaultTask when not given).
func (jf *jobFlags) check(cmd string, defaultTask ngc.Task) error {
	bad := func(format string, args ...any) error { return fmt.Errorf(cmd+": "+format, args...) }
	if jf.Out == "" {
		if jf.resume {
			return bad("--resume needs the --out of the job to continue")
		}
		jf.Out = filepath.Join("runs", time.Now().Format("20060102-150405"), jf.defaultOut)
	}
	p := &jf.Plan
	if err := checkRules(cmd,
		rule{"epochs", p.Epochs, p.Epochs >= 0, wantNonNegative},
		rule{"max-updates", p.MaxUpdates, p.MaxUpdates >= 0, wantNonNegative},
		rule{"max-time", jf.MaxTime, jf.MaxTime >= 0, wantNonNegative},
		rule{"val-images", jf.valImages, jf.valImages >= 0, wantNonNegative},
		rule{"val-every", p.ValidateEvery, p.ValidateEvery >= 0, wantNonNegative},
		rule{"patience", p.Patience, p.Patience >= 0, wantNonNegative},
		rule{"min-improvement", p.MinImprovement, p.MinImprovement >= 0 && p.MinImprovement < 1, "a fraction in [0, 1)"},
		rule{"eval-images", jf.evalImages, jf.evalImages >= 0, wantNonNegative},
		rule{"lr-decay", p.LRDecay, p.LRDecay >= 0 && p.LRDecay < 1, "a factor in (0, 1), or 0 for none"},
		rule{"lr-patience", p.LRPatience, p.LRPatience >= 1, "at least 1 validation"},
		rule{"lr-decay", p.LRDecay, p.LRDecay == 0 || jf.valImages > 0, "validation (--val-images > 0) to count from"},
		rule{"patience", p.Patience, p.Patience == 0 || jf.valImages > 0, "validation (--val-images > 0) to count from"},
	); err != nil {
		return err
	}
	p.ValidationTask = defaultTask
	if t, err := ngc.ParseTask(jf.valTask); err == nil {
		p.ValidationTask = t
	} else if jf.valTask != "" {
		return bad("--val-task %q: want recon or denoise", jf.valTask)
	}
	var err error
	if jf.CheckpointEvery, jf.CheckpointInterval, err = training.ParseCheckpointEvery(jf.checkpointEvery); err != nil {
		return bad("--%w", err)
	}
	if err := report.CheckWritable(jf.Out); err != nil {
		return bad("--out: %w", err)
	}
	return nil
}

// spec returns the data the flags choose.
func (jf *jobFlags) spec(df *dataFlags) training.DataSpec {
	return training.DataSpec{Dataset: df.dataset, Path: df.path, MaxImages: df.maxImages, Seed: df.seed, ValidationImages: jf.valImages}
}

// changed lists the names of the given flags that are settings (of
// training.PlanSettings, training.DataSettings or ngc.TunableSettings).
func changed(fs *pflag.FlagSet, settings []string) []string {
	var names []string
	for _, n := range settings {
		if fs.Changed(n) {
			names = append(names, n)
		}
	}
	return names
}

// resumeJob reads the job checkpoint beside --out and refuses data flags
// that differ from the data it recorded.
func (jf *jobFlags) resumeJob(e *env, fs *pflag.FlagSet, df *dataFlags, open training.Opener) (training.Learner, *training.State, error) {
	latest := training.FilesFor(jf.Out).Latest
	m, state, err := training.Resume(latest, open)
	if err != nil {
		return nil, nil, err
	}
	if name := jf.spec(df).Differs(state.Data, changed(fs, training.DataSettings())...); name != "" {
		return nil, nil, fmt.Errorf("--%s: the job trains on %s; its data cannot change on resume", name, state.Data)
	}
	fmt.Fprintf(e.stderr, "resuming %s: update %d, epoch %d, %s trained\n", latest, state.Updates, state.Epoch+1,
		time.Duration(state.Seconds*float64(time.Second)).Round(time.Second))
	return m, state, nil
}

// plan returns the job's plan: the flags' for a new job; for a resumed one
// the recorded plan, with the plan flags given on the command line instead.
func (jf *jobFlags) plan(fs *pflag.FlagSet, s *training.State) training.Plan {
	if !jf.resume {
		return jf.Plan
	}
	return s.Plan.Override(jf.Plan, changed(fs, training.PlanSettings())...)
}
