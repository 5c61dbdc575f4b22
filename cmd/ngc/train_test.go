package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/training"
)

// smallJob are the flags of a training job on real Color-MNIST digits that
// takes a few seconds: 40 updates of 20 images, validated every 4.
var smallJob = []string{"train", "--max-images", "400", "--batch", "20", "--T", "8", "--channels", "4,6,3",
	"--epochs", "2", "--val-images", "40", "--val-every", "4", "--eval-images", "0", "--quiet"}

// TestTrainKilledAndResumed kills a real training process with SIGKILL
// mid-epoch and resumes it: the final model is byte-identical to the one
// an uninterrupted run writes.
func TestTrainKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models")
	}
	dir := t.TempDir()
	out, stderr, code := runNGC(t, dir, append(smallJob, "--out", "whole/m.safetensors")...)
	if code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s\n%s", code, out, stderr)
	}
	want, err := os.ReadFile(filepath.Join(dir, "whole/m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	args := append(smallJob, "--out", "killed/m.safetensors", "--checkpoint-every", "3")
	p := startNGC(t, dir, "train", args...)
	latest := filepath.Join(dir, "killed/m-latest.safetensors")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, s, err := training.Resume(latest, training.OpenConvNGC); err == nil && s.Updates >= 6 && s.Updates%20 != 0 {
			break // mid-epoch: 20 updates an epoch
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mid-epoch checkpoint within 2 minutes; output:\n%s", p.output())
		}
		select {
		case <-p.done:
			t.Fatalf("training ended (exit %d) before it could be killed; output:\n%s", p.code, p.output())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, time.Minute)
	_, s, err := training.Resume(latest, training.OpenConvNGC)
	if err != nil {
		t.Fatal(err)
	}
	if s.Updates >= 40 {
		t.Fatalf("killed after the job had finished (%d updates)", s.Updates)
	}
	if _, err := os.Stat(filepath.Join(dir, "killed/m.safetensors")); err == nil {
		t.Fatal("a killed job wrote its final model")
	}
	t.Logf("killed at or after update %d, epoch %d, offset %d", s.Updates, s.Epoch, s.Offset)

	// The resumed run needs no flags but --resume and --out: the data and
	// the plan come from the checkpoint.
	out, stderr, code = runNGC(t, dir, "train", "--resume", "--out", "killed/m.safetensors", "--eval-images", "0", "--quiet")
	if code != 0 {
		t.Fatalf("resumed run: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "resuming") {
		t.Errorf("resumed run does not say it resumes:\n%s", stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "killed/m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the killed and resumed job's model differs from the uninterrupted job's")
	}
	a, _ := os.ReadFile(filepath.Join(dir, "whole/m-curve.csv"))
	b, _ := os.ReadFile(filepath.Join(dir, "killed/m-curve.csv"))
	if len(a) == 0 || !bytes.Equal(withoutColumn(a, 4), withoutColumn(b, 4)) { // column 4: seconds
		t.Error("the learning curves of the uninterrupted and the resumed job differ")
	}
	bestWhole, err := ngc.Load(filepath.Join(dir, "whole/m-best.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	bestKilled, err := ngc.Load(filepath.Join(dir, "killed/m-best.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sameModels(t, "best checkpoints", bestKilled, bestWhole)
}

// withoutColumn drops column i of a CSV's lines.
func withoutColumn(b []byte, i int) []byte {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) > i {
			f = append(f[:i], f[i+1:]...)
		}
		out = append(out, strings.Join(f, ","))
	}
	return []byte(strings.Join(out, "\n"))
}

// TestTrainDivergenceKeepsModel: a run that diverges says so in one line
// naming the update and the layer, exits non-zero and leaves the model and
// JSON it was started from untouched.
func TestTrainDivergenceKeepsModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models")
	}
	dir := t.TempDir()
	args := []string{"train", "--max-images", "100", "--batch", "20", "--T", "5", "--channels", "4,3",
		"--epochs", "1", "--val-images", "20", "--eval-images", "0", "--quiet", "--out", "m.safetensors"}
	if out, stderr, code := runNGC(t, dir, args...); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, stderr)
	}
	model, _ := os.ReadFile(filepath.Join(dir, "m.safetensors"))
	report, _ := os.ReadFile(filepath.Join(dir, "m.json"))

	_, stderr, code := runNGC(t, dir, "train", "--from", "m.safetensors", "--beta", "1e6", "--epochs", "1",
		"--val-images", "20", "--eval-images", "0", "--max-images", "100", "--quiet", "--out", "m.safetensors")
	if code == 0 {
		t.Fatal("a diverging run exited 0")
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "diverged") || !strings.Contains(last, "update 1") || !strings.Contains(last, "layer") {
		t.Errorf("divergence message %q does not name the update and the layer", last)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "m.safetensors")); !bytes.Equal(got, model) {
		t.Error("the diverged run replaced the model")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "m.json")); !bytes.Equal(got, report) {
		t.Error("the diverged run replaced the JSON")
	}
}

