package training

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
)

// The job's text, as `ngc train` and `ngc baseline train` print it: what
// it is about to do, its progress, where it stopped and what it wrote.

// WriteStart prints what the job is about to do (Describe) and where it
// writes: the final model out, and as it goes the latest checkpoint and the
// curve.
func (j *Job) WriteStart(w io.Writer, out string) error {
	_, err := fmt.Fprintf(w, "%s\nwriting to %s: the final model %s, and as it goes %s and %s\n", j.Describe(),
		filepath.Dir(out), filepath.Base(out), filepath.Base(j.Latest), filepath.Base(j.Curve.CSV))
	return err
}

// ShowProgress sets the job's Progress to show it on w: a bar on a terminal
// (report.Progress); otherwise a line with the time of day at every
// validation and checkpoint and at most every report.LineEvery; nothing
// when quiet. Call done when the run ends.
func (j *Job) ShowProgress(w io.Writer, quiet bool) (done func()) {
	terminal := report.IsTerminal(w)
	bar := report.NewProgress(w, quiet || !terminal, max(j.Updates(), 1), "training")
	lastLine := time.Now()
	objective := j.Model.Objective()
	j.Progress = func(p Progress) {
		line := p.Describe(objective)
		bar.Set(p.Update, line)
		if quiet || terminal {
			return
		}
		if p.Validation != nil || p.Checkpointed || time.Since(lastLine) >= report.LineEvery {
			if p.Checkpointed {
				line += " (checkpoint)"
			}
			fmt.Fprintf(w, "%s %s\n", time.Now().Format("15:04:05"), line)
			lastLine = time.Now()
		}
	}
	return bar.Done
}

// WriteText prints where run r of job j stopped (Describe), the best
// validation when there was one, and where the checkpoint and the curve
// are.
func (r Result) WriteText(w io.Writer, j *Job) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, r.Describe(j))
	if s := j.State; s.BestUpdate > 0 {
		fmt.Fprintf(bw, "best validation MSE %.3f at update %d: %s\n", s.BestMSE, s.BestUpdate, j.Best)
	}
	fmt.Fprintf(bw, "checkpoint: %s\ncurve: %s, %s\n", j.Latest, j.Curve.CSV, j.Curve.PNG)
	return bw.Flush()
}

// WriteResults writes the final model and its report (WriteFinal) and,
// when eval is not nil, the grid of its test images (report.WriteGrid),
// and prints where they are.
func (f Files) WriteResults(w io.Writer, save func(path string) error, summary any, eval *ngc.EvalResult) error {
	if err := f.WriteFinal(save, summary); err != nil {
		return err
	}
	fmt.Fprintf(w, "model: %s\nmetrics: %s\n", f.Out, f.JSON)
	if eval != nil {
		if err := report.WriteGrid(f.Grid, *eval, false); err != nil {
			return err
		}
		fmt.Fprintf(w, "grid (inputs / reconstructions): %s\n", f.Grid)
	}
	return nil
}
