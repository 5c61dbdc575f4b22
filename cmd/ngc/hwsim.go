package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/hwsim/study"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/report"
)

const hwsimDoc = "Estimate what a trained model's actor circuit costs on neuromorphic hardware and study its\n" +
	"dynamics in virtual time. The circuit (every feature map's state and error population) is\n" +
	"mapped onto each architecture's cores; hwsim's discrete-event engine then runs the same\n" +
	"population code as the actor runtime on real images (reconstruction, T steps): link\n" +
	"latencies from mesh hops, compute times from counted events, seeded jitter. --mode sync\n" +
	"runs the lock-step dataflow (equal to the batched reference), async lets populations fire\n" +
	"on arrival with the latest inputs (budget T corrections, optional staleness bound). One\n" +
	"training batch (sync, tied or untied as the model) is run too. Energy and latency come\n" +
	"from the counted events and each architecture's sourced per-event costs (hwsim.Estimate);\n" +
	"the CPU row for the batched reference is measured wall time times the stated package power.\n" +
	"Prints tables; writes hwsim.json and PNG plots (discrepancy and reconstruction error vs\n" +
	"virtual time and vs messages, staleness, energy per image per architecture) to --out.\n" +
	"--encoding sigma-delta --threshold θ runs every mode and the training batch twice on the\n" +
	"same images, with dense and with sigma-delta messages (only the units that moved by more\n" +
	"than θ are sent; deltas are graded spikes on Loihi 2, spikes on Loihi and TrueNorth), and\n" +
	"reports each architecture's energy and latency per image for both, and their messages,\n" +
	"values, bytes and synaptic operations per image and step.\n" +
	"Dynamics flags given here (--T, --beta, --gamma, --top-mean, --top-std) replace the model's\n" +
	"own settings. The study is package hwsim/study (study.Run)."

// hwsimFlags are the flags of ngc hwsim.
type hwsimFlags struct {
	study.Options
	model, split, mode, jitter, out, fire string
	archs                                 []string
	quiet                                 bool
	df                                    dataFlags
	dyn                                   dynamicsFlags
	enc                                   encodingFlags
}

func (h *hwsimFlags) register(fs *pflag.FlagSet) {
	o := &h.Options
	fs.StringVar(&h.model, "model", "", "trained model (safetensors) to study (required)")
	h.df.register(fs, 16)
	fs.StringVar(&h.split, "split", "test", "split to take images from: train, validation or test")
	fs.StringSliceVar(&h.archs, "arch", []string{"loihi", "loihi2", "truenorth", "spinnaker", "cpu"},
		"architectures: built-in names ("+strings.Join(hwsim.Names(), ", ")+") or architecture JSON files")
	fs.StringVar(&h.mode, "mode", "both", "dynamics in virtual time: sync, async or both")
	fs.IntVar(&o.Budget, "budget", 0, "async: corrections per state map per mini-batch (0: T)")
	fs.IntVar(&o.MaxLag, "max-lag", 0, "async: staleness bound in versions (0: none)")
	fs.StringVar(&h.fire, "fire", "own-error", "async: a state map corrects when its own error advances (own-error, as ngc run), or on any arrival (arrival, the original rule)")
	fs.StringVar(&h.jitter, "jitter", "0.25", "seeded jitter of every latency and compute time: a fraction (0.25: up to +25%) or a duration (50ns: up to +50 ns)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the jitter and the initial top states")
	fs.IntVar(&o.Batch, "batch", 16, "mini-batch size (images run together; full batches only)")
	h.dyn.zeroSteps = true
	h.dyn.register(fs)
	h.enc.register(fs, false)
	fs.BoolVar(&o.Quantize, "quantize", false, "quantise every map message to the architecture's value width (rate codes: their value_bits; graded spikes: --value-bits), one full scale per image and message, to measure what the representation does to accuracy")
	fs.IntVar(&o.ValueBits, "value-bits", 32, "with --quantize, the width (2 to 32 bits) of a population's values wherever the architecture carries that many: graded spikes, SpiNNaker payloads, CPU words; rate-coded architectures keep their own narrower value_bits")
	fs.StringVar(&h.out, "out", filepath.Join("runs", "hwsim"), "directory for hwsim.json and the plots")
	fs.BoolVar(&h.quiet, "quiet", false, "no progress bar")
}

