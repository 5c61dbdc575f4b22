package bench

import (
	"fmt"
	"time"

	"github.com/convngc/convngc/ngc/tensor"
)

// Peak is the machine's measured FP32 FMA peak: every kernel package
// tensor can time here, on every thread; the fastest is the peak.
type Peak struct {
	Peak    tensor.Peak   `json:"peak"`
	Kernels []tensor.Peak `json:"kernels"`
}

// MeasurePeak times every FMA peak kernel (tensor.PeakKernels) for about d
// each. It returns nil, and no error, when d ≤ 0.
func MeasurePeak(d time.Duration) (*Peak, error) {
	if d <= 0 {
		return nil, nil
	}
	var fp Peak
	for _, k := range tensor.PeakKernels() {
		p, err := tensor.MeasurePeak(k, 0, d)
		if err != nil {
			return nil, fmt.Errorf("bench: FMA peak of %s: %w", k, err)
		}
		fp.Kernels = append(fp.Kernels, p)
		if p.GFLOPs > fp.Peak.GFLOPs {
			fp.Peak = p
		}
	}
	return &fp, nil
}

// Again measures every kernel once more and keeps the better figure of
// each, so that a disturbance during one measurement does not lower the
// peak (and inflate the shares of it). A nil Peak stays nil.
func (fp *Peak) Again(d time.Duration) error {
	if fp == nil {
		return nil
	}
	next, err := MeasurePeak(d)
	if err != nil || next == nil {
		return err
	}
	for i, k := range next.Kernels {
		if i < len(fp.Kernels) && k.GFLOPs > fp.Kernels[i].GFLOPs {
			fp.Kernels[i] = k
		}
	}
	if next.Peak.GFLOPs > fp.Peak.GFLOPs {
		fp.Peak = next.Peak
	}
	return nil
}

// String lists the kernels' throughputs, the peak first.
func (fp *Peak) String() string {
	s := fmt.Sprintf("FP32 FMA peak %.1f GFLOP/s (%s, %d threads; registers only; best of before and after the workloads)", fp.Peak.GFLOPs, fp.Peak.Kernel, fp.Peak.Threads)
	for _, k := range fp.Kernels {
		if k.Kernel != fp.Peak.Kernel {
			s += fmt.Sprintf("; %s %.1f", k.Kernel, k.GFLOPs)
		}
	}
	return s
}

// Percent is gflops as a percentage of the peak (0 for a nil or zero
// peak).
func (fp *Peak) Percent(gflops float64) float64 {
	if fp == nil || fp.Peak.GFLOPs <= 0 {
		return 0
	}
	return 100 * gflops / fp.Peak.GFLOPs
}
