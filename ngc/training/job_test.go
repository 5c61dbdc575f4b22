package training

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/safetensors"
)

// smallSet returns n random images.
func smallSet(n int, seed uint64) *data.Set {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := &data.Set{Name: "random", Images: make([]float32, n*data.ImageSize), Labels: make([]int, n)}
	for i := range s.Images {
		s.Images[i] = rng.Float32()
	}
	return s
}

// smallModel is a one-layer network that trains in milliseconds.
func smallModel(t *testing.T, cfg ngc.Config) *ConvNGC {
	t.Helper()
	if cfg.Channels == nil {
		cfg.Channels = []int{4, 3}
	}
	if cfg.Steps == 0 {
		cfg.Steps = 4
	}
	if cfg.Batch == 0 {
		cfg.Batch = 6
	}
	m, err := ngc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &ConvNGC{Model: m}
}

// newJob returns a job over 20 training and 8 validation images, in dir.
func newJob(t *testing.T, m Learner, dir string) *Job {
	return &Job{
		Model: m, Train: smallSet(20, 1), Validation: smallSet(8, 2),
		State:  NewState(DataSpec{Dataset: "random", ValidationImages: 8}),
		Latest: filepath.Join(dir, "latest.safetensors"), Best: filepath.Join(dir, "best.safetensors"),
		Curve: &CurveFiles{CSV: filepath.Join(dir, "curve.csv"), PNG: filepath.Join(dir, "curve.png"), Title: "test", Objective: "energy"},
	}
}

// tensors returns a model's checkpoint tensors (weights and Adam state).
func tensors(t *testing.T, m Learner) []safetensors.Tensor {
	t.Helper()
	f, err := m.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	return f.Tensors
}

func sameTensors(t *testing.T, what string, a, b []safetensors.Tensor) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d and %d tensors", what, len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !slices.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("%s: tensor %s differs", what, a[i].Name)
		}
	}
}

// TestResumeIsBitIdentical: a job stopped by a budget, by cancellation or
// mid-epoch and resumed from its checkpoint ends with the model, curve and
// random stream of the uninterrupted job.
func TestResumeIsBitIdentical(t *testing.T) {
	const total = 11 // 3 updates an epoch: ends mid-epoch
	whole := newJob(t, smallModel(t, ngc.Config{}), t.TempDir())
	whole.MaxUpdates, whole.ValidateEvery = total, 2
	res, err := whole.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != StopUpdates || res.Updates != total || whole.State.Updates != total {
		t.Fatalf("uninterrupted job: %+v, state at %d updates", res, whole.State.Updates)
	}
	want := tensors(t, whole.Model)
	wantRNG, _ := whole.Model.(*ConvNGC).Model.RNGState()

	for _, stops := range [][]int{{1}, {4, 5}, {3, 6, 9}, {7}} {
		dir := t.TempDir()
		job := newJob(t, smallModel(t, ngc.Config{}), dir)
		job.ValidateEvery = 2
		for _, at := range stops {
			job.MaxUpdates = at
			if _, err := job.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			m, s, err := Resume(job.Latest, OpenConvNGC)
			if err != nil {
				t.Fatal(err)
			}
			if s.Updates != at || s.Stopped != StopUpdates {
				t.Fatalf("checkpoint at %d: state at %d, stopped %q", at, s.Updates, s.Stopped)
			}
			job.Model, job.State = m, s
		}
		job.MaxUpdates = total
		if _, err := job.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		sameTensors(t, "resumed", tensors(t, job.Model), want)
		if rng, _ := job.Model.(*ConvNGC).Model.RNGState(); !slices.Equal(rng, wantRNG) {
			t.Errorf("stops %v: random stream differs", stops)
		}
		for i, p := range job.State.Curve {
			q := whole.State.Curve[i]
			if p.Update != q.Update || p.Images != q.Images || p.Objective != q.Objective || p.Epoch != q.Epoch ||
				(p.Validation == nil) != (q.Validation == nil) || (p.Validation != nil && *p.Validation != *q.Validation) {
				t.Fatalf("stops %v: curve point %d: %+v, want %+v", stops, i, p, q)
			}
		}
		if job.State.BestUpdate != whole.State.BestUpdate || job.State.BestMSE != whole.State.BestMSE {
			t.Errorf("stops %v: best %d/%v, want %d/%v", stops, job.State.BestUpdate, job.State.BestMSE, whole.State.BestUpdate, whole.State.BestMSE)
		}
	}
}

