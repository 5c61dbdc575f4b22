package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestResidualRunsOnActors: a residual-block model (--residual) runs on
// the actors (`ngc run`) with the batched reference's metrics (`ngc
// eval`, the same line), and `ngc hwsim` studies the very populations the
// runtime hosts.
func TestResidualRunsOnActors(t *testing.T) {
	dir := t.TempDir()
	if out, stderr, code := runNGC(t, dir, "train", "--channels", "4,3", "--residual", "2", "--epochs", "0", "--val-images", "0",
		"--max-images", "8", "--eval-images", "0", "--T", "5", "--out", "res.safetensors", "--quiet"); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, stderr)
	}
	flags := []string{"--model", "res.safetensors", "--max-images", "8", "--batch", "4", "--T", "5", "--top-std", "0", "--quiet"}
	eval, stderr, code := runNGC(t, dir, append([]string{"eval"}, flags...)...)
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s\n%s", code, eval, stderr)
	}
	run, stderr, code := runNGC(t, dir, append([]string{"run", "--out", "run.json"}, flags...)...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, run, stderr)
	}
	metrics := regexp.MustCompile(`MSE [0-9.]+ +PSNR [0-9.]+ dB`)
	if m := metrics.FindString(eval); m == "" || m != metrics.FindString(run) {
		t.Errorf("eval says %q, the actors %q", m, metrics.FindString(run))
	}
	actors := regexp.MustCompile(`(\d+) actors sent`).FindStringSubmatch(run)
	hw, stderr, code := runNGC(t, dir, "hwsim", "--model", "res.safetensors", "--arch", "loihi2", "--max-images", "4", "--batch", "4",
		"--T", "3", "--out", "hw", "--quiet")
	if code != 0 {
		t.Fatalf("hwsim: exit %d\n%s\n%s", code, hw, stderr)
	}
	if actors == nil || !strings.Contains(hw, actors[1]+" populations") {
		t.Errorf("run hosted %v actors; hwsim says\n%s", actors, hw)
	}
}
