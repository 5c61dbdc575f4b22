package report

import (
	"fmt"
	"io"

	"github.com/convngc/convngc/ngc"
)

// WriteParamDiffs writes ngc.CompareParams' differences as a table, one
// synapse a row: its upper layer, the largest absolute differences of W,
// the biases and E ("—" for tied models), and the first model's ‖W‖.
func WriteParamDiffs(w io.Writer, diffs []ngc.ParamDiff) error {
	if _, err := fmt.Fprintf(w, "%-6s %12s %12s %12s %10s\n", "layer", "W", "bias", "E", "‖W‖"); err != nil {
		return err
	}
	for _, d := range diffs {
		de := "—"
		if d.E != nil {
			de = fmt.Sprintf("%.3g", *d.E)
		}
		if _, err := fmt.Fprintf(w, "%-6d %12.3g %12.3g %12s %10.4f\n", d.Layer, d.W, d.Bias, de, d.NormW); err != nil {
			return err
		}
	}
	return nil
}

// Dynamics is a config's dynamics and learning settings as one line: "T=60
// β=0.1 γ=0.001 z_top~N(0.5, 0.05) φ=leaky-relu optimizer=adam lr=0.001
// batch=500 untied=false pcn=false". c must be resolved (ngc.Config.Resolve).
func Dynamics(c ngc.Config) string {
	deref := func(p *float64) any {
		if p == nil {
			return "default"
		}
		return *p
	}
	return fmt.Sprintf("T=%d β=%g γ=%v z_top~N(%v, %v) φ=%s optimizer=%s lr=%g batch=%d untied=%v pcn=%v",
		c.Steps, c.Beta, deref(c.Gamma), deref(c.TopMean), deref(c.TopStd), c.Phi, c.Optimizer, c.LearningRate, c.Batch, c.Untied, c.PCN)
}
