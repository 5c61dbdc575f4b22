package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/tensor"
)

// small is a network small enough to measure in a blink.
var small = Options{Config: ngc.Config{Channels: []int{2, 3, 3}, ImageSize: 32}, Batch: 2, Steps: 2, Repeats: 2}

func TestBatched(t *testing.T) {
	res, err := Batched(context.Background(), small)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Workload != "inference" || res[1].Workload != "train-batch" {
		t.Fatalf("results: %+v", res)
	}
	for _, r := range res {
		if r.Batch != 2 || r.Steps != 2 || r.Repeats != 2 || !(r.ImagesPerSecond > 0) || !(r.GFLOPs > 0) || r.PercentOfPeak != 0 {
			t.Errorf("%+v", r)
		}
		if s := r.String(); !strings.HasPrefix(s, r.Workload+" ") || !strings.Contains(s, " img/s ") || !strings.HasSuffix(s, " GFLOP/s") {
			t.Errorf("String: %q", s)
		}
	}
}

// TestRuntimes: the batched reference comes first with ratio 1 and no
// traffic; the in-process actors send and deliver frames.
func TestRuntimes(t *testing.T) {
	res, err := Runtimes(context.Background(), small, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Runtime != "batched" || res[0].RatioToBatched != 1 || res[0].Actors || res[0].MsgsPerSecond != 0 {
		t.Fatalf("batched: %+v", res[0])
	}
	if s := res[1].String(); !strings.Contains(s, "× batched") || !strings.Contains(s, "msg/s") || strings.Contains(res[0].String(), "msg/s") {
		t.Errorf("String: %q, %q", res[0], res[1])
	}
	if r := res[1]; r.Runtime != "inproc" || !r.Actors || !(r.MsgsPerSecond > 0) || !(r.DeliveredPerSecond > 0) || !(r.MsgsPerBatch > 0) || !(r.GFLOPs > 0) {
		t.Errorf("inproc: %+v", r)
	}
}

func TestRefuses(t *testing.T) {
	for _, o := range []Options{{Batch: 0, Steps: 1, Repeats: 1}, {Batch: 1, Steps: 0, Repeats: 1}, {Batch: 1, Steps: 1, Repeats: 0},
		{Config: ngc.Config{Channels: []int{3}}, Batch: 1, Steps: 1, Repeats: 1}} {
		if _, err := Batched(context.Background(), o); err == nil {
			t.Errorf("Batched(%+v): no error", o)
		}
	}
	if _, err := Runtimes(context.Background(), small, []string{"carrier-pigeon"}); err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Errorf("unknown NATS connection: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Batched(ctx, small); err == nil {
		t.Error("Batched ran on a cancelled context")
	}
}

func TestPeak(t *testing.T) {
	var none *Peak
	if none.Percent(100) != 0 || none.Again(0) != nil {
		t.Error("a nil peak")
	}
	if p, err := MeasurePeak(0); p != nil || err != nil {
		t.Errorf("MeasurePeak(0) = %v, %v", p, err)
	}
	fp := &Peak{Peak: tensor.Peak{Kernel: "avx2", Threads: 2, GFLOPs: 200},
		Kernels: []tensor.Peak{{Kernel: "avx2", GFLOPs: 200}, {Kernel: "portable", GFLOPs: 10}}}
	if got := fp.Percent(50); got != 25 {
		t.Errorf("Percent(50) = %g", got)
	}
	if s := fp.String(); !strings.HasPrefix(s, "FP32 FMA peak 200.0 GFLOP/s (avx2, 2 threads") || !strings.HasSuffix(s, "; portable 10.0") {
		t.Errorf("String: %s", s)
	}
	if err := fp.Again(0); err != nil || fp.Peak.GFLOPs != 200 {
		t.Errorf("Again(0): %v, %+v", err, fp.Peak)
	}
}
