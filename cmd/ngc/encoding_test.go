package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunSigmaDelta: `ngc run --encoding sigma-delta` runs the same images
// densely first and prints both side by side; with θ = 0 the two give the
// same MSE and final energy; the report carries both, and a learning run
// with --val-images carries its validation curve. Bad encoding flags are
// one line each.
func TestRunSigmaDelta(t *testing.T) {
	dir := t.TempDir()
	model, err := filepath.Abs(filepath.Join("..", "..", "ngc", "testdata", "session2-color-mnist.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runNGC(t, dir, "run", "--model", model, "--max-images", "24", "--batch", "12", "--T", "8",
		"--encoding", "sigma-delta", "--threshold", "0", "--quiet", "--out", "sd.json")
	if code != 0 || !strings.Contains(out, "encodings on the same images") || !strings.Contains(out, "sigma-delta θ=0") {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	var rep struct {
		Comparison struct {
			Encoding     string
			MSE          float64
			FinalEnergy  float64 `json:"final_energy"`
			PerImageStep struct {
				Bytes       float64
				SynapticOps float64 `json:"synaptic_ops"`
			} `json:"per_image_step"`
		}
		Dense struct {
			Comparison struct {
				MSE         float64
				FinalEnergy float64 `json:"final_energy"`
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	c, d := rep.Comparison, rep.Dense.Comparison
	if c.Encoding != "sigma-delta θ=0" || c.MSE != d.MSE || c.FinalEnergy != d.FinalEnergy || c.PerImageStep.SynapticOps == 0 {
		t.Errorf("θ=0: %+v, dense %+v", c, d)
	}

	out, stderr, code = runNGC(t, dir, "run", "--model", model, "--split", "train", "--max-images", "24", "--batch", "12", "--T", "8",
		"--learn", "--val-images", "12", "--val-every", "1", "--encoding", "sigma-delta", "--threshold", "0.01", "--no-dense",
		"--quiet", "--out", "learn.json", "--save", "learnt.safetensors")
	if code != 0 || strings.Contains(out, "encodings on the same images") || strings.Count(out, "validation after") != 3 {
		t.Fatalf("run --learn: exit %d\n%s\n%s", code, out, stderr)
	}

	out, stderr, code = runNGC(t, dir, "hwsim", "--model", model, "--max-images", "4", "--batch", "4", "--T", "5", "--arch", "loihi2,truenorth",
		"--mode", "sync", "--encoding", "sigma-delta", "--threshold", "0.01", "--quiet", "--out", "hw")
	if code != 0 || !strings.Contains(out, "loihi2, sigma-delta θ=0.01") || !strings.Contains(out, "Per image and step") {
		t.Fatalf("hwsim: exit %d\n%s\n%s", code, out, stderr)
	}

	for _, args := range [][]string{
		{"run", "--model", model, "--encoding", "morse"},
		{"run", "--model", model, "--encoding", "sigma-delta", "--threshold", "-1"},
		{"run", "--model", model, "--encoding", "sigma-delta", "--threshold", "NaN"},
		{"run", "--model", model, "--threshold", "0.1"},
		{"run", "--model", model, "--encoding", "sigma-delta", "--rebase", "-2"},
		{"run", "--model", model, "--val-images", "10"},
		{"hwsim", "--model", model, "--encoding", "sigma-delta", "--quantize"},
	} {
		_, stderr, code := runNGC(t, dir, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ngc: ") {
			t.Errorf("ngc %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
