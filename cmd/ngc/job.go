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

// run runs the job with progress on stderr (a bar on a terminal, else a
// line at every validation and checkpoint and at most every report.LineEvery
// otherwise) and reports where it stopped on stdout.
func (jf *jobFlags) run(ctx context.Context, e *env, cmd string, job *training.Job) (training.Result, error) {
	fmt.Fprintln(e.stderr, job.Describe())
	fmt.Fprintf(e.stderr, "writing to %s: the final model %s, and as it goes %s and %s\n",
		filepath.Dir(jf.Out), filepath.Base(jf.Out), filepath.Base(job.Latest), filepath.Base(job.Curve.CSV))
	terminal := report.IsTerminal(e.stderr)
	bar := report.NewProgress(e.stderr, jf.quiet || !terminal, max(job.Updates(), 1), "training")
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
			return res, fmt.Errorf("%s: %w; continue with: --resume --out %s", cmd, err, jf.Out)
		case errors.Is(err, ngc.ErrDiverged):
			return res, fmt.Errorf("%s: %w; %s and %s were not changed", cmd, err, jf.Out, job.Latest)
		}
		return res, fmt.Errorf("%s: %w", cmd, err)
	}
	fmt.Fprintln(e.stdout, res.Describe(job))
	if s := job.State; s.BestUpdate > 0 {
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
	if plan := jf.plan(fs, state); plan.HasBudget(jf.MaxTime) {
		job, err := jf.NewJob(ctx, l, state, plan, title)
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
	var eval *ngc.EvalResult
	if jf.evalImages > 0 {
		bar := report.NewProgress(e.stderr, jf.quiet, 0, "evaluating")
		test, r, err := training.EvaluateTest(ctx, l, state.Data, jf.evalImages, seed, func(d, total int) { bar.SetTotal(total); bar.Set(d, "") })
		bar.Done()
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		summary["eval"], summary["eval_dataset"], eval = r, test.Name, &r
		fmt.Fprintln(e.stdout, report.Summary(test.Name, r))
	}
	if err := jf.finish(e, save, summary, eval); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// finish replaces the model at --out and its JSON report as one step
// (training.Files.WriteFinal) and writes the test grid.
func (jf *jobFlags) finish(e *env, save func(path string) error, summary map[string]any, eval *ngc.EvalResult) error {
	f := training.FilesFor(jf.Out)
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
