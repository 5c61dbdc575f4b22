package main

// What `ngc run` prints and writes: the metrics, the runtime's figures, the
// JSON report (partial after a failure) and the grid.

import (
	"fmt"

	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
)

// finish prints the results (beside the dense reference's, when there is
// one) and writes the report and the grid.
func (rf *runFlags) finish(e *env, args []string, dataset, reportPath, saveTo string, rep, dense *deploy.Report) error {
	if err := rep.WriteText(e.stdout, dataset, dense); err != nil {
		return err
	}
	o := report.OutputsFor(reportPath, "", "")
	if err := o.Write(rf.document(args, dataset, rep, nil, dense), rep.Result, rf.Task == ngc.Denoise); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\n", o.JSON, o.Grid)
	if rf.Learn {
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
	if err := report.WriteJSON(reportPath, rf.document(args, dataset, rep, runErr, nil)); err != nil {
		fmt.Fprintf(e.stderr, "run: partial report: %v\n", err)
		return
	}
	fmt.Fprintf(e.stderr, "run: failed after %d of %d mini-batches; partial report: %s\n", rep.Batches, rep.Of, reportPath)
	if rep.Journal != "" {
		fmt.Fprintf(e.stderr, "run: journal: %s (relaunch the workers, then the same command with --resume)\n", rep.Journal)
	}
}

// document is the JSON report (deploy.Report.Document) with the command,
// the model file, the data set and the split.
func (rf *runFlags) document(args []string, dataset string, rep *deploy.Report, runErr error, dense *deploy.Report) map[string]any {
	doc := rep.Document(rf.Settings, runErr, dense)
	doc["command"], doc["model"], doc["dataset"], doc["split"] = append([]string{"ngc", "run"}, args...), rf.model, dataset, rf.split
	return doc
}
