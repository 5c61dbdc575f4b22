package tensor

import (
	"testing"
	"time"
)

// TestMeasurePeak: every available kernel measures a positive throughput
// on one and on all threads; an unknown kernel is an error, not a panic.
func TestMeasurePeak(t *testing.T) {
	ks := PeakKernels()
	if ks[len(ks)-1] != "portable" {
		t.Fatalf("kernels %v do not end with the portable one", ks)
	}
	for _, k := range ks {
		for _, th := range []int{1, 0} {
			p, err := MeasurePeak(k, th, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if p.GFLOPs <= 0 || p.Threads < 1 || p.Kernel != k || p.Seconds <= 0 {
				t.Errorf("MeasurePeak(%q, %d) = %+v", k, th, p)
			}
		}
	}
	if _, err := MeasurePeak("avx1024", 1, time.Millisecond); err == nil {
		t.Error("unknown kernel accepted")
	}
}

// TestPeakLoopsComputeTheirChains: the assembly loops compute what the
// portable loop computes (the same recurrence on every lane, so the sum of
// the chains' first lanes is one portable chain times their number).
func TestPeakLoopsComputeTheirChains(t *testing.T) {
	const n, a, b = 1000, 0.999, 0.001
	g := fmaLoopGo(n, a, b) / 16 // one chain
	check := func(name string, got float32, chains int) {
		if d := got/float32(chains) - g; d > 1e-4 || d < -1e-4 {
			t.Errorf("%s: %v per chain, portable %v", name, got/float32(chains), g)
		}
	}
	if hasKernel {
		check("avx2", fmaLoopAVX2(n, a, b), 14)
	}
	if hasAVX512Peak {
		check("avx512", fmaLoopAVX512(n, a, b), 28)
	}
}
