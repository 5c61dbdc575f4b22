package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeImageTree writes a small tree of synthetic 32×32 PNG images under
// root: for every split, n images in two class folders.
func writeImageTree(t *testing.T, root string, splits map[string]int) {
	t.Helper()
	k := len(root)
	for split, n := range splits {
		for i := 0; i < n; i++ {
			k++
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			for y := 0; y < 32; y++ {
				for x := 0; x < 32; x++ {
					b := uint8(30)
					if (x-16)*(x-16)+(y-16)*(y-16) < 20+k%50 {
						b = 230
					}
					img.Set(x, y, color.RGBA{uint8(x*8 + k), uint8(y*8 + 3*k), b, 255})
				}
			}
			path := filepath.Join(root, split, fmt.Sprintf("c%d", i%2), fmt.Sprintf("%03d.png", i))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestExperimentSmoke runs the whole experiment command on two synthetic
// image trees with tiny models: every table, both figures, the CSV and
// JSON; then runs it again and checks that nothing is recomputed.
func TestExperimentSmoke(t *testing.T) {
	dir := t.TempDir()
	writeImageTree(t, filepath.Join(dir, "a"), map[string]int{"train": 20, "test": 8})
	writeImageTree(t, filepath.Join(dir, "b"), map[string]int{"train": 16, "valid": 4, "test": 8})
	args := []string{"experiment", "--table", "all", "--trials", "2", "--datasets", "folder,cinic10",
		"--pairs", "folder:cinic10", "--data", "folder=" + filepath.Join(dir, "a") + ",cinic10=" + filepath.Join(dir, "b"),
		"--max-images", "0", "--eval-images", "0", "--epochs", "1", "--model-epochs", "conv-ae=2",
		"--channels", "3,4,3", "--T", "3", "--ngc-batch", "8", "--fc-batch", "8", "--ae-batch", "8", "--ae-lr", "1e-3",
		"--samples", "2", "--quiet", "--out", "exp"}
	out, stderr, code := runNGC(t, dir, args...)
	if code != 0 {
		t.Fatalf("experiment: exit %d\n%s\n%s", code, out, stderr)
	}
	const trials = 4 * 2 * 2
	for _, want := range []string{"## Table 1", "## Table 2a", "## Table 2b", "| folder to CINIC-10 | SSIM | PSNR | MSE |",
		"| Conv-NGC |", "| Conv-DAE |", fmt.Sprintf("trained %d models, computed %d evaluations, reused 0", trials, 2*trials+4*2)} {
		if !strings.Contains(out, want) {
			t.Errorf("experiment output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(stderr, " done: "); n != trials {
		t.Errorf("%d trial lines on stderr, want %d:\n%s", n, trials, stderr)
	}
	for _, f := range []string{"tables.md", "trials.csv", "trials.json", "protocol.json", "figure3.png", "figure4.png"} {
		if st, err := os.Stat(filepath.Join(dir, "exp", f)); err != nil || st.Size() == 0 {
			t.Errorf("experiment did not write %s: %v", f, err)
		}
	}
	var rep struct {
		Trials []struct {
			Model  string            `json:"model"`
			Evals  []json.RawMessage `json:"evaluations"`
			Params int               `json:"params"`
		} `json:"trials"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "exp", "trials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Trials) != trials {
		t.Fatalf("trials.json holds %d trials, want %d", len(rep.Trials), trials)
	}
	for _, tr := range rep.Trials {
		if tr.Model == "conv-ae" && tr.Params != 48393 || tr.Model == "ngc-fc" && tr.Params != 738072 {
			t.Errorf("%s has %d parameters", tr.Model, tr.Params)
		}
	}

	out2, stderr, code := runNGC(t, dir, args...)
	if code != 0 || !strings.Contains(out2, fmt.Sprintf("trained 0 models, computed 0 evaluations, reused %d", trials)) {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, out2, stderr)
	}
	if strings.Count(stderr, " reused: ") != trials {
		t.Errorf("rerun stderr:\n%s", stderr)
	}
	tables := func(s string) string { return s[:strings.Index(s, "trials: ")] }
	if tables(out) != tables(out2) {
		t.Errorf("tables changed on a rerun")
	}
}

func TestExperimentAndBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"experiment", "--table", "3"},
		{"experiment", "--models", "vae"},
		{"experiment", "--pairs", "cifar10"},
		{"experiment", "--trials", "0"},
		{"experiment", "--model-epochs", "vae=2"},
		{"experiment", "--noise-std", "-1"},
		{"experiment", "--datasets", "folder", "--models", "conv-ae", "--data", "folder=" + filepath.Join(dir, "none"), "--quiet", "--out", filepath.Join(dir, "o")},
		{"baseline"},
		{"baseline", "fit"},
		{"baseline", "train", "--model", "vae"},
		{"baseline", "train", "--model", "conv-ae", "--pcn"},
		{"baseline", "eval"},
		{"baseline", "eval", "--model", filepath.Join(dir, "missing.safetensors")},
		{"baseline", "eval", "--model", "x", "--task", "paint"},
	} {
		_, stderr, code := runNGC(t, dir, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ngc: ") {
			t.Errorf("ngc %v: exit %d, stderr %q", args, code, stderr)
		}
	}
	for _, sub := range []string{"train", "eval"} {
		out, _, code := runNGC(t, dir, "baseline", sub, "--help")
		if code != 0 || !strings.Contains(out, "Usage: ngc baseline "+sub) || !strings.Contains(out, "--model") {
			t.Errorf("ngc baseline %s --help: exit %d\n%s", sub, code, out)
		}
	}
}

// TestBaselineTrainEval trains each baseline for one epoch on a small
// synthetic image tree, evaluates the saved models, and checks the files.
func TestBaselineTrainEval(t *testing.T) {
	dir := t.TempDir()
	writeImageTree(t, filepath.Join(dir, "imgs"), map[string]int{"train": 20, "test": 6})
	data := []string{"--dataset", "folder", "--data", filepath.Join(dir, "imgs")}
	for _, tc := range []struct {
		args   []string
		name   string
		params string
	}{
		{[]string{"--model", "conv-ae", "--batch", "8", "--lr", "1e-3"}, "conv-ae", "48393"},
		{[]string{"--model", "conv-dae", "--batch", "8"}, "conv-dae", "48393"},
		{[]string{"--model", "ngc-fc", "--batch", "8", "--T", "3"}, "ngc", "738072"},
		{[]string{"--model", "ngc-fc", "--pcn", "--batch", "8", "--T", "3"}, "pcn", "738072"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.name + ".safetensors"
			args := append(append([]string{"baseline", "train"}, tc.args...), data...)
			args = append(args, "--epochs", "1", "--eval-images", "4", "--quiet", "--out", file)
			out, stderr, code := runNGC(t, dir, args...)
			if code != 0 || !strings.Contains(out, "stopped (epochs) at update 2") || !strings.Contains(stderr, tc.params+" parameters") {
				t.Fatalf("baseline train: exit %d\n%s\n%s", code, out, stderr)
			}
			for _, f := range []string{file, tc.name + ".json", tc.name + ".png", tc.name + "-curve.png", tc.name + "-curve.csv",
				tc.name + "-latest.safetensors", tc.name + "-best.safetensors"} {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("baseline train did not write %s: %v", f, err)
				}
			}
			// The job goes on for a second epoch from its checkpoint.
			out, stderr, code = runNGC(t, dir, "baseline", "train", "--resume", "--epochs", "2", "--eval-images", "0", "--quiet", "--out", file)
			if code != 0 || !strings.Contains(out, "stopped (epochs) at update 4") || !strings.Contains(stderr, "resuming") {
				t.Fatalf("baseline train --resume: exit %d\n%s\n%s", code, out, stderr)
			}
			out, stderr, code = runNGC(t, dir, append([]string{"baseline", "eval", "--model", file, "--task", "denoise", "--quiet"}, data...)...)
			if code != 0 || !strings.Contains(out, "denoise on 6 images of folder/test") {
				t.Fatalf("baseline eval: exit %d\n%s\n%s", code, out, stderr)
			}
			for _, f := range []string{tc.name + "-denoise.json", tc.name + "-denoise.png"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("baseline eval did not write %s: %v", f, err)
				}
			}
		})
	}
}
