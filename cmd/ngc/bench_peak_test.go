package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchPeak: `ngc bench` measures the FMA peak first, ends every
// workload line with its share of it, and puts both in the JSON report;
// --peak-time 0 leaves the peak out.
func TestBenchPeak(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := runNGC(t, dir, "bench", "--batch", "20", "--T", "2", "--repeats", "1", "--peak-time", "20ms", "--json", "b.json")
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "FP32 FMA peak") {
		t.Errorf("no peak line:\n%s", out)
	}
	line := regexp.MustCompile(`(?m)^(inference|train-batch) .* GFLOP/s +\d+\.\d% of FMA peak$`)
	if n := len(line.FindAllString(out, -1)); n != 2 {
		t.Errorf("%d workload lines end with their share of the peak, want 2:\n%s", n, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "b.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Peak struct {
			Peak struct {
				Kernel string  `json:"kernel"`
				GFLOPs float64 `json:"gflop_per_second"`
			} `json:"peak"`
			Kernels []struct{} `json:"kernels"`
		} `json:"fma_peak"`
		Results []struct {
			GFLOPs  float64 `json:"gflop_per_second"`
			Percent float64 `json:"percent_of_fma_peak"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Peak.Peak.GFLOPs <= 0 || rep.Peak.Peak.Kernel == "" || len(rep.Peak.Kernels) < 1 {
		t.Errorf("peak in JSON: %+v", rep.Peak)
	}
	for _, r := range rep.Results {
		if want := 100 * r.GFLOPs / rep.Peak.Peak.GFLOPs; r.Percent <= 0 || r.Percent-want > 1e-9 || want-r.Percent > 1e-9 {
			t.Errorf("result %+v: percent of peak, want %v", r, want)
		}
	}
	out, _, code = runNGC(t, dir, "bench", "--batch", "4", "--T", "1", "--repeats", "1", "--peak-time", "0", "--kernels", "go")
	if code != 0 || strings.Contains(out, "FMA peak") || !strings.Contains(out, "tile kernels go") {
		t.Errorf("--peak-time 0 --kernels go: exit %d\n%s", code, out)
	}
	if _, stderr, code := runNGC(t, dir, "bench", "--kernels", "avx1024"); code == 0 || !strings.Contains(stderr, "avx1024") {
		t.Errorf("--kernels avx1024: exit %d, %s", code, stderr)
	}
}