// check refuses bad values with one line, before anything loads.
func (h *hwsimFlags) check(fs *pflag.FlagSet) error {
	o := &h.Options
	if h.model == "" {
		return fmt.Errorf("hwsim: --model is required")
	}
	var err error
	if o.Modes, err = study.ParseModes(h.mode); err != nil {
		return fmt.Errorf("hwsim: --%w", err)
	}
	if o.Jitter, o.JitterSeconds, err = study.ParseJitter(h.jitter); err != nil {
		return fmt.Errorf("hwsim: --%w", err)
	}
	if h.fire != "own-error" && h.fire != "arrival" {
		return fmt.Errorf("hwsim: --fire %q: want own-error or arrival", h.fire)
	}
	o.FireOnArrival = h.fire == "arrival"
	if err := checkRules("hwsim",
		rule{"value-bits", o.ValueBits, o.ValueBits >= 2 && o.ValueBits <= 32, "2 to 32 bits"},
		rule{"batch", o.Batch, o.Batch >= 1, "at least 1 image"},
		rule{"budget", o.Budget, o.Budget >= 0, "0 (T) or more"},
		rule{"max-lag", o.MaxLag, o.MaxLag >= 0, "0 (no bound) or more"},
	); err != nil {
		return err
	}
	if err := h.dyn.check("hwsim", fs); err != nil {
		return err
	}
	if o.Encoding, err = h.enc.encoding("hwsim"); err != nil {
		return err
	}
	if o.Quantize && o.Encoding.Scheme != neuron.Dense {
		return fmt.Errorf("hwsim: --quantize is not modelled with --encoding %s", h.enc.scheme)
	}
	if err := checkRules("hwsim", rule{"max-images", h.df.maxImages, h.df.maxImages >= 0, "0 (all) or more"}); err != nil {
		return err
	}
	if err := report.CheckWritable(filepath.Join(h.out, "hwsim.json")); err != nil {
		return fmt.Errorf("hwsim: --out: %w", err)
	}
	if len(h.archs) == 0 {
		return fmt.Errorf("hwsim: --arch names no architecture")
	}
	return nil
}

func runHwsim(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "hwsim", "--model FILE [flags]", hwsimDoc)
	var h hwsimFlags
	h.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := h.check(fs); err != nil {
		return err
	}
	sp, err := data.ParseSplit(h.split)
	if err != nil {
		return err
	}
	m, err := ngc.Load(h.model)
	if err != nil {
		return err
	}
	if m, err = h.dyn.applyNoted(e, "hwsim", fs, m); err != nil {
		return err
	}
	if err := study.CheckModel(m); err != nil {
		return err
	}
	if h.Targets, err = study.LoadTargets(h.archs); err != nil {
		return fmt.Errorf("hwsim: --arch %w", err)
	}
	set, err := h.df.load(ctx, sp)
	if err != nil {
		return err
	}
	var bar *report.Progress
	h.Progress = func(p study.Progress) {
		if bar == nil {
			bar = report.NewProgress(e.stderr, h.quiet, p.Total, "hwsim")
		}
		bar.Set(p.Done, p.Desc)
	}
	rep, err := study.Run(ctx, m, set, h.Options)
	if err != nil {
		return err
	}
	bar.Done()
	rep.Command, rep.Model = append([]string{"ngc", "hwsim"}, args...), h.model
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	jsonPath, plots, err := rep.Save(h.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nreport: %s\nplots: %s\n", jsonPath, strings.Join(plots, ", "))
	return nil
}