// TestCancelWritesCheckpoint: a cancelled job writes its checkpoint and
// resumes to the uninterrupted model.
func TestCancelWritesCheckpoint(t *testing.T) {
	whole := newJob(t, smallModel(t, ngc.Config{}), t.TempDir())
	whole.MaxUpdates = 8
	if _, err := whole.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	job := newJob(t, smallModel(t, ngc.Config{}), dir)
	job.MaxUpdates = 8
	ctx, cancel := context.WithCancel(context.Background())
	job.Progress = func(p Progress) {
		if p.Update == 5 {
			cancel()
		}
	}
	_, err := job.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}
	m, s, err := Resume(job.Latest, OpenConvNGC)
	if err != nil {
		t.Fatal(err)
	}
	if s.Updates != 5 || s.Stopped != StopInterrupted {
		t.Fatalf("checkpoint after cancel: %d updates, stopped %q", s.Updates, s.Stopped)
	}
	job.Model, job.State, job.Progress = m, s, nil
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, "resumed after cancel", tensors(t, job.Model), tensors(t, whole.Model))
}

// TestDivergenceStopsAndKeepsCheckpoint: a diverging job names the update
// and the layer and leaves the last good checkpoint as it was.
func TestDivergenceStopsAndKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	job := newJob(t, smallModel(t, ngc.Config{Channels: []int{4, 5, 3}}), dir)
	job.MaxUpdates = 2
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(job.Latest)
	if err != nil {
		t.Fatal(err)
	}
	m, s, err := Resume(job.Latest, OpenConvNGC)
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.(*ConvNGC).Model.Config()
	cfg.Beta = 1e6
	retuned, err := m.(*ConvNGC).Model.Retune(cfg)
	if err != nil {
		t.Fatal(err)
	}
	job.Model = &ConvNGC{Model: retuned}
	job.State, job.MaxUpdates, job.CheckpointEvery = s, 10, 1
	_, err = job.Run(context.Background())
	if !errors.Is(err, ngc.ErrDiverged) {
		t.Fatalf("β = 1e6: %v, want a divergence", err)
	}
	t.Log(err)
	if got := err.Error(); !containsAll(got, "update 3", "layer") {
		t.Errorf("divergence error %q does not name the update and the layer", got)
	}
	after, err := os.ReadFile(job.Latest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Error("the diverged job rewrote the latest checkpoint")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestEarlyStopping: a model that cannot improve (learning rate 0) stops
// after Patience validations without improvement, and the patience count
// survives a resume.
func TestEarlyStopping(t *testing.T) {
	dir := t.TempDir()
	job := newJob(t, smallModel(t, ngc.Config{LearningRate: 1e-30}), dir)
	job.ValidateEvery, job.Patience = 1, 3
	job.MaxUpdates = 2
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if job.State.Stale != 1 {
		t.Fatalf("after 2 validations of an unchanging model: stale %d, want 1", job.State.Stale)
	}
	m, s, err := Resume(job.Latest, OpenConvNGC)
	if err != nil {
		t.Fatal(err)
	}
	job.Model, job.State, job.MaxUpdates = m, s, 100
	res, err := job.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != StopEarly || job.State.Updates != 4 {
		t.Fatalf("stopped %q after %d updates, want %q after 4", res.Stopped, job.State.Updates, StopEarly)
	}
	if job.State.BestUpdate != 1 {
		t.Errorf("best update %d, want 1 (no later one is better by any margin)", job.State.BestUpdate)
	}
	if _, err := os.Stat(job.Best); err != nil {
		t.Errorf("best checkpoint: %v", err)
	}
}

// TestCurveFiles: the CSV has a header and one row per update, with the
// validation columns filled where the job validated.
func TestCurveFiles(t *testing.T) {
	dir := t.TempDir()
	job := newJob(t, smallModel(t, ngc.Config{}), dir)
	job.Epochs = 2 // 3 updates an epoch, validated once an epoch
	res, err := job.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != StopEpochs || job.State.Updates != 6 || job.State.Epoch != 2 {
		t.Fatalf("2 epochs: %+v, state %d updates, epoch %d", res, job.State.Updates, job.State.Epoch)
	}
	f, err := os.Open(job.Curve.CSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 || !slices.Equal(rows[0], job.Curve.CSVHeader()) {
		t.Fatalf("curve CSV: %d rows, header %v", len(rows), rows[0])
	}
	for i, row := range rows[1:] {
		validated := row[5] != ""
		if validated != (i == 2 || i == 5) {
			t.Errorf("row %d: validation %q, want one at the end of every epoch", i+1, row[5])
		}
	}
	if st, err := os.Stat(job.Curve.PNG); err != nil || st.Size() < 1000 {
		t.Errorf("curve plot: %v", err)
	}
	if last := job.State.LastValidation(); last == nil || last.Update != 6 || math.IsNaN(last.Validation.MSE) {
		t.Errorf("last validation %+v", last)
	}
}

// TestTimeBudgetAndETA: MaxTime stops a run and Progress reports an ETA.
func TestTimeBudgetAndETA(t *testing.T) {
	job := newJob(t, smallModel(t, ngc.Config{}), t.TempDir())
	job.MaxTime = 50 * time.Millisecond
	var etas int
	job.Progress = func(p Progress) {
		if p.ETA >= 0 && p.ETA <= job.MaxTime {
			etas++
		}
	}
	res, err := job.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != StopTime || res.Updates == 0 || etas != res.Updates {
		t.Fatalf("time budget: %+v, %d ETAs within the budget", res, etas)
	}
}

func TestResumeRefusesPlainModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := smallModel(t, ngc.Config{}).Model.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Resume(path, OpenConvNGC); !errors.Is(err, ErrNotCheckpoint) {
		t.Fatalf("resume a plain model: %v", err)
	}
}

func TestJobChecks(t *testing.T) {
	m := smallModel(t, ngc.Config{})
	for name, j := range map[string]*Job{
		"no model":     {Train: smallSet(4, 1), State: NewState(DataSpec{})},
		"no images":    {Model: m, State: NewState(DataSpec{})},
		"no state":     {Model: m, Train: smallSet(4, 1)},
		"negative":     {Model: m, Train: smallSet(4, 1), State: NewState(DataSpec{}), Plan: Plan{Epochs: -1}},
		"improvement":  {Model: m, Train: smallSet(4, 1), State: NewState(DataSpec{}), Plan: Plan{MinImprovement: 2}},
		"other epochs": {Model: m, Train: smallSet(4, 1), State: &State{Offset: 10}},
	} {
		if _, err := j.Run(context.Background()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestBaselineJobResumes: a backprop baseline (a Conv-DAE, whose training
// noise is drawn per update) trains through a Job and resumes from its
// checkpoint to the uninterrupted model.
func TestBaselineJobResumes(t *testing.T) {
	newDAE := func() Learner {
		m, err := baselines.NewConvDAE(baselines.AEConfig{Maps: 4, Batch: 6, LearningRate: 1e-3})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	open := func(f *safetensors.File) (Learner, error) { return baselines.FromCheckpoint(f) }
	whole := newJob(t, newDAE(), t.TempDir())
	whole.MaxUpdates, whole.ValidateEvery = 7, 3
	if _, err := whole.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	job := newJob(t, newDAE(), t.TempDir())
	job.MaxUpdates, job.ValidateEvery = 4, 3
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, s, err := Resume(job.Latest, open)
	if err != nil {
		t.Fatal(err)
	}
	job.Model, job.State, job.MaxUpdates = m, s, 7
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, "resumed Conv-DAE", tensors(t, job.Model), tensors(t, whole.Model))
	if job.State.BestMSE != whole.State.BestMSE || job.State.BestUpdate != 6 && job.State.BestUpdate != 3 {
		t.Errorf("best %v at %d, want %v", job.State.BestMSE, job.State.BestUpdate, whole.State.BestMSE)
	}
}

// TestLearningRateDecay: a job that stops improving decays its learning
// rate every LRPatience validations, records it, and a resumed job goes on
// with the decayed rate (the checkpoint's config carries it).
func TestLearningRateDecay(t *testing.T) {
	dir := t.TempDir()
	job := newJob(t, smallModel(t, ngc.Config{LearningRate: 1e-30}), dir)
	job.ValidateEvery, job.LRDecay, job.LRPatience, job.MaxUpdates = 1, 0.5, 2, 5
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Validation 1 sets the best; 2-3 and 4-5 are two stale pairs.
	if got := job.State.Decays; len(got) != 2 || got[0].Update != 3 || got[1].Update != 5 || math.Abs(got[1].LearningRate-0.25e-30) > 1e-40 {
		t.Fatalf("decays %+v", got)
	}
	m, s, err := Resume(job.Latest, OpenConvNGC)
	if err != nil {
		t.Fatal(err)
	}
	if lr := m.LearningRate(); math.Abs(lr-0.25e-30) > 1e-40 || len(s.Decays) != 2 {
		t.Errorf("resumed at learning rate %v with %d decays", lr, len(s.Decays))
	}
	bad := newJob(t, smallModel(t, ngc.Config{}), t.TempDir())
	bad.LRDecay = 1.5
	if _, err := bad.Run(context.Background()); err == nil {
		t.Error("a decay factor of 1.5 was accepted")
	}
}