// TestTrainFromAppliesFlags: --from applies and prints training flags and
// refuses flags that would change the parameters' shape.
func TestTrainFromAppliesFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models")
	}
	dir := t.TempDir()
	base := []string{"--max-images", "100", "--T", "5", "--val-images", "0", "--eval-images", "0", "--quiet"}
	if out, stderr, code := runNGC(t, dir, append([]string{"train", "--channels", "4,3", "--batch", "50", "--epochs", "1", "--out", "a.safetensors"}, base...)...); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code := runNGC(t, dir, append([]string{"train", "--from", "a.safetensors", "--batch", "25", "--lr", "0.0005",
		"--epochs", "1", "--out", "b.safetensors"}, base...)...)
	if code != 0 {
		t.Fatalf("train --from: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "--batch 25 (was 50)") || !strings.Contains(stderr, "--lr 0.0005 (was 0.001)") {
		t.Errorf("train --from does not print the flags it applies:\n%s", stderr)
	}
	if !strings.Contains(stderr, "4 updates of 25") {
		t.Errorf("train --from did not train with --batch 25:\n%s", stderr)
	}
	for _, bad := range [][]string{{"--channels", "5,3"}, {"--untied"}, {"--optimizer", "normalized"}} {
		_, stderr, code := runNGC(t, dir, append(append([]string{"train", "--from", "a.safetensors", "--out", "c.safetensors"}, bad...), base...)...)
		if code == 0 || !strings.Contains(stderr, bad[0]) {
			t.Errorf("train --from with %v: exit %d, %q", bad, code, stderr)
		}
	}
	if _, stderr, code := runNGC(t, dir, "train", "--resume", "--out", "nothing-here.safetensors"); code == 0 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("--resume without a checkpoint: exit %d, %q", code, stderr)
	}
}

// TestTrainRefusesBadFlags: values no network can run with are refused up
// front, with one line naming the flag, before any data is loaded.
func TestTrainRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--beta", "0"}, "--beta"},
		{[]string{"--beta", "NaN"}, "--beta"},
		{[]string{"--lr", "Inf"}, "--lr"},
		{[]string{"--lr", "0"}, "--lr"},
		{[]string{"--max-kernel-norm", "0"}, "--max-kernel-norm"},
		{[]string{"--gamma", "-1"}, "--gamma"},
		{[]string{"--top-std", "NaN"}, "--top-std"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--T", "0"}, "--T"},
		{[]string{"--channels", "4,0,3"}, "--channels"},
		{[]string{"--epochs", "-1"}, "--epochs"},
		{[]string{"--checkpoint-every", "soon"}, "--checkpoint-every"},
		{[]string{"--val-task", "classify"}, "--val-task"},
		{[]string{"--out", "/proc/no/such/dir/m.safetensors"}, "--out"},
	} {
		start := time.Now()
		_, stderr, code := runNGC(t, dir, append([]string{"train", "--max-images", "100"}, tc.args...)...)
		if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.flag) {
			t.Errorf("train %v: exit %d, stderr %q; want one line naming %s", tc.args, code, stderr, tc.flag)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("train %v took %v to refuse", tc.args, d)
		}
	}
	// An explicit zero that means something is honoured: λ = 0 keeps E fixed.
	out, stderr, code := runNGC(t, dir, "train", "--max-images", "100", "--channels", "4,3", "--T", "3", "--batch", "50",
		"--untied", "--lambda", "0", "--init-std", "0", "--epochs", "1", "--val-images", "0", "--eval-images", "0", "--quiet", "--out", "z.safetensors")
	if code != 0 {
		t.Fatalf("--lambda 0 --init-std 0: exit %d\n%s\n%s", code, out, stderr)
	}
	m, err := ngc.Load(filepath.Join(dir, "z.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Config(); *c.Lambda != 0 || *c.InitStd != 0 {
		t.Errorf("saved config has lambda %v, init std %v; want 0 and 0", *c.Lambda, *c.InitStd)
	}
	for _, v := range m.Synapses(1).E {
		if v != 0 {
			t.Fatal("with --lambda 0 and --init-std 0 the error kernels E moved")
		}
	}
}
