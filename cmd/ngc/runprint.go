package main

// What `ngc run` prints and writes: the metrics, the runtime's figures, the
// JSON report (partial after a failure) and the grid.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
)

// finish prints the results (beside the dense reference's, when there is
// one) and writes the report and the grid.
func (rf *runFlags) finish(e *env, args []string, dataset, busName, reportPath, saveTo string, rep, dense *deploy.Report) error {
	fmt.Fprintln(e.stdout, report.Summary(dataset, rep.Result))
	if err := rep.Runtime.WriteText(e.stdout); err != nil {
		return err
	}
	if dense != nil {
		if err := deploy.WriteComparison(e.stdout, deploy.CompareOf(dense), deploy.CompareOf(rep)); err != nil {
			return err
		}
	}
	for _, c := range rep.Curve {
		fmt.Fprintf(e.stdout, "validation after %d image-updates: MSE %.2f, PSNR %.2f\n", c.ImageUpdates, c.MSE, c.PSNR)
	}
	js := rf.reportJSON(args, dataset, busName, rep, nil)
	if dense != nil {
		js["dense"] = map[string]any{"comparison": deploy.CompareOf(dense), "result": dense.Result, "runtime": dense.Runtime, "curve": dense.Curve}
	}
	if err := report.WriteJSON(reportPath, js); err != nil {
		return err
	}
	stem := strings.TrimSuffix(reportPath, filepath.Ext(reportPath))
	t, _ := ngc.ParseTask(rf.task)
	if err := report.WriteGrid(stem+".png", rep.Result, t == ngc.Denoise); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\n", reportPath, stem+".png")
	if rf.learn {
		fmt.Fprintf(e.stdout, "model: %s\n", saveTo)
	}
	return nil
}

// writePartial writes the report of a failed run's completed mini-batches
// and says where it and the journal are.
func (rf *runFlags) writePartial(e *env, args []string, dataset, reportPath string, rep *deploy.Report, runErr error) {
	if rep == nil {
		return
	}
	if err := report.WriteJSON(reportPath, rf.reportJSON(args, dataset, rep.Runtime.Bus, rep, runErr)); err != nil {
		fmt.Fprintf(e.stderr, "run: partial report: %v\n", err)
		return
	}
	fmt.Fprintf(e.stderr, "run: failed after %d of %d mini-batches; partial report: %s\n", rep.Batches, rep.Of, reportPath)
	if rep.Journal != "" {
		fmt.Fprintf(e.stderr, "run: journal: %s (relaunch the workers, then the same command with --resume)\n", rep.Journal)
	}
}

// reportJSON is the JSON report.
func (rf *runFlags) reportJSON(args []string, dataset, busName string, rep *deploy.Report, runErr error) map[string]any {
	status, msg := "ok", ""
	if runErr != nil {
		status, msg = "failed", runErr.Error()
	}
	return map[string]any{
		"command": append([]string{"ngc", "run"}, args...), "model": rf.model, "dataset": dataset, "split": rf.split,
		"mode": rf.mode, "async": asyncFlags(rf.mode, rf.fire, rf.as), "bus": busName, "run": rf.runID, "placement": rep.Placement,
		"batch": rep.Batch, "steps": rep.Steps, "learn": rf.learn, "noise_std": rf.noise, "clip": !rf.noClip, "seed": rf.seed,
		"result": rep.Result, "runtime": rep.Runtime, "status": status, "error": msg, "batches_done": rep.Batches,
		"batches": rep.Of, "batches_resumed": rep.Resumed, "journal": rep.Journal,
		"encoding": rep.Runtime.Encoding, "comparison": deploy.CompareOf(rep), "curve": rep.Curve,
	}
}

// asyncFlags returns the async settings for the report (nil in sync mode).
func asyncFlags(mode, fire string, as deploy.AsyncSettings) any {
	if mode != deploy.ModeAsync {
		return nil
	}
	return map[string]any{"budget": as.Budget, "max_lag": as.MaxLag, "wall_clock": as.WallClock.String(),
		"delay": as.Delay.String(), "delay_jitter": as.DelayJitter.String(), "fire": fire}
}
