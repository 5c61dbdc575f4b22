package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc"
)

// TestDynamicsFlags: ngc run and ngc hwsim take the model-dynamics flags of
// ngc eval (--T, --beta, --gamma, --top-mean, --top-std), apply them to the
// model and say so; sync actors with the flags reconstruct as the batched
// reference with the same flags; --T 0 keeps the model's T in run and
// hwsim, and values no network runs with are refused in one line.
func TestDynamicsFlags(t *testing.T) {
	dir := t.TempDir()
	m, err := ngc.New(ngc.Config{Channels: []int{2, 3, 3}, ImageSize: 32, Steps: 4, Batch: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "tiny.safetensors")
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	dyn := []string{"--T", "3", "--beta", "0.05", "--gamma", "0.01", "--top-mean", "0.4", "--top-std", "0"}
	common := []string{"--model", model, "--max-images", "4", "--batch", "2", "--quiet"}
	type report struct {
		Result struct {
			Metrics struct{ MSE float64 } `json:"metrics"`
		} `json:"result"`
		Steps int `json:"steps"`
	}
	var mse [2]float64
	for i, cmd := range []string{"eval", "run"} {
		out := filepath.Join(dir, cmd+".json")
		stdout, stderr, code := runNGC(t, dir, append(append([]string{cmd, "--out", out}, common...), dyn...)...)
		if code != 0 || !strings.Contains(stderr, "dynamics flags applied to the model: --T 3 --beta 0.05 --gamma 0.01 --top-mean 0.4 --top-std 0") {
			t.Fatalf("%s: exit %d\n%s\n%s", cmd, code, stdout, stderr)
		}
		var r report
		readJSON(t, out, &r)
		mse[i] = r.Result.Metrics.MSE
		if cmd == "run" && r.Steps != 3 {
			t.Errorf("run report: T %d, want 3", r.Steps)
		}
	}
	if !(mse[0] > 0) || math.Abs(mse[0]-mse[1]) > 1e-4*mse[0] {
		t.Errorf("MSE batched %g, actors %g with the same dynamics flags", mse[0], mse[1])
	}
	stdout, stderr, code := runNGC(t, dir, append([]string{"hwsim", "--arch", "cpu", "--mode", "sync", "--out", "hw"}, append(common, dyn...)...)...)
	if code != 0 || !strings.Contains(stderr, "--beta 0.05") || !strings.Contains(stdout, "T=3") {
		t.Fatalf("hwsim: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = runNGC(t, dir, append([]string{"run", "--T", "0", "--out", "zero.json"}, common...)...)
	var r report
	if readJSON(t, filepath.Join(dir, "zero.json"), &r); code != 0 || r.Steps != 4 || strings.Contains(stderr, "dynamics flags") {
		t.Errorf("run --T 0: exit %d, T %d\n%s\n%s", code, r.Steps, stdout, stderr)
	}
	for _, bad := range [][]string{
		{"run", "--model", model, "--beta", "0"},
		{"run", "--model", model, "--top-std", "-1"},
		{"hwsim", "--model", model, "--gamma", "NaN"},
		{"hwsim", "--model", model, "--beta", "-0.1"},
	} {
		_, stderr, code := runNGC(t, dir, bad...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ngc: "+bad[0]+": --") {
			t.Errorf("%v: exit %d, stderr %q", bad, code, stderr)
		}
	}
}
