package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRuntime runs `ngc bench --runtime` as a process on a tiny batch
// and checks that the batched reference, the in-process actors and the
// actors on both NATS connections are measured, with ratios, CPU and bus
// traffic, in the text and in the JSON report.
func TestBenchRuntime(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := runNGC(t, dir, "bench", "--runtime", "--nats", "both", "--batch", "4", "--T", "3", "--repeats", "2", "--json", "rt.json")
	if code != 0 {
		t.Fatalf("bench --runtime: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"batched", "inproc", "nats-embedded", "nats-tcp", "× batched", "msg/s", "MB/s", "load average"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "rt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []struct {
			Runtime   string  `json:"runtime"`
			Batch     int     `json:"batch"`
			Steps     int     `json:"T"`
			IPS       float64 `json:"images_per_second"`
			Ratio     float64 `json:"ratio_to_batched"`
			Msgs      float64 `json:"msgs_per_second"`
			Bytes     float64 `json:"bytes_per_second"`
			Wire      float64 `json:"wire_bytes_per_second"`
			PerBatch  float64 `json:"msgs_per_batch"`
			Delivered float64 `json:"delivered_msgs_per_second"`
		} `json:"runtime_results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want 4: %s", len(rep.Results), b)
	}
	var perBatch float64
	for i, r := range rep.Results {
		if r.Batch != 4 || r.Steps != 3 || r.IPS <= 0 || r.Ratio <= 0 {
			t.Errorf("result %d: %+v", i, r)
		}
		if i == 0 {
			if r.Runtime != "batched" || r.Ratio != 1 || r.Msgs != 0 {
				t.Errorf("first result should be the batched reference: %+v", r)
			}
			continue
		}
		if r.Msgs <= 0 || r.Bytes <= 0 || r.Delivered <= 0 {
			t.Errorf("%s: no bus traffic: %+v", r.Runtime, r)
		}
		if strings.HasPrefix(r.Runtime, "nats") && r.Wire <= 0 {
			t.Errorf("%s: no wire bytes: %+v", r.Runtime, r)
		}
		// Every runtime runs the same dataflow: the same frames per batch
		// (give or take heartbeats).
		if perBatch == 0 {
			perBatch = r.PerBatch
		} else if r.PerBatch < 0.9*perBatch || r.PerBatch > 1.1*perBatch {
			t.Errorf("%s: %.0f frames per batch, inproc %.0f", r.Runtime, r.PerBatch, perBatch)
		}
	}
	if _, _, code := runNGC(t, dir, "bench", "--runtime", "--nats", "carrier-pigeon"); code == 0 {
		t.Error("bench accepted an unknown --nats mode")
	}
}
