package training

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/ngc"
)

func TestParseCheckpointEvery(t *testing.T) {
	for _, tc := range []struct {
		in       string
		updates  int
		interval time.Duration
		err      string
	}{
		{"10m", 0, 10 * time.Minute, ""},
		{"25", 25, 0, ""},
		{"1", 1, 0, ""},
		{"0", 0, 0, "checkpoint-every 0: want at least 1 update, or a duration"},
		{"-3", 0, 0, "checkpoint-every -3: want at least 1 update, or a duration"},
		{"-1s", 0, 0, `checkpoint-every "-1s": want a number of updates or a positive duration such as 10m`},
		{"often", 0, 0, `checkpoint-every "often": want a number of updates or a positive duration such as 10m`},
	} {
		u, d, err := ParseCheckpointEvery(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseCheckpointEvery(%q): %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u != tc.updates || d != tc.interval {
			t.Errorf("ParseCheckpointEvery(%q) = %d, %v, %v", tc.in, u, d, err)
		}
	}
}

// TestPlanOverride: a resumed job keeps its recorded plan but for the
// settings given again.
func TestPlanOverride(t *testing.T) {
	recorded := Plan{Epochs: 10, MaxUpdates: 500, ValidateEvery: 20, Patience: 3, MinImprovement: 0.01, LRDecay: 0.5, LRPatience: 2}
	given := Plan{Epochs: 3, InOrder: true, ValidateEvery: 5, ValidationTask: ngc.Denoise, Patience: 0, MinImprovement: 0.05, LRPatience: 4}
	for _, tc := range []struct {
		names []string
		want  Plan
	}{
		{nil, recorded},
		{[]string{"epochs"}, Plan{Epochs: 3, MaxUpdates: 500, ValidateEvery: 20, Patience: 3, MinImprovement: 0.01, LRDecay: 0.5, LRPatience: 2}},
		{[]string{"no-shuffle", "val-task", "patience", "unknown"},
			Plan{Epochs: 10, MaxUpdates: 500, InOrder: true, ValidateEvery: 20, ValidationTask: ngc.Denoise, MinImprovement: 0.01, LRDecay: 0.5, LRPatience: 2}},
		{PlanSettings(), given},
	} {
		if got := recorded.Override(given, tc.names...); got != tc.want {
			t.Errorf("Override(%v) = %+v, want %+v", tc.names, got, tc.want)
		}
	}
}

func TestHasBudget(t *testing.T) {
	for _, tc := range []struct {
		p       Plan
		maxTime time.Duration
		want    bool
	}{
		{Plan{}, 0, false},
		{Plan{ValidateEvery: 5, InOrder: true}, 0, false},
		{Plan{Epochs: 1}, 0, true},
		{Plan{MaxUpdates: 1}, 0, true},
		{Plan{Patience: 2}, 0, true},
		{Plan{}, time.Minute, true},
	} {
		if got := tc.p.HasBudget(tc.maxTime); got != tc.want {
			t.Errorf("%+v.HasBudget(%v) = %v", tc.p, tc.maxTime, got)
		}
	}
}

func TestDataSpecDiffers(t *testing.T) {
	a := DataSpec{Dataset: "cifar10", Path: "/d", MaxImages: 100, Seed: 1, ValidationImages: 10}
	for _, tc := range []struct {
		b     DataSpec
		names []string
		want  string
	}{
		{a, DataSettings(), ""},
		{DataSpec{Dataset: "svhn", Path: "/d", MaxImages: 100, Seed: 1, ValidationImages: 10}, DataSettings(), "dataset"},
		{DataSpec{Dataset: "svhn", Path: "/e", MaxImages: 100, Seed: 1, ValidationImages: 10}, []string{"data", "dataset"}, "data"},
		{DataSpec{Dataset: "cifar10", Path: "/d", MaxImages: 5, Seed: 2, ValidationImages: 0}, []string{"val-images", "data-seed"}, "val-images"},
		{DataSpec{Dataset: "cifar10", Path: "/d", MaxImages: 5, Seed: 1, ValidationImages: 10}, []string{"dataset", "data"}, ""},
		{DataSpec{Dataset: "cifar10", Path: "/d", MaxImages: 5, Seed: 1, ValidationImages: 10}, []string{"max-images"}, "max-images"},
	} {
		if got := a.Differs(tc.b, tc.names...); got != tc.want {
			t.Errorf("Differs(%+v, %v) = %q, want %q", tc.b, tc.names, got, tc.want)
		}
	}
}

// TestJobUpdatesAndDescribe: the nearest count budget in updates, and the
// lines that say what a job will do and where it stopped.
func TestJobUpdatesAndDescribe(t *testing.T) {
	j := newJob(t, smallModel(t, ngc.Config{}), t.TempDir()) // 20 images, batches of 6: 3 updates an epoch
	for _, tc := range []struct {
		epochs, maxUpdates, want int
	}{{0, 0, 0}, {2, 0, 6}, {0, 4, 4}, {2, 4, 4}, {1, 4, 3}} {
		j.Epochs, j.MaxUpdates = tc.epochs, tc.maxUpdates
		if got := j.Updates(); got != tc.want {
			t.Errorf("epochs %d, max updates %d: Updates() = %d, want %d", tc.epochs, tc.maxUpdates, got, tc.want)
		}
	}
	j.Epochs, j.MaxUpdates = 1, 0
	if got, want := j.Describe(), "training on 20 images of random, 3 updates of 6 an epoch; job at update 0 (epoch 1); budget: 1 epochs"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	res, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := res.Describe(j)
	if !strings.HasPrefix(got, "stopped (epochs) at update 3, epoch 1.00: 3 updates this run in ") || !strings.Contains(got, "final energy ") {
		t.Errorf("Result.Describe = %q", got)
	}
}

// TestSetupNewJobAndEvaluateTest: a job set up from its data spec loads its
// images and validation subset and writes beside Out; its model then
// measures the test images.
func TestSetupNewJobAndEvaluateTest(t *testing.T) {
	dir := t.TempDir()
	s := Setup{Out: filepath.Join(dir, "m.safetensors"), CheckpointEvery: 2}
	m := smallModel(t, ngc.Config{})
	spec := DataSpec{Dataset: "color-mnist", MaxImages: 12, Seed: 1, ValidationImages: 6}
	j, err := s.NewJob(context.Background(), m, NewState(spec), Plan{Epochs: 1}, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	f := FilesFor(s.Out)
	if j.Train.Len() != 12 || j.Validation.Len() != 6 || j.Latest != f.Latest || j.Best != f.Best || j.CheckpointEvery != 2 ||
		j.Curve.CSV != f.CSV || !strings.HasPrefix(j.Curve.Title, "tiny on ") {
		t.Errorf("job %d/%d images, files %q %q, curve %+v", j.Train.Len(), j.Validation.Len(), j.Latest, j.Best, j.Curve)
	}
	var calls int
	test, r, err := EvaluateTest(context.Background(), m, spec, 4, 1, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if test.Len() != 4 || r.Images != 4 || r.Task != ngc.Reconstruct.String() || calls == 0 || math.IsNaN(r.Report.MSE) {
		t.Errorf("EvaluateTest: %d images, result %d images %v, %d progress calls", test.Len(), r.Images, r.Task, calls)
	}
	if _, err := (Setup{Out: s.Out}).NewJob(context.Background(), m, NewState(DataSpec{Dataset: "nothing"}), Plan{}, "x"); err == nil {
		t.Error("NewJob on an unknown data set: no error")
	}
}
