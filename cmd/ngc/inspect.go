package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc"
)

func runInspect(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "inspect", "[--model FILE] [flags]",
		"Show the layers, map sizes, kernel shapes and parameter counts of a saved model, or of\n"+
			"the network the model flags describe (the paper's, by default). With --against, compare\n"+
			"the model's parameters with another checkpoint of the same network, layer by layer\n"+
			"(largest absolute difference of W, biases and E), e.g. an actor-trained model with a\n"+
			"batched one.")
	model := fs.String("model", "", "saved model to inspect (default: the config from the flags)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	against := fs.String("against", "", "compare --model's parameters with this checkpoint of the same network")
	var mf modelFlags
	mf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *against != "" {
		if *model == "" {
			return fmt.Errorf("inspect: --against needs --model")
		}
		return compareModels(e, *model, *against, *asJSON)
	}
	var s ngc.Summary
	if *model != "" {
		m, err := ngc.Load(*model)
		if err != nil {
			return err
		}
		s = m.Inspect()
	} else {
		if err := mf.check("inspect"); err != nil {
			return err
		}
		cfg, err := mf.modelConfig()
		if err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
		if _, err := cfg.Resolve(); err != nil {
			return err
		}
		s = ngc.Inspect(cfg)
	}
	if *asJSON {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprint(e.stdout, s.String())
	c := s.Config
	fmt.Fprintf(e.stdout, "T=%d β=%g γ=%g z_top~N(%g, %g) φ=%s optimizer=%s lr=%g batch=%d untied=%v pcn=%v\n",
		c.Steps, c.Beta, *c.Gamma, *c.TopMean, *c.TopStd, c.Phi, c.Optimizer, c.LearningRate, c.Batch, c.Untied, c.PCN)
	return nil
}

// layerDiff is the largest absolute parameter difference of one layer's
// synapses between two checkpoints.
type layerDiff struct {
	Layer int      `json:"layer"`
	W     float64  `json:"max_abs_diff_w"`
	Bias  float64  `json:"max_abs_diff_bias"`
	E     *float64 `json:"max_abs_diff_e,omitempty"` // nil for tied models (no E)
	NormW float64  `json:"norm_w"`                   // Euclidean norm of the first model's W, for scale
}

// compareModels prints the per-layer parameter differences of two
// checkpoints of the same network.
func compareModels(e *env, a, b string, asJSON bool) error {
	ma, err := ngc.Load(a)
	if err != nil {
		return err
	}
	mb, err := ngc.Load(b)
	if err != nil {
		return err
	}
	sa, sb := ma.Inspect(), mb.Inspect()
	if !ma.Graph().Equal(mb.Graph()) || sa.Config.Untied != sb.Config.Untied {
		return fmt.Errorf("inspect: %s and %s are different networks (%d and %d layers, untied %v and %v, or other synapses)",
			a, b, len(sa.Layers), len(sb.Layers), sa.Config.Untied, sb.Config.Untied)
	}
	var diffs []layerDiff
	for si, syn := range ma.Graph().Synapses {
		l := syn.From // in a chain, synapse ℓ−1 joins layer ℓ to ℓ−1
		pa, pb := flatten(ma.Synapse(si)), flatten(mb.Synapse(si))
		if len(pa.W) != len(pb.W) || len(pa.Bias) != len(pb.Bias) || len(pa.E) != len(pb.E) {
			return fmt.Errorf("inspect: layer %d has different shapes in %s and %s", l, a, b)
		}
		d := layerDiff{Layer: l, W: maxAbsDiff(pa.W, pb.W), Bias: maxAbsDiff(pa.Bias, pb.Bias)}
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
	if asJSON {
		out, err := json.MarshalIndent(map[string]any{"model": a, "against": b, "layers": diffs}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(out))
		return nil
	}
	fmt.Fprintf(e.stdout, "%s against %s: largest absolute differences\n", a, b)
	fmt.Fprintf(e.stdout, "%-6s %12s %12s %12s %10s\n", "layer", "W", "bias", "E", "‖W‖")
	for _, d := range diffs {
		de := "—"
		if d.E != nil {
			de = fmt.Sprintf("%.3g", *d.E)
		}
		fmt.Fprintf(e.stdout, "%-6d %12.3g %12.3g %12s %10.4f\n", d.Layer, d.W, d.Bias, de, d.NormW)
	}
	return nil
}

// maxAbsDiff is the largest |a[i] − b[i]| (0 for empty slices, +Inf for
// slices of different lengths).
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// flatten returns a synapse's parameters with a residual block's stage
// kernels laid end to end in W and E, for comparisons.
func flatten(s ngc.Synapses) ngc.Synapses {
	if s.Stages == nil {
		return s
	}
	var out ngc.Synapses
	for _, st := range s.Stages {
		out.W = append(out.W, st.W...)
		out.E = append(out.E, st.E...)
	}
	return out
}
