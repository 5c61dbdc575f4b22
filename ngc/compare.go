package ngc

import (
	"fmt"
	"math"
)

// ParseTask reads a task's name: "recon", "reconstruct" or
// "reconstruction" for Reconstruct; "denoise" or "denoising" for Denoise.
func ParseTask(s string) (Task, error) {
	switch s {
	case "recon", "reconstruct", "reconstruction":
		return Reconstruct, nil
	case "denoise", "denoising":
		return Denoise, nil
	}
	return 0, fmt.Errorf("task %q (want recon or denoise)", s)
}

// ParamDiff is the largest absolute difference of one synapse's parameters
// between two models of the same network (a residual block's stage kernels
// laid end to end).
type ParamDiff struct {
	// Layer is the synapse's upper layer (From): in a chain, synapse ℓ−1
	// joins layer ℓ to ℓ−1.
	Layer int     `json:"layer"`
	W     float64 `json:"max_abs_diff_w"`
	Bias  float64 `json:"max_abs_diff_bias"`
	// E is nil for tied models (no E).
	E *float64 `json:"max_abs_diff_e,omitempty"`
	// NormW is the Euclidean norm of the first model's W, for scale.
	NormW float64 `json:"norm_w"`
}

// CompareParams returns, synapse by synapse, the largest parameter
// differences between a and b, which must be the same network (graph and
// tied or untied); otherwise it returns an error wrapping ErrConfig.
func CompareParams(a, b *Model) ([]ParamDiff, error) {
	if !a.Graph().Equal(b.Graph()) || a.cfg.Untied != b.cfg.Untied {
		return nil, fmt.Errorf("%w: different networks (%d and %d layers, untied %v and %v, or other synapses)",
			ErrConfig, len(a.Inspect().Layers), len(b.Inspect().Layers), a.cfg.Untied, b.cfg.Untied)
	}
	var diffs []ParamDiff
	for si, syn := range a.Graph().Synapses {
		pa, pb := flatStages(a.Synapse(si)), flatStages(b.Synapse(si))
		if len(pa.W) != len(pb.W) || len(pa.Bias) != len(pb.Bias) || len(pa.E) != len(pb.E) {
			return nil, fmt.Errorf("%w: the synapse from layer %d to %d has different shapes", ErrConfig, syn.From, syn.To)
		}
		d := ParamDiff{Layer: syn.From, W: maxAbsDiff(pa.W, pb.W), Bias: maxAbsDiff(pa.Bias, pb.Bias)}
		if pa.E != nil {
			de := maxAbsDiff(pa.E, pb.E)
			d.E = &de
		}
		for _, v := range pa.W {
			d.NormW += float64(v) * float64(v)
		}
		d.NormW = math.Sqrt(d.NormW)
		diffs = append(diffs, d)
	}
	return diffs, nil
}

// maxAbsDiff is the largest |a[i] − b[i]| (0 for empty slices; the
// slices have the same length).
func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// flatStages returns a synapse's parameters with a residual block's stage
// kernels laid end to end in W and E.
func flatStages(s Synapses) Synapses {
	if s.Stages == nil {
		return s
	}
	var out Synapses
	for _, st := range s.Stages {
		out.W = append(out.W, st.W...)
		out.E = append(out.E, st.E...)
	}
	return out
}
