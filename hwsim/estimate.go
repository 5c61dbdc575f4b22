package hwsim

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Counts are events of a run, as the runtime's probes or the analytic
// Network methods count them. Every field is summed over the images the
// counts cover, because hardware processes one image at a time: a
// mini-batch of B images run for T steps has Images = B and Steps = B·T, and
// one batched message of a B×H×W map counts B messages and B·H·W values.
type Counts struct {
	// Label says what the counts cover, e.g. "reconstruction, T=60"; it is
	// copied to the Cost.
	Label string
	// Images is the number of images covered; 0 is taken as 1.
	Images int64
	// Steps is the number of algorithmic time steps, summed over images.
	Steps int64
	// Messages is the number of (link, step, image) messages; reported,
	// not costed (Values are).
	Messages int64
	// Values is the number of graded values delivered over links.
	Values int64
	// SynapticOps is the number of multiply-accumulates (predictions,
	// feedback and, when learning, gradient accumulation).
	SynapticOps int64
	// NeuronUpdates is the number of unit updates (error computations and
	// state corrections), one per unit per step.
	NeuronUpdates int64
	// WeightUpdates is the number of distinct weights written (kernel taps
	// and biases); each touches Mapping.Replication stored copies.
	WeightUpdates int64
	// WeightTransportMsgs and WeightTransportValues count the messages and
	// values that carry new kernels to the state maps (tied mode).
	WeightTransportMsgs, WeightTransportValues int64
	// Barriers is the number of global synchronisations, summed over
	// images: one per step on barrier-synchronised hardware running the
	// sync dynamics (Steps), 0 for free-running asynchronous dynamics.
	Barriers int64
}

// Add returns the field-wise sum of c and d; the label is c's.
func (c Counts) Add(d Counts) Counts {
	c.Images += d.Images
	c.Steps += d.Steps
	c.Messages += d.Messages
	c.Values += d.Values
	c.SynapticOps += d.SynapticOps
	c.NeuronUpdates += d.NeuronUpdates
	c.WeightUpdates += d.WeightUpdates
	c.WeightTransportMsgs += d.WeightTransportMsgs
	c.WeightTransportValues += d.WeightTransportValues
	c.Barriers += d.Barriers
	return c
}

// Scale returns c with every count multiplied by k.
func (c Counts) Scale(k int64) Counts {
	c.Images *= k
	c.Steps *= k
	c.Messages *= k
	c.Values *= k
	c.SynapticOps *= k
	c.NeuronUpdates *= k
	c.WeightUpdates *= k
	c.WeightTransportMsgs *= k
	c.WeightTransportValues *= k
	c.Barriers *= k
	return c
}

func (c Counts) check() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Images", c.Images}, {"Steps", c.Steps}, {"Messages", c.Messages}, {"Values", c.Values},
		{"SynapticOps", c.SynapticOps}, {"NeuronUpdates", c.NeuronUpdates},
		{"WeightUpdates", c.WeightUpdates}, {"WeightTransportMsgs", c.WeightTransportMsgs},
		{"WeightTransportValues", c.WeightTransportValues}, {"Barriers", c.Barriers},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s = %d", ErrInvalidCounts, f.name, f.v)
		}
	}
	return nil
}

// Kind is a kind of hardware event in a Cost breakdown.
type Kind int

// The kinds of events energy is charged for.
const (
	SynapticOps     Kind = iota // synaptic operations (× spikes per value)
	NeuronUpdates               // neuron updates (× ticks per step × neurons per unit)
	Messages                    // packets delivered (values × spikes per value)
	Hops                        // packet hops on the mesh and across chips
	Barriers                    // barrier synchronisations × used cores
	WeightUpdates               // stored weights written
	WeightTransport             // packets carrying kernels (with their hops)
	Static                      // static power × used chips × latency
	NumKinds                    // number of kinds
)

var kindNames = [NumKinds]string{
	"synaptic ops", "neuron updates", "messages", "hops", "barriers",
	"weight updates", "weight transport", "static",
}

