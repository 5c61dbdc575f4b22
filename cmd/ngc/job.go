package main

// Running a training job for ngc train and ngc baseline train: the job
// from the flags, progress on stderr, where it stopped on stdout, the test
// evaluation and the final files (package ngc/training does the work).

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/training"
)

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
