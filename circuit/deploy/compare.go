package deploy

import (
	"bufio"
	"fmt"
	"io"
	"text/tabwriter"
)

// Comparison is one row of an encoding comparison: how a run's messages
// travelled and what they cost per image and step of the window, and what
// the run reconstructed.
type Comparison struct {
	Encoding     string       `json:"encoding"`
	PerImageStep PerImageStep `json:"per_image_step"`
	// MSE is the run's reconstruction (or denoising) MSE on [0,255] pixels,
	// FinalEnergy its mean final total discrepancy ½Σ‖e‖² per image.
	MSE         float64 `json:"mse"`
	FinalEnergy float64 `json:"final_energy"`
}

// CompareOf returns r's row of an encoding comparison.
func CompareOf(r *Report) Comparison {
	c := Comparison{Encoding: r.Runtime.Encoding, PerImageStep: r.Runtime.PerImageStep, MSE: r.Result.Report.MSE}
	if e := r.Result.Energy; len(e) > 0 {
		c.FinalEnergy = e[len(e)-1]
	}
	return c
}

// WriteComparison prints runs of the same images under different
// encodings side by side, the first being the reference (dense): per image
// and step of the window, messages, bytes and synaptic operations, with
// the reference's figure divided by each run's; then the MSE and the final
// energy, with each run's change against the reference.
func WriteComparison(w io.Writer, rows ...Comparison) error {
	if len(rows) == 0 {
		return nil
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "encodings on the same images, per image and step of the window:")
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "encoding\tmessages\tbytes\tsynaptic ops\tMSE\tfinal ½Σ‖e‖²\t")
	ref := rows[0]
	ratio := func(a, b float64) string {
		if b <= 0 {
			return ""
		}
		return fmt.Sprintf(" (%.2f×)", a/b)
	}
	change := func(a, b float64) string {
		if b == 0 {
			return ""
		}
		return fmt.Sprintf(" (%+.1f%%)", 100*(a-b)/b)
	}
	for i, r := range rows {
		p := r.PerImageStep
		if i == 0 {
			fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%.2f\t%.3f\t\n", r.Encoding, p.Messages, p.Bytes, p.SynapticOps, r.MSE, r.FinalEnergy)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f%s\t%.0f%s\t%.2f%s\t%.3f%s\t\n", r.Encoding, p.Messages,
			p.Bytes, ratio(ref.PerImageStep.Bytes, p.Bytes), p.SynapticOps, ratio(ref.PerImageStep.SynapticOps, p.SynapticOps),
			r.MSE, change(r.MSE, ref.MSE), r.FinalEnergy, change(r.FinalEnergy, ref.FinalEnergy))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(bw, "(ratios: the first row's bytes or operations over the row's, smaller traffic > 1×; changes against the first row)")
	return bw.Flush()
}
