package study

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// tiny returns a small untrained model and n random images.
func tiny(t *testing.T, n int) (*ngc.Model, *data.Set) {
	t.Helper()
	m, err := ngc.New(ngc.Config{Channels: []int{2, 3, 3}, ImageSize: 32, Steps: 4, Batch: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	set := &data.Set{Name: "noise", Images: make([]float32, n*data.ImageSize), Labels: make([]int, n)}
	for i := range set.Images {
		set.Images[i] = rng.Float32()
	}
	return m, set
}

// TestRun: a study is reproducible from its seed, reports its progress to
// the end, keeps within the staleness bound, leaves the model alone, and
// its text and plots come out.
func TestRun(t *testing.T) {
	m, set := tiny(t, 5)
	targets, err := LoadTargets([]string{"loihi", "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.WithSteps(m.Config().Steps)
	if err != nil {
		t.Fatal(err)
	}
	var last Progress
	calls := 0
	opts := Options{Targets: targets, Batch: 2, MaxLag: 2, Jitter: 0.5, Seed: 7,
		Progress: func(p Progress) { last = p; calls++ }}
	var reps [2]*Report
	for i := range reps {
		if reps[i], err = Run(context.Background(), m, set, opts); err != nil {
			t.Fatal(err)
		}
	}
	r := reps[0]
	if r.Images != 4 || r.Batch != 2 || r.Budget != 4 || r.Reference == nil || !(r.Reference.InferenceEnergyPerImage > 0) {
		t.Fatalf("report: %+v", r)
	}
	if want := 2 * (2*2 + 1); last.Total != want || last.Done != want || calls < want {
		t.Errorf("progress: last %+v after %d calls, want %d of %d", last, calls, want, want)
	}
	for _, a := range r.Archs {
		if len(a.Runs) != 2 || a.Training == nil || a.Cores < 1 || a.ValueBits != 0 {
			t.Fatalf("%s: %+v", a.Arch, a)
		}
		if a.Runs[1].MaxStateLag > 2 || a.Runs[0].Counts.Barriers == 0 || a.Runs[1].Counts.Barriers != 0 {
			t.Errorf("%s: lag %d, barriers %d and %d", a.Arch, a.Runs[1].MaxStateLag, a.Runs[0].Counts.Barriers, a.Runs[1].Counts.Barriers)
		}
	}
	if !reflect.DeepEqual(reps[0].Archs, reps[1].Archs) {
		t.Error("two studies with the same seed differ")
	}
	for l := 1; l <= m.Config().Layers(); l++ {
		if !reflect.DeepEqual(m.Synapses(l).W, before.Synapses(l).W) {
			t.Errorf("layer %d: the study changed the model's kernels", l)
		}
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"14 populations", "cpu batched (measured)", "synaptic ops", "Notes:"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	dir := filepath.Join(t.TempDir(), "out")
	jsonPath, files, err := r.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(jsonPath); err != nil || st.Size() == 0 || jsonPath != filepath.Join(dir, "hwsim.json") {
		t.Errorf("report %s: %v", jsonPath, err)
	}
	if len(files) != 8 {
		t.Errorf("%d plots: %v", len(files), files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 || filepath.Dir(f) != dir {
			t.Errorf("plot %s: %v", f, err)
		}
	}
}

// TestRunQuantized: quantised messages take each architecture's width.
func TestRunQuantized(t *testing.T) {
	m, set := tiny(t, 2)
	targets, err := LoadTargets([]string{"loihi", "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), m, set, Options{Targets: targets, Modes: []hwsim.Dynamics{hwsim.SyncDynamics},
		Batch: 2, Quantize: true, ValueBits: 8, SkipReference: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Reference != nil || r.Archs[0].ValueBits != 5 || r.Archs[1].ValueBits != 8 || len(r.Archs[0].Runs) != 1 {
		t.Errorf("reference %v, value bits %d and %d, %d runs", r.Reference, r.Archs[0].ValueBits, r.Archs[1].ValueBits, len(r.Archs[0].Runs))
	}
}

// TestRunRefuses: bad options and inputs are errors, not panics.
func TestRunRefuses(t *testing.T) {
	m, set := tiny(t, 2)
	targets, err := LoadTargets([]string{"cpu"})
	if err != nil {
		t.Fatal(err)
	}
	wide, err := ngc.New(ngc.Config{Channels: []int{2, 1}, ImageSize: 32, Steps: 2, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ok := Options{Targets: targets, SkipReference: true}
	for name, c := range map[string]struct {
		m    *ngc.Model
		set  *data.Set
		opts func(o *Options)
	}{
		"no target":   {m, set, func(o *Options) { o.Targets = nil }},
		"nil arch":    {m, set, func(o *Options) { o.Targets = []Target{{Source: "x"}} }},
		"batch":       {m, set, func(o *Options) { o.Batch = -1 }},
		"budget":      {m, set, func(o *Options) { o.Budget = -1 }},
		"value bits":  {m, set, func(o *Options) { o.ValueBits = 1 }},
		"jitter":      {m, set, func(o *Options) { o.Jitter = -0.5 }},
		"dynamics":    {m, set, func(o *Options) { o.Modes = []hwsim.Dynamics{7} }},
		"no set":      {m, nil, func(*Options) {}},
		"empty set":   {m, &data.Set{Name: "empty"}, func(*Options) {}},
		"one channel": {wide, set, func(*Options) {}},
	} {
		o := ok
		c.opts(&o)
		if _, err := Run(context.Background(), c.m, c.set, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadTargets([]string{"nosuchchip"}); err == nil || !strings.HasPrefix(err.Error(), "nosuchchip: ") {
		t.Errorf("LoadTargets: %v", err)
	}
}

func TestParseJitter(t *testing.T) {
	for _, c := range []struct {
		in        string
		frac, sec float64
		ok        bool
	}{{"0.25", 0.25, 0, true}, {"0", 0, 0, true}, {"50ns", 0, 50e-9, true}, {"-1", 0, 0, false}, {"NaN", 0, 0, false},
		{"-5ns", 0, 0, false}, {"soon", 0, 0, false}} {
		f, s, err := ParseJitter(c.in)
		if (err == nil) != c.ok || f != c.frac || s != c.sec {
			t.Errorf("ParseJitter(%q) = %g, %g, %v", c.in, f, s, err)
		}
	}
}

func TestSI(t *testing.T) {
	for v, want := range map[float64]string{0: "0 J", 2.5e-9: "2.5 nJ", 1.5: "1.5 J", 3e-4: "300 µJ", 1e-15: "1e-15 J"} {
		if got := SI(v, "J"); got != want {
			t.Errorf("SI(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestParseModes(t *testing.T) {
	for s, want := range map[string][]hwsim.Dynamics{"sync": {hwsim.SyncDynamics}, "async": {hwsim.AsyncDynamics},
		"both": {hwsim.SyncDynamics, hwsim.AsyncDynamics}} {
		if got, err := ParseModes(s); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseModes(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseModes("sideways"); err == nil {
		t.Error("ParseModes(sideways): no error")
	}
}
