package study

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/convngc/convngc/hwsim"
)

// SI formats a value with an SI prefix (down to pico): SI(2.5e-9, "J") is
// "2.5 nJ".
func SI(v float64, unit string) string {
	if v == 0 {
		return "0 " + unit
	}
	prefixes := []struct {
		f float64
		p string
	}{{1, ""}, {1e-3, "m"}, {1e-6, "µ"}, {1e-9, "n"}, {1e-12, "p"}}
	for _, p := range prefixes {
		if math.Abs(v) >= p.f {
			return fmt.Sprintf("%.3g %s%s", v/p.f, p.p, unit)
		}
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

// WriteText prints the report as `ngc hwsim` does: the circuit and
// settings, the mapping per architecture, energy and latency per run, the
// energy by event kind, and the estimates' notes.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Conv-NGC circuit of %s: %d populations, %d links; %d %s images in batches of %d, reconstruction, T=%d\n",
		r.Model, r.Populations, r.Links, r.Images, r.Dataset, r.Batch, r.Steps)
	fmt.Fprintf(bw, "virtual time: jitter %g", r.Jitter)
	if r.JitterSeconds > 0 {
		fmt.Fprintf(bw, " + %s", SI(r.JitterSeconds, "s"))
	}
	fmt.Fprintf(bw, ", seed %d; async budget %d, staleness bound %d (0: none), firing rule %s\n", r.Seed, r.Budget, r.MaxLag, r.Fire)
	if r.Encoding != "" {
		fmt.Fprintf(bw, "messages: dense and %s, on the same images\n", r.Encoding)
	}
	fmt.Fprintln(bw)
	for _, write := range []func(io.Writer) error{r.writeMapping, r.writeRuns, r.writeTraffic, r.writeEnergyByKind} {
		if err := write(bw); err != nil {
			return err
		}
	}
	r.writeNotes(bw)
	return bw.Flush()
}

// writeMapping is the table of the mapping onto every architecture.
func (r *Report) writeMapping(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arch\tcores\tchips\tneuron util\tsynapse util\tsplit pops\taxon violations\tmean hops\tmessage values\t")
	for _, a := range r.Archs {
		if a.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\n", a.Arch, a.Error)
			continue
		}
		values := "float32"
		if a.ValueBits > 0 && a.ValueBits < 32 {
			values = fmt.Sprintf("%d-bit", a.ValueBits)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%.1f%%\t%d\t%d\t%.2f\t%s\t\n", a.Arch, a.Cores, a.Chips, 100*a.NeuronUtil, 100*a.SynapseUtil, a.Split, a.Violations, a.MeanHops, values)
	}
	return tw.Flush()
}

