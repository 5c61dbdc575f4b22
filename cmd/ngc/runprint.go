package main

// What `ngc run` prints and writes: the metrics, the runtime's figures, the
// JSON report (partial after a failure) and the grid.

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
)

// finish prints the results and writes the report and the grid.
func (rf *runFlags) finish(e *env, args []string, dataset, busName, reportPath, saveTo string, rep *deploy.Report) error {
	printReport(e, dataset, rep.Result)
	printRuntime(e.stdout, rep.Runtime)
	if err := writeJSON(reportPath, rf.reportJSON(args, dataset, busName, rep, nil)); err != nil {
		return err
	}
	stem := strings.TrimSuffix(reportPath, filepath.Ext(reportPath))
	t, _ := parseTask(rf.task)
	if err := writeGrid(stem+".png", rep.Result, t == ngc.Denoise); err != nil {
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
	if err := writeJSON(reportPath, rf.reportJSON(args, dataset, rep.Runtime.Bus, rep, runErr)); err != nil {
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

// printRuntime writes the runtime's figures.
func printRuntime(w io.Writer, rt *deploy.Runtime) {
	fmt.Fprintf(w, "runtime (%s bus, %d nodes): %d images in %d mini-batches in %.2f s (%.1f img/s)\n",
		rt.Bus, rt.Nodes, rt.Images, rt.Batches, rt.Seconds, rt.ImagesPerSecond)
	wire := ""
	if rt.WireBytes > 0 {
		wire = fmt.Sprintf(", %s on the wire", deploy.HumanBytes(float64(rt.WireBytes)))
	}
	fmt.Fprintf(w, "  %d messages (%.0f msg/s), %s (%s/s)%s; %d deliveries, %d dropped, %d rejected\n",
		rt.Messages, rt.MessagesPerSecond, deploy.HumanBytes(float64(rt.Bytes)), deploy.HumanBytes(rt.BytesPerSecond), wire,
		rt.Deliveries, rt.Dropped, rt.Rejected)
	if rt.Resends > 0 {
		fmt.Fprintf(w, "  %d stalled mini-batches repaired by their senders sending again\n", rt.Resends)
	}
	for _, node := range sortedKeys(rt.RejectedBy) {
		fmt.Fprintf(w, "  node %s rejected frames: %s\n", node, joinCounts(rt.RejectedBy[node]))
	}
	if len(rt.PerActor) > 0 {
		lo, hi := ^uint64(0), uint64(0)
		var loName, hiName string
		for _, name := range sortedKeys(rt.PerActor) {
			c := rt.PerActor[name]
			if c.Msgs < lo {
				lo, loName = c.Msgs, name
			}
			if c.Msgs > hi {
				hi, hiName = c.Msgs, name
			}
		}
		fmt.Fprintf(w, "  %d actors sent %d (%s) to %d (%s) messages each\n", len(rt.PerActor), lo, loName, hi, hiName)
	}
	if a := rt.Async; a != nil {
		dropped := 0
		for _, n := range a.DroppedInputs {
			dropped += n
		}
		fmt.Fprintf(w, "  async (budget %d): input lag of state maps mean %.2f max %d, of error maps mean %.2f max %d; %d inputs came too late; %d of %d batches stopped by the wall clock\n",
			a.Budget, a.MeanStateLag, a.MaxStateLag, a.MeanErrorLag, a.MaxErrorLag, dropped, a.Stopped, rt.Batches)
	}
	for _, n := range sortedKeys(rt.PerNode) {
		c := rt.PerNode[n]
		fmt.Fprintf(w, "  node %s: %d messages, %s\n", n, c.Msgs, deploy.HumanBytes(float64(c.Bytes)))
	}
}

// joinCounts renders "k1 n1, k2 n2" in key order.
func joinCounts(m map[string]uint64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
