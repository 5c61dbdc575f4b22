package study

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/neuron"
)

// Target is one architecture of a study and where it came from.
type Target struct {
	*hwsim.Arch
	// Source is the built-in name or the JSON file the architecture was
	// loaded from, as the report records it.
	Source string
}

// LoadTargets loads architectures by built-in name or JSON file
// (hwsim.Load), in order. An error names the architecture that failed.
func LoadTargets(names []string) ([]Target, error) {
	ts := make([]Target, len(names))
	for i, name := range names {
		a, err := hwsim.Load(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ts[i] = Target{Arch: a, Source: name}
	}
	return ts, nil
}

// DefaultBatch is the mini-batch size of a study when Options.Batch is 0.
const DefaultBatch = 16

// Options configure a study. The zero value of every field but Targets is
// usable.
type Options struct {
	// Targets are the architectures to map the circuit onto, in report
	// order (at least one).
	Targets []Target
	// Modes are the dynamics to run in virtual time, in order (nil: sync,
	// then async).
	Modes []hwsim.Dynamics
	// Batch is the mini-batch size, images run together (0: DefaultBatch;
	// at most the set's size). Only full mini-batches run.
	Batch int
	// Budget is the async corrections per state map per mini-batch (0:
	// the model's T); MaxLag the async staleness bound in versions (0:
	// none).
	Budget, MaxLag int
	// FireOnArrival makes async state maps correct on any arrival instead
	// of when their own error advances (hwsim.EngineConfig.FireOnArrival).
	FireOnArrival bool
	// Jitter stretches every latency and compute time by up to this
	// fraction, and JitterSeconds adds up to this many seconds (see
	// hwsim.EngineConfig); ParseJitter reads either from text.
	Jitter, JitterSeconds float64
	// Seed seeds the jitter and the initial top states.
	Seed uint64
	// Quantize sends every map message at the architecture's value width
	// (Arch.ValueBits of ValueBits): rate codes at their own narrower
	// width, graded spikes, SpiNNaker payloads and CPU words at ValueBits
	// (2 to 32; 0: 32).
	Quantize  bool
	ValueBits int
	// Encoding, when sigma-delta, is compared against dense: every mode
	// and the training batch run under both, on the same images (the zero
	// value: dense only). It does not combine with Quantize.
	Encoding neuron.Encoding
	// SkipReference leaves out the timing of the batched reference on
	// this CPU (Report.Reference is then nil).
	SkipReference bool
	// Progress, when set, is called as the study advances: first with
	// Done 0 once the work is known, then after every mini-batch and every
	// architecture's training batch.
	Progress func(Progress)
}

// Progress is how far a study has come: Done of Total units of work (one
// unit per mini-batch per mode per architecture, and one per training
// batch), and what was just done ("" for nothing new to say).
type Progress struct {
	Done, Total int
	Desc        string
}

// check refuses options no study can run with.
func (o *Options) check() error {
	switch {
	case len(o.Targets) == 0:
		return fmt.Errorf("hwsim: no architecture to map onto")
	case o.Batch < 0:
		return fmt.Errorf("hwsim: batch %d: want at least 1 image", o.Batch)
	case o.Budget < 0 || o.MaxLag < 0:
		return fmt.Errorf("hwsim: budget %d, max lag %d: want 0 or more", o.Budget, o.MaxLag)
	case o.ValueBits != 0 && (o.ValueBits < 2 || o.ValueBits > 32):
		return fmt.Errorf("hwsim: value bits %d: want 2 to 32", o.ValueBits)
	case !(o.Jitter >= 0) || math.IsInf(o.Jitter, 0) || !(o.JitterSeconds >= 0) || math.IsInf(o.JitterSeconds, 0):
		return fmt.Errorf("hwsim: jitter %g + %g s: want finite values of 0 or more", o.Jitter, o.JitterSeconds)
	}
	if err := o.Encoding.Validate(); err != nil {
		return fmt.Errorf("hwsim: %w", err)
	}
	if o.Quantize && o.Encoding.Scheme != neuron.Dense {
		return fmt.Errorf("hwsim: quantised values are not modelled with %v messages", o.Encoding)
	}
	for i, t := range o.Targets {
		if t.Arch == nil {
			return fmt.Errorf("hwsim: target %d (%q) has no architecture", i, t.Source)
		}
	}
	for _, m := range o.Modes {
		if m != hwsim.SyncDynamics && m != hwsim.AsyncDynamics {
			return fmt.Errorf("hwsim: unknown dynamics %d", m)
		}
	}
	return nil
}

// ParseModes reads "sync", "async" or "both" (sync, then async).
func ParseModes(s string) ([]hwsim.Dynamics, error) {
	switch s {
	case "sync":
		return []hwsim.Dynamics{hwsim.SyncDynamics}, nil
	case "async":
		return []hwsim.Dynamics{hwsim.AsyncDynamics}, nil
	case "both":
		return []hwsim.Dynamics{hwsim.SyncDynamics, hwsim.AsyncDynamics}, nil
	}
	return nil, fmt.Errorf("mode %q (want sync, async or both)", s)
}

// ParseJitter reads a jitter as a fraction ("0.25": up to +25%) or a
// duration ("50ns": up to +50 ns), returning one of the two (the other 0).
func ParseJitter(s string) (frac, seconds float64, err error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, 0, fmt.Errorf("jitter %q: want a fraction ≥ 0 or a duration such as 50ns", s)
		}
		return f, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, 0, fmt.Errorf("jitter %q: want a fraction ≥ 0 or a duration such as 50ns", s)
	}
	return 0, d.Seconds(), nil
}