// writeRuns is the table of energy, latency and accuracy of every run, and
// the measured CPU reference.
func (r *Report) writeRuns(w io.Writer) error {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arch\tmode\trecon J/img\ttrain J/img\tstep (virtual)\timage (virtual)\timage (estimate)\tmsgs/img\trecon MSE\tfinal ½Σ‖e‖²\tmean lag\t")
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			train := ""
			if tr := a.trainingOf(m.Encoding); tr != nil && m.Mode == "sync" {
				train = SI(tr.EnergyPerImage, "J")
			}
			lag := ""
			if m.Mode == "async" {
				lag = fmt.Sprintf("%.2f (max %d)", m.MeanStateLag, m.MaxStateLag)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.5f\t%.2f\t%s\t\n", a.Arch, m.Label(), SI(m.EnergyPerImage, "J"), train,
				SI(m.StepLatency, "s"), SI(m.ImageLatency, "s"), SI(m.EstimatedLatencyPerImage, "s"), m.MessagesPerImage, m.ReconMSE, m.FinalDiscrepancy, lag)
		}
	}
	ref := r.Reference
	if ref != nil {
		fmt.Fprintf(tw, "cpu batched (measured)\tsync\t%s\t%s\t\t%s\t\t\t\t\t\t\n", SI(ref.InferenceEnergyPerImage, "J"), SI(ref.TrainingEnergyPerImage, "J"), SI(ref.InferenceSecondsPerImage, "s"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ref != nil {
		fmt.Fprintf(w, "(cpu batched: %d images in %.3f s of wall time, best of %d passes, × %.3g W package power, %s: %s)\n",
			ref.InferImages, ref.InferSeconds, ReferenceRuns, ref.PackagePower, ref.PowerProvenance, ref.PowerSource)
	}
	return nil
}

// trainingOf returns the training batch run under encoding enc.
func (a *ArchReport) trainingOf(enc string) *TrainReport {
	for _, tr := range []*TrainReport{a.Training, a.TrainingEncoded} {
		if tr != nil && (tr.Encoding == enc || (tr.Encoding == "" && enc == "dense")) {
			return tr
		}
	}
	return nil
}

// writeTraffic is the table of traffic and synaptic operations per image
// and step of every run, when the study compares encodings: the counts do
// not depend on the architecture under sync dynamics, so one row per mode
// and encoding (the first architecture's), and a row per architecture for
// async runs, whose schedule does.
func (r *Report) writeTraffic(w io.Writer) error {
	if r.Encoding == "" {
		return nil
	}
	fmt.Fprintln(w, "\nPer image and step of the window:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arch\tmode\tmessages\tvalues\tbytes\tsynaptic ops\trecon MSE\tfinal ½Σ‖e‖²\t")
	seen := map[string]bool{}
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			arch := a.Arch
			if m.Mode == "sync" {
				if seen[m.Label()] {
					continue
				}
				seen[m.Label()] = true
				arch = "(any)"
			}
			p := m.PerImageStep
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t%.0f\t%.0f\t%.5f\t%.2f\t\n", arch, m.Label(), p.Messages, p.Values, p.Bytes, p.SynapticOps, m.ReconMSE, m.FinalDiscrepancy)
		}
	}
	return tw.Flush()
}

// writeEnergyByKind is the table of each kind of event's share of the
// reconstruction energy, under the first mode run.
func (r *Report) writeEnergyByKind(w io.Writer) error {
	first := ""
	for _, a := range r.Archs {
		if len(a.Runs) > 0 {
			first = a.Runs[0].Mode
			break
		}
	}
	fmt.Fprintf(w, "\nEnergy by event kind, reconstruction (%s):\n", first)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "arch\t")
	for k := hwsim.Kind(0); k < hwsim.NumKinds; k++ {
		fmt.Fprintf(tw, "%s\t", k)
	}
	fmt.Fprintln(tw)
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			if m.Mode != first || m.Cost.Energy == 0 {
				continue
			}
			name := a.Arch
			if m.Encoding != "" && m.Encoding != "dense" {
				name += ", " + m.Encoding
			}
			fmt.Fprintf(tw, "%s\t", name)
			for k := hwsim.Kind(0); k < hwsim.NumKinds; k++ {
				fmt.Fprintf(tw, "%.1f%%\t", 100*m.Cost.EnergyBy[k]/m.Cost.Energy)
			}
			fmt.Fprintln(tw)
		}
	}
	return tw.Flush()
}

// Notes are the estimates' warnings (what they leave out), each once, in
// the order the architectures and runs give them.
func (r *Report) Notes() []string {
	var notes []string
	seen := map[string]bool{}
	note := func(ws []string) {
		for _, s := range ws {
			if !seen[s] {
				seen[s] = true
				notes = append(notes, s)
			}
		}
	}
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			note(m.Cost.Warnings)
		}
		for _, tr := range []*TrainReport{a.Training, a.TrainingEncoded} {
			if tr != nil {
				note(tr.Cost.Warnings)
			}
		}
	}
	return notes
}

// writeNotes lists Notes.
func (r *Report) writeNotes(w io.Writer) {
	notes := r.Notes()
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(w, "\nNotes:")
	for _, s := range notes {
		fmt.Fprintf(w, "  - %s\n", s)
	}
}
