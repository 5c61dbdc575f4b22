package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/optim"
)

// ngcBinary is the command built once for the process tests.
var ngcBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ngc-cmd-test")
	if err != nil {
		panic(err)
	}
	ngcBinary = filepath.Join(dir, "ngc")
	if out, err := exec.Command("go", "build", "-o", ngcBinary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runNGC runs the built command in dir and returns stdout, stderr and the exit code.
func runNGC(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(ngcBinary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestHelpEverywhere(t *testing.T) {
	out, _, code := runNGC(t, t.TempDir(), "--help")
	if code != 0 || !strings.Contains(out, "train") || !strings.Contains(out, "inspect") {
		t.Fatalf("ngc --help: exit %d\n%s", code, out)
	}
	for name := range commands() {
		out, _, code := runNGC(t, t.TempDir(), name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: ngc "+name) || !strings.Contains(out, "Flags:") {
			t.Errorf("ngc %s --help: exit %d\n%s", name, code, out)
		}
	}
}

// TestErrorsAreOneLine: failures print one clear line and exit non-zero.
func TestErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte("not a model at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join("..", "..", "ngc", "testdata", "session2-color-mnist.safetensors")
	if abs, err := filepath.Abs(good); err == nil {
		good = abs
	}
	for _, args := range [][]string{
		{"frobnicate"},
		{"train", "--epochs"},
		{"eval", "--model", good, "--batch", "-5"},
		{"eval", "--model", good, "--T", "-1"},
		{"eval", "--model", good, "--noise-std", "NaN"},
		{"eval", "--model", good, "--beta", "0"},
		{"eval", "--model", good, "--clamp-steps", "0"},
		{"hwsim", "--model", good, "--T", "-1"},
		{"hwsim", "--model", good, "--value-bits", "40"},
		{"run", "--model", good, "--bus", "foo://x"},
		{"baseline", "train", "--lr", "NaN"},
		{"baseline", "eval", "--model", good, "--noise-std", "-1"},
		{"experiment", "--trials", "0"},
		{"experiment", "--ae-lr", "Inf"},
		{"bench", "--repeats", "0"},
		{"train", "--graph", bad},
		{"train", "--residual", "-1"},
		{"train", "--lr-decay", "2"},
		{"train", "--resume"},
		{"train", "--dataset", "nosuchset"},
		{"eval"},
		{"eval", "--model", bad},
		{"eval", "--model", filepath.Join(dir, "missing.safetensors")},
		{"inspect", "--channels", "3"},
		{"inspect", "extra"},
		{"inspect", "--against", bad},
		{"inspect", "--model", bad, "--against", bad},
		{"train", "--epochs", "-1"},
	} {
		_, stderr, code := runNGC(t, dir, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ngc: ") {
			t.Errorf("ngc %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestInspectPaperNetwork(t *testing.T) {
	out, _, code := runNGC(t, t.TempDir(), "inspect")
	if code != 0 || !strings.Contains(out, "9225 kernel weights + 63 biases") {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
}

// TestTrainEvalInspect runs the real commands on real Color-MNIST digits
// with a tiny budget, and checks every promised output file.
func TestTrainEvalInspect(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	out, stderr, code := runNGC(t, dir, "train", "--max-images", "200", "--epochs", "2", "--batch", "100", "--T", "10",
		"--channels", "4,6,8,3", "--eval-images", "50", "--quiet", "--out", "m.safetensors")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, f := range []string{"m.safetensors", "m.json", "m.png", "m-curve.png", "m-curve.csv", "m-latest.safetensors", "m-best.safetensors"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("train did not write %s: %v", f, err)
		}
	}
	var rep struct {
		Train struct {
			Updates int       `json:"updates"`
			Energy  []float64 `json:"energy_per_batch"`
		} `json:"train"`
		Eval struct {
			Report struct{ MSE float64 } `json:"metrics"`
		} `json:"eval"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "m.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Train.Updates != 4 || len(rep.Train.Energy) != 4 || rep.Eval.Report.MSE <= 0 {
		t.Errorf("train report: %+v", rep)
	}
	out, stderr, code = runNGC(t, dir, "eval", "--model", "m.safetensors", "--task", "denoise", "--max-images", "30", "--quiet")
	if code != 0 || !strings.Contains(out, "denoise on 30 images") {
		t.Fatalf("eval: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, f := range []string{"m-denoise.json", "m-denoise.png", "m-denoise-energy.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("eval did not write %s: %v", f, err)
		}
	}
	out, stderr, code = runNGC(t, dir, "eval", "--model", "m.safetensors", "--task", "denoise", "--max-images", "20", "--quiet",
		"--per-step", "--clamp-steps", "3", "--beta", "0.05", "--out", "steps.json")
	if code != 0 || !strings.Contains(out, "MSE after step 1") || !strings.Contains(stderr, "--beta 0.05") {
		t.Fatalf("eval --per-step: exit %d\n%s\n%s", code, out, stderr)
	}
	var steps struct {
		Clamp  int `json:"clamp_steps"`
		Config struct {
			Beta float64 `json:"beta"`
		} `json:"config"`
		Result struct {
			StepMSE []float64 `json:"mse_per_step"`
		} `json:"result"`
	}
	b, err = os.ReadFile(filepath.Join(dir, "steps.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &steps); err != nil {
		t.Fatal(err)
	}
	if steps.Clamp != 3 || steps.Config.Beta != 0.05 || len(steps.Result.StepMSE) != 10 {
		t.Errorf("eval --per-step report: clamp %d, beta %v, %d steps", steps.Clamp, steps.Config.Beta, len(steps.Result.StepMSE))
	}
	if _, err := os.Stat(filepath.Join(dir, "steps-steps.png")); err != nil {
		t.Errorf("eval --per-step wrote no plot: %v", err)
	}
	out, _, code = runNGC(t, dir, "inspect", "--model", "m.safetensors")
	if code != 0 || !strings.Contains(out, "[6 8 3 3]") {
		t.Errorf("inspect model: exit %d\n%s", code, out)
	}
}

func TestBenchSmall(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := runNGC(t, dir, "bench", "--batch", "20", "--T", "3", "--repeats", "1", "--json", "b.json")
	if code != 0 || !strings.Contains(out, "img/s") || !strings.Contains(out, "peak resident memory") {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.json")); err != nil {
		t.Error(err)
	}
}

// TestRunLearnMatchesTrain: training through the actor runtime (`ngc run
// --learn`, sync, in-process bus) and batched training (`ngc train
// --no-shuffle`) from the same initialised checkpoint, on the same images in
// the same order with the same seed, end with the same kernels and biases
// (float32 round-off: 1e-5) and Adam state. Continuing both from the
// batched checkpoint (the actors resume its Adam state) still agrees.
// Shuffled batched training ends elsewhere (checked, so that the comparison
// can fail).
func TestRunLearnMatchesTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model three times")
	}
	dir := t.TempDir()
	steps := []struct {
		name string
		args []string
	}{
		{"init", []string{"train", "--epochs", "0", "--channels", "4,6,8,3", "--batch", "10", "--T", "8",
			"--eval-images", "0", "--quiet", "--out", "init.safetensors"}},
		{"train", []string{"train", "--from", "init.safetensors", "--max-images", "40", "--epochs", "2", "--no-shuffle",
			"--eval-images", "0", "--quiet", "--out", "batched.safetensors"}},
		{"train shuffled", []string{"train", "--from", "init.safetensors", "--max-images", "40", "--epochs", "2",
			"--eval-images", "0", "--quiet", "--out", "shuffled.safetensors"}},
		{"run", []string{"run", "--model", "init.safetensors", "--split", "train", "--max-images", "40", "--learn",
			"--epochs", "2", "--quiet", "--save", "actors.safetensors", "--out", "actors.json"}},
		{"train resumed", []string{"train", "--from", "batched.safetensors", "--max-images", "40", "--epochs", "1", "--no-shuffle",
			"--eval-images", "0", "--quiet", "--out", "batched2.safetensors"}},
		{"run resumed", []string{"run", "--model", "batched.safetensors", "--split", "train", "--max-images", "40", "--learn",
			"--quiet", "--save", "actors2.safetensors", "--out", "actors2.json"}},
	}
	for _, s := range steps {
		if out, stderr, code := runNGC(t, dir, s.args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", s.name, code, out, stderr)
		}
	}
	out, stderr, code := runNGC(t, dir, "inspect", "--model", "actors.safetensors", "--against", "batched.safetensors")
	if code != 0 || !strings.Contains(out, "largest absolute differences") || strings.Count(out, "\n") != 5 {
		t.Errorf("inspect --against: exit %d\n%s\n%s", code, out, stderr)
	}
	load := func(name string) *ngc.Model {
		m, err := ngc.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	start, batched, shuffled := load("init.safetensors"), load("batched.safetensors"), load("shuffled.safetensors")
	for l := 1; l <= batched.Config().Layers(); l++ {
		if maxAbsDiff(batched.Synapses(l).W, start.Synapses(l).W) == 0 {
			t.Errorf("layer %d: batched training did not change W", l)
		}
		if d := maxAbsDiff(shuffled.Synapses(l).W, batched.Synapses(l).W); d < 1e-4 {
			t.Errorf("layer %d: shuffled and in-order training agree to %g", l, d)
		}
	}
	sameModels(t, "from init", load("actors.safetensors"), batched)
	sameModels(t, "resumed", load("actors2.safetensors"), load("batched2.safetensors"))
}

// sameModels checks that two models' kernels, biases and Adam state agree
// to 1e-5.
func sameModels(t *testing.T, what string, a, b *ngc.Model) {
	t.Helper()
	for l := 1; l <= b.Config().Layers(); l++ {
		sa, sb := a.Synapses(l), b.Synapses(l)
		aw, ab, _ := a.Optimizers(l)
		bw, bb, _ := b.Optimizers(l)
		ma, mb := aw.(*optim.Adam), bw.(*optim.Adam)
		va, vb := ab.(*optim.Adam), bb.(*optim.Adam)
		if ma.T != mb.T || ma.T == 0 {
			t.Errorf("%s, layer %d: Adam steps %d and %d", what, l, ma.T, mb.T)
		}
		for _, c := range []struct {
			name string
			x, y []float32
		}{{"W", sa.W, sb.W}, {"bias", sa.Bias, sb.Bias}, {"Adam m of W", ma.M, mb.M}, {"Adam v of W", ma.V, mb.V},
			{"Adam m of bias", va.M, vb.M}} {
			if d := maxAbsDiff(c.x, c.y); d > 1e-5 {
				t.Errorf("%s, layer %d: %s of the actor-trained model differs from the batched one by %g", what, l, c.name, d)
			}
		}
	}
}
