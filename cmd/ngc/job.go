package main

// Running a training job for ngc train and ngc baseline train: the job
// from the flags, progress on stderr, where it stopped on stdout, the test
// evaluation and the final files (package ngc/training does the work).

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/training"
)

// run runs the job with progress on stderr (training.Job.ShowProgress)
// and reports where it stopped on stdout.
func (jf *jobFlags) run(ctx context.Context, e *env, cmd string, job *training.Job) (training.Result, error) {
	if err := job.WriteStart(e.stderr, jf.Out); err != nil {
		return training.Result{}, err
	}
	done := job.ShowProgress(e.stderr, jf.quiet)
	res, err := job.Run(ctx)
	done()
	if err != nil {
		switch {
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return res, fmt.Errorf("%s: %w; continue with: --resume --out %s", cmd, err, jf.Out)
		case errors.Is(err, ngc.ErrDiverged):
			return res, fmt.Errorf("%s: %w; %s and %s were not changed", cmd, err, jf.Out, job.Latest)
		}
		return res, fmt.Errorf("%s: %w", cmd, err)
	}
	return res, res.WriteText(e.stdout, job)
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
	if err := training.FilesFor(jf.Out).WriteResults(e.stdout, save, summary, eval); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}