func (k Kind) String() string {
	if k < 0 || k >= NumKinds {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Cost is an energy and latency estimate with its breakdown.
type Cost struct {
	Arch   string // architecture name
	Label  string // Counts.Label
	Images int64  // images covered (at least 1)

	Energy  float64 // joules, all images
	Latency float64 // seconds, all images processed one after another

	// EnergyBy breaks Energy down by kind; Events holds the hardware
	// events behind each term (for Static: chip-seconds; for Hops: packet
	// hops plus packet chip hops).
	EnergyBy [NumKinds]float64
	Events   [NumKinds]float64

	// Latency breakdown: the busiest core's computation, packet transit
	// (on the longest route, every hardware time step), barriers, idle time
	// up to the architecture's fixed tick, and learning (weight updates and
	// transport).
	Compute, Communication, Barrier, Idle, Learning float64

	// Warnings says what the estimate leaves out.
	Warnings []string
}

// EnergyPerImage is Energy / Images.
func (c Cost) EnergyPerImage() float64 { return c.Energy / float64(c.Images) }

// LatencyPerImage is Latency / Images.
func (c Cost) LatencyPerImage() float64 { return c.Latency / float64(c.Images) }

// String summarises the cost in one line, per image.
func (c Cost) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", c.Arch)
	if c.Label != "" {
		fmt.Fprintf(&b, " (%s)", c.Label)
	}
	fmt.Fprintf(&b, ": %.4g J and %.4g s per image", c.EnergyPerImage(), c.LatencyPerImage())
	var parts []string
	for k := Kind(0); k < NumKinds; k++ {
		if c.EnergyBy[k] > 0 && c.Energy > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", k, 100*c.EnergyBy[k]/c.Energy))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(parts, ", "))
	}
	return b.String()
}

// Estimate returns the energy and latency of counted events on a mapped
// circuit.
//
// Energy: every count is turned into hardware events (SynapticOps ×
// spikes_per_value; NeuronUpdates × ticks_per_step × neurons_per_unit;
// packets = Values × spikes_per_value, each paying energy.message plus
// Mapping.MeanHops mesh hops and MeanChipHops chip hops; Barriers ×
// ticks_per_step × used cores; WeightUpdates × Mapping.Replication) and
// priced per event; static power is paid per used chip for the whole
// latency.
//
// Latency: cores run in parallel, so computation costs the busiest core's
// share of synaptic operations and neuron updates (shares from the
// mapping); every hardware time step adds packet transit on the longest
// route and, when Barriers > 0, a barrier; a time step lasts at least
// latency.tick. Weight updates cost the share of the core storing most
// weights; weight transport is spread over the used cores. It is linear in
// the counts.
func Estimate(m *Mapping, c Counts) (Cost, error) {
	if m == nil || m.Arch == nil || len(m.Cores) == 0 {
		return Cost{}, fmt.Errorf("hwsim: Estimate: empty mapping")
	}
	if err := c.check(); err != nil {
		return Cost{}, err
	}
	a := m.Arch
	e, t := &a.Energy, &a.Latency
	out := Cost{Arch: a.Name, Label: c.Label, Images: max(c.Images, 1)}

	spv := a.Values.SpikesPerValue.Value
	tps := a.Values.TicksPerStep.Value
	npu := a.Values.NeuronsPerUnit.Value
	ncores := float64(len(m.Cores))

	syn := float64(c.SynapticOps) * spv
	neu := float64(c.NeuronUpdates) * tps * npu
	pkts := float64(c.Values) * spv
	hops := pkts * m.MeanHops
	chipHops := pkts * m.MeanChipHops
	ticks := float64(c.Steps) * tps
	barriers := float64(c.Barriers) * tps
	wupd := float64(c.WeightUpdates) * m.Replication()
	wt := float64(c.WeightTransportValues) * spv
	if !a.OnChipLearning && (c.WeightUpdates > 0 || c.WeightTransportValues > 0) {
		out.Warnings = append(out.Warnings, fmt.Sprintf(
			"%s has no on-chip learning: %d weight updates and %d transported values are not costed",
			a.Name, c.WeightUpdates, c.WeightTransportValues))
		wupd, wt = 0, 0
	}

	out.Events[SynapticOps] = syn
	out.Events[NeuronUpdates] = neu
	out.Events[Messages] = pkts
	out.Events[Hops] = hops + chipHops
	out.Events[Barriers] = barriers * ncores
	out.Events[WeightUpdates] = wupd
	out.Events[WeightTransport] = wt

	out.EnergyBy[SynapticOps] = syn * e.SynapticOp.Value
	out.EnergyBy[NeuronUpdates] = neu * e.NeuronUpdate.Value
	out.EnergyBy[Messages] = pkts * e.Message.Value
	out.EnergyBy[Hops] = hops*e.Hop.Value + chipHops*e.ChipHop.Value
	out.EnergyBy[Barriers] = barriers * ncores * e.BarrierPerCore.Value
	out.EnergyBy[WeightUpdates] = wupd * e.WeightUpdate.Value
	out.EnergyBy[WeightTransport] = wt * (e.Message.Value + m.MeanHops*e.Hop.Value + m.MeanChipHops*e.ChipHop.Value)

	// Shares of work of each core.
	var sumOps, sumNeu, sumSyn float64
	for _, core := range m.Cores {
		sumOps += core.SynapticOps
		sumNeu += float64(core.Neurons)
		sumSyn += float64(core.Synapses)
	}
	for _, core := range m.Cores {
		ns := 1 / ncores
		if sumNeu > 0 {
			ns = float64(core.Neurons) / sumNeu
		}
		ops, ws := ns, ns
		if sumOps > 0 {
			ops = core.SynapticOps / sumOps
		}
		if sumSyn > 0 {
			ws = float64(core.Synapses) / sumSyn
		}
		out.Compute = math.Max(out.Compute, ops*syn*t.SynapticOp.Value+ns*neu*t.NeuronUpdate.Value)
		out.Learning = math.Max(out.Learning, ws*wupd*t.WeightUpdate.Value)
	}
	if pkts > 0 {
		out.Communication = ticks * (t.Message.Value + float64(m.MaxHops)*t.Hop.Value + float64(m.MaxChipHops)*t.ChipHop.Value)
	}
	out.Barrier = barriers * t.Barrier.Value
	busy := out.Compute + out.Communication + out.Barrier
	out.Idle = math.Max(0, ticks*t.Tick.Value-busy)
	out.Learning += wt / ncores * (t.Message.Value + m.MeanHops*t.Hop.Value + m.MeanChipHops*t.ChipHop.Value)
	out.Latency = busy + out.Idle + out.Learning

	out.Events[Static] = float64(m.Chips) * out.Latency
	out.EnergyBy[Static] = out.Events[Static] * e.StaticPower.Value
	for _, v := range out.EnergyBy {
		out.Energy += v
	}
	if e.StaticPower.Value == 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s: static power is 0 (see energy.static_power's note)", a.Name))
	}
	return out, nil
}

// EstimateWallTime is the CPU's second energy path: a measured wall time
// of a run covering images images, times the architecture's
// energy.package_power. It fails for an architecture without a package
// power (every neuromorphic one).
func EstimateWallTime(a *Arch, wall time.Duration, images int64, label string) (Cost, error) {
	if a == nil {
		return Cost{}, fmt.Errorf("hwsim: EstimateWallTime: nil architecture")
	}
	if wall < 0 || images < 0 {
		return Cost{}, fmt.Errorf("%w: wall time %v, %d images", ErrInvalidCounts, wall, images)
	}
	p := a.Energy.PackagePower.Value
	if !(p > 0) || math.IsInf(p, 0) {
		return Cost{}, fmt.Errorf("hwsim: %s has no energy.package_power; wall-time energy needs one", a.Name)
	}
	s := wall.Seconds()
	out := Cost{Arch: a.Name, Label: label, Images: max(images, 1), Latency: s, Energy: s * p, Compute: s}
	out.EnergyBy[Static] = out.Energy
	out.Events[Static] = s
	if a.Energy.PackagePower.Provenance == Assumed {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s: package power %.3g W is an assumption (%s)",
			a.Name, p, a.Energy.PackagePower.Note))
	}
	return out, nil
}
