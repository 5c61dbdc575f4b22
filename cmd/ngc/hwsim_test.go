package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/convngc/convngc/hwsim/study"
	"github.com/convngc/convngc/ngc"
)

// TestHwsimCommand runs `ngc hwsim` on a tiny model (seconds): the tables,
// the JSON report and the plots, the same figures from the same seed, and
// one-line errors for bad flags.
func TestHwsimCommand(t *testing.T) {
	dir := t.TempDir()
	m, err := ngc.New(ngc.Config{Channels: []int{2, 3, 3}, ImageSize: 32, Steps: 4, Batch: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "tiny.safetensors")
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	args := []string{"hwsim", "--model", model, "--max-images", "4", "--batch", "2", "--arch", "loihi,cpu",
		"--mode", "both", "--max-lag", "2", "--jitter", "0.5", "--quiet"}
	var reports [2]study.Report
	for k := range reports {
		out := filepath.Join(dir, "out", string(rune('a'+k)))
		stdout, stderr, code := runNGC(t, dir, append(args, "--out", out)...)
		if code != 0 {
			t.Fatalf("ngc hwsim: exit %d\n%s\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"loihi", "cpu batched (measured)", "async", "synaptic ops", "recon J/img"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		b, err := os.ReadFile(filepath.Join(out, "hwsim.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &reports[k]); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"energy.png", "staleness.png", "discrepancy-messages.png", "recon-messages.png",
			"discrepancy-time-loihi.png", "recon-time-cpu.png"} {
			if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
				t.Errorf("plot %s: %v", f, err)
			}
		}
	}
	r := reports[0]
	if len(r.Archs) != 2 || r.Images != 4 || r.Batch != 2 || r.Reference == nil || !(r.Reference.InferenceEnergyPerImage > 0) {
		t.Fatalf("report: %+v", r)
	}
	for _, a := range r.Archs {
		if len(a.Runs) != 2 || a.Training == nil || a.Cores < 1 {
			t.Fatalf("%s: %d runs, training %v, %d cores", a.Arch, len(a.Runs), a.Training, a.Cores)
		}
		for _, run := range a.Runs {
			if !(run.EnergyPerImage > 0) || !(run.ImageLatency > 0) || run.Counts.SynapticOps == 0 || !(run.ReconMSE > 0) || len(run.Timeline) == 0 {
				t.Errorf("%s %s: %+v", a.Arch, run.Mode, run)
			}
			if run.Mode == "async" && run.MaxStateLag > 2 {
				t.Errorf("%s: staleness %d over the bound 2", a.Arch, run.MaxStateLag)
			}
		}
		if a.Runs[0].Counts.Barriers == 0 || a.Runs[1].Counts.Barriers != 0 {
			t.Errorf("%s: barriers sync %d, async %d", a.Arch, a.Runs[0].Counts.Barriers, a.Runs[1].Counts.Barriers)
		}
	}
	if !reflect.DeepEqual(reports[0].Archs, reports[1].Archs) {
		t.Error("two runs with the same seed gave different virtual-time results")
	}

	// Quantised messages: Loihi's rate code has its 5-bit values, the CPU
	// the --value-bits width; the reconstruction changes but stays finite.
	out := filepath.Join(dir, "out", "quantized")
	stdout, stderr, code := runNGC(t, dir, append(args, "--quantize", "--value-bits", "8", "--out", out)...)
	if code != 0 || !strings.Contains(stdout, "5-bit") || !strings.Contains(stdout, "8-bit") {
		t.Fatalf("ngc hwsim --quantize: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var q study.Report
	if b, err := os.ReadFile(filepath.Join(out, "hwsim.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	for i, a := range q.Archs {
		want := map[string]int{"loihi": 5, "cpu": 8}[a.Arch]
		if a.ValueBits != want || r.Archs[i].ValueBits != 0 {
			t.Errorf("%s: values quantised to %d bits (want %d), unquantised run %d", a.Arch, a.ValueBits, want, r.Archs[i].ValueBits)
		}
		if mse := a.Runs[0].ReconMSE; !(mse > 0) || mse == r.Archs[i].Runs[0].ReconMSE {
			t.Errorf("%s: quantised reconstruction MSE %g, exact %g", a.Arch, mse, r.Archs[i].Runs[0].ReconMSE)
		}
	}

	for _, bad := range [][]string{
		{"hwsim"},
		{"hwsim", "--model", model, "--mode", "sideways"},
		{"hwsim", "--model", model, "--jitter", "-1"},
		{"hwsim", "--model", model, "--arch", "nosuchchip"},
		{"hwsim", "--model", model, "--batch", "0"},
		{"hwsim", "--model", model, "--quantize", "--value-bits", "1"},
		{"hwsim", "--model", model, "--fire", "eventually"},
	} {
		_, stderr, code := runNGC(t, dir, bad...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ngc: ") {
			t.Errorf("%v: exit %d, stderr %q", bad, code, stderr)
		}
	}
}
