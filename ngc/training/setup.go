package training

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// Setup is where a job writes and when it checkpoints, as a command line
// gives it: the final model Out with every other file beside it (FilesFor),
// this run's wall-time budget, and the checkpoint schedule.
type Setup struct {
	Out                string
	MaxTime            time.Duration
	CheckpointEvery    int
	CheckpointInterval time.Duration
}

// NewJob loads the job's data (state.Data) and assembles the job of m
// that state and plan describe, writing beside s.Out; title names the
// model in the curve's title ("<title> on <data set>").
func (s Setup) NewJob(ctx context.Context, m Learner, state *State, plan Plan, title string) (*Job, error) {
	train, val, err := state.Data.Load(ctx)
	if err != nil {
		return nil, err
	}
	f := FilesFor(s.Out)
	return &Job{
		Model: m, Train: train, Validation: val, State: state, Plan: plan, MaxTime: s.MaxTime,
		Latest: f.Latest, Best: f.Best, CheckpointEvery: s.CheckpointEvery, CheckpointInterval: s.CheckpointInterval,
		Curve: &CurveFiles{CSV: f.CSV, PNG: f.Curve, Title: title + " on " + train.Name, Objective: m.Objective()},
	}, nil
}

// ParseCheckpointEvery reads a checkpoint schedule: a number of updates
// (at least 1), or a positive duration such as "10m".
func ParseCheckpointEvery(s string) (updates int, interval time.Duration, err error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return 0, 0, fmt.Errorf("checkpoint-every %d: want at least 1 update, or a duration", n)
		}
		return n, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("checkpoint-every %q: want a number of updates or a positive duration such as 10m", s)
	}
	return 0, d, nil
}

// HasBudget says whether a job with the plan and maxTime, this run's wall
// time, trains at all: with no budget and no patience it would run until
// stopped.
func (p Plan) HasBudget(maxTime time.Duration) bool {
	return p.Epochs > 0 || p.MaxUpdates > 0 || p.Patience > 0 || maxTime > 0
}

// planSettings are the plan's settings Override takes, by name.
func planSettings() []struct {
	name string
	copy func(dst *Plan, src Plan)
} {
	return []struct {
		name string
		copy func(dst *Plan, src Plan)
	}{
		{"epochs", func(d *Plan, s Plan) { d.Epochs = s.Epochs }},
		{"max-updates", func(d *Plan, s Plan) { d.MaxUpdates = s.MaxUpdates }},
		{"no-shuffle", func(d *Plan, s Plan) { d.InOrder = s.InOrder }},
		{"val-every", func(d *Plan, s Plan) { d.ValidateEvery = s.ValidateEvery }},
		{"val-task", func(d *Plan, s Plan) { d.ValidationTask = s.ValidationTask }},
		{"patience", func(d *Plan, s Plan) { d.Patience = s.Patience }},
		{"min-improvement", func(d *Plan, s Plan) { d.MinImprovement = s.MinImprovement }},
		{"lr-decay", func(d *Plan, s Plan) { d.LRDecay = s.LRDecay }},
		{"lr-patience", func(d *Plan, s Plan) { d.LRPatience = s.LRPatience }},
	}
}

// PlanSettings names the plan's settings by the names of the ngc command's
// flags: "epochs", "max-updates", "no-shuffle" (InOrder), "val-every",
// "val-task", "patience", "min-improvement", "lr-decay" and "lr-patience".
func PlanSettings() []string {
	var names []string
	for _, s := range planSettings() {
		names = append(names, s.name)
	}
	return names
}

// Override returns p, a resumed job's recorded plan, with the named
// settings (PlanSettings; other names are ignored) taken from given.
func (p Plan) Override(given Plan, names ...string) Plan {
	for _, s := range planSettings() {
		if slices.Contains(names, s.name) {
			s.copy(&p, given)
		}
	}
	return p
}

// DataSettings names the data spec's settings by the names of the ngc
// command's flags: "dataset", "data" (Path), "max-images", "data-seed" and
// "val-images" (ValidationImages).
func DataSettings() []string {
	return []string{"dataset", "data", "max-images", "data-seed", "val-images"}
}

// Differs returns the first of the named settings (DataSettings) in which
// o differs from s, or "" when they agree in all of them.
func (s DataSpec) Differs(o DataSpec, names ...string) string {
	same := map[string]bool{"dataset": s.Dataset == o.Dataset, "data": s.Path == o.Path, "max-images": s.MaxImages == o.MaxImages,
		"data-seed": s.Seed == o.Seed, "val-images": s.ValidationImages == o.ValidationImages}
	for _, n := range names {
		if eq, known := same[n]; known && !eq {
			return n
		}
	}
	return ""
}

// Updates returns the updates the job will have made when its nearest
// count budget (Epochs or MaxUpdates) is spent, or 0 with neither.
func (j *Job) Updates() int {
	total := j.MaxUpdates
	if perEpoch := j.updatesPerEpoch(); j.Epochs > 0 && (total == 0 || j.Epochs*perEpoch < total) {
		total = j.Epochs * perEpoch
	}
	return total
}

// Describe says what the job is about to do: "training on 10000 images of
// color-mnist, 20 updates of 500 an epoch; job at update 0 (epoch 1);
// budget: 3 epochs".
func (j *Job) Describe() string {
	s := j.State
	return fmt.Sprintf("training on %d images of %s, %d updates of %d an epoch; job at update %d (epoch %d); %s",
		j.Train.Len(), j.Train.Name, j.updatesPerEpoch(), j.batchSize(), s.Updates, s.Epoch+1, j.Plan.Describe(j.MaxTime))
}

// Describe says where run r of the job stopped: "stopped (epochs) at update
// 60, epoch 3.00: 60 updates this run in 1m2s (484 img/s); final energy
// 41.2".
func (r Result) Describe(j *Job) string {
	s := j.State
	last := s.Last()
	return fmt.Sprintf("stopped (%s) at update %d, epoch %.2f: %d updates this run in %s (%.0f img/s); final %s %.4g",
		r.Stopped, s.Updates, last.Epoch, r.Updates, time.Duration(r.Seconds*float64(time.Second)).Round(time.Second),
		float64(r.Images)/max(r.Seconds, 1e-9), j.Model.Objective(), last.Objective)
}

// EvaluateTest measures reconstruction of at most n test images of spec's
// data set (0: all) by m, the way a job's final report does: noise and
// initial states from seed, ten samples kept, progress (nil: none) after
// every mini-batch.
func EvaluateTest(ctx context.Context, m Learner, spec DataSpec, n int, seed uint64, progress func(done, total int)) (*data.Set, ngc.EvalResult, error) {
	test, err := spec.LoadTest(ctx, n)
	if err != nil {
		return nil, ngc.EvalResult{}, err
	}
	r, err := m.Evaluate(ctx, test, ngc.EvalOptions{Task: ngc.Reconstruct, Seed: seed, Keep: 10, Progress: progress})
	return test, r, err
}
