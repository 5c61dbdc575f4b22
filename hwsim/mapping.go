package hwsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Options adjust Map.
type Options struct {
	// MaxChips caps the chips Map may use; 0 means the architecture's
	// system.max_chips.
	MaxChips int
	// IgnoreAxonLimits makes Map split populations only for neuron and
	// synapse capacity; axon overflow is then only reported as
	// Violations. By default Map also splits so that every core's
	// estimated fan-in and fan-out stay within the axon limits.
	IgnoreAxonLimits bool
	// Fill is the fraction (0, 1] of each core's neurons and synapse
	// memory Map may use; 0 means 1. Lower values spread a circuit over
	// more cores, trading chips for latency.
	Fill float64
}

// Part is the piece of one population placed on one core: units
// [First, First+Units) of the population's per-image units.
type Part struct {
	Population int   // index into Mapping.Circuit.Populations
	Core       int   // index into Mapping.Cores
	First      int   // first unit of the piece
	Units      int   // units of the piece
	Neurons    int   // hardware neurons it uses (see Mapping)
	Synapses   int64 // weights it stores on the core
}

// Core is one used core.
type Core struct {
	Chip         int // index of its chip, in placement order
	ChipX, ChipY int // the chip's position on the chip mesh
	X, Y         int // the core's position on the global core mesh
	Neurons      int
	Synapses     int64   // weights stored
	AxonsIn      int     // estimated input axons (see Mapping)
	AxonsOut     int     // output axons after placement (see Mapping)
	SynapticOps  float64 // the core's share of synaptic operations per image-step
	Parts        []int   // indices into Mapping.Parts
}

// Route is where a link's traffic goes after placement. Hops are averaged
// over the value flow between the parts of the two populations (a value
// of source part s goes to destination part d in proportion to d's share of
// the destination's units).
type Route struct {
	From, To     int // population indices
	Values       int // values per message per image
	MeanHops     float64
	MaxHops      int
	MeanChipHops float64
	MaxChipHops  int
}

// ViolationKind names an axon limit.
type ViolationKind string

// The axon limits a core can break.
const (
	FanIn  ViolationKind = "fan-in"
	FanOut ViolationKind = "fan-out"
)

// Violation is a core whose axons exceed the architecture's limit.
type Violation struct {
	Core        int
	Kind        ViolationKind
	Have, Limit int
}

// Mapping is a circuit placed on an architecture.
//
// Model (see the package documentation for the reasoning):
//
//   - A unit needs values.neurons_per_unit hardware neurons (2 for an
//     on/off pair under rate coding), times ⌈destinations / neuron_fan_out⌉
//     copies when a neuron can target fewer cores than the unit must reach
//     (splitter neurons, TrueNorth).
//   - Stored weights: with a shared synapse layout every core hosting a part
//     of a population holds the population's Synapses once; with an
//     unrolled layout a part of k of N units holds ⌈SynapticOps·k/N⌉. Both
//     are multiplied by neurons_per_unit (an on/off pair needs both signs).
//   - Input axons of a core: for each source population, the share of its
//     values the core's parts need (a part of k of N units needs k/N of each
//     incoming message, halo rows ignored), capped at the whole message,
//     times neurons_per_unit.
//   - Output axons of a part: units × neurons_per_unit × destination cores,
//     where a destination population on one core counts that core once and
//     a split destination counts one core (a unit reaches one part of it).
//     While packing, destinations are not placed yet, so Map estimates
//     them as min(destination populations, ⌈destination neurons / core
//     neurons⌉); the final count is computed after placement.
type Mapping struct {
	Arch    *Arch   // the mapping's own copy of the architecture
	Circuit Circuit // the mapping's own copy of the circuit
	Parts   []Part  // grouped by population, in circuit order
	Cores   []Core
	Routes  []Route // one per link, in circuit order

	Chips                         int
	ChipGridWidth, ChipGridHeight int

	// Violations lists cores over an axon limit, in core order.
	Violations []Violation

	// NeuronUtilization and SynapseUtilization are the used fractions of
	// the neurons and synapse memory of the used cores; 0 when the
	// architecture sets no limit.
	NeuronUtilization, SynapseUtilization float64

	// StoredSynapses counts the weights stored over all cores;
	// DistinctSynapses the weights the circuit owns (Σ Synapses).
	StoredSynapses, DistinctSynapses int64

	// MeanHops and MeanChipHops average the routes' hops weighted by
	// values per message; MaxHops and MaxChipHops are the longest routes.
	MeanHops, MeanChipHops float64
	MaxHops, MaxChipHops   int
}

// Replication is StoredSynapses / DistinctSynapses: how many stored weights
// one kernel-tap update touches (1 when the circuit owns no synapses).
func (m *Mapping) Replication() float64 {
	if m.DistinctSynapses == 0 || m.StoredSynapses == 0 {
		return 1
	}
	return float64(m.StoredSynapses) / float64(m.DistinctSynapses)
}

// PartsOf returns the parts of the named population (nil if unknown).
func (m *Mapping) PartsOf(name string) []Part {
	lo, hi := -1, -1
	for i, p := range m.Parts {
		if m.Circuit.Populations[p.Population].Name == name {
			if lo < 0 {
				lo = i
			}
			hi = i + 1
		}
	}
	if lo < 0 {
		return nil
	}
	return m.Parts[lo:hi]
}

// Split returns the names of the populations placed on more than one core.
func (m *Mapping) Split() []string {
	var names []string
	for i := 0; i < len(m.Parts); {
		j := i
		for j < len(m.Parts) && m.Parts[j].Population == m.Parts[i].Population {
			j++
		}
		if j-i > 1 {
			names = append(names, m.Circuit.Populations[m.Parts[i].Population].Name)
		}
		i = j
	}
	return names
}

// Summary describes the mapping in one line.
func (m *Mapping) Summary() string {
	var in, out int
	for _, v := range m.Violations {
		if v.Kind == FanIn {
			in++
		} else {
			out++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d populations on %s, %s", m.Arch.Name,
		len(m.Circuit.Populations), plural(len(m.Cores), "core"), plural(m.Chips, "chip"))
	if m.Arch.Core.Neurons.Value > 0 {
		fmt.Fprintf(&b, "; neurons %.0f%%", 100*m.NeuronUtilization)
	}
	if m.Arch.Core.SynapseMemoryBits.Value > 0 {
		fmt.Fprintf(&b, ", synapse memory %.0f%%", 100*m.SynapseUtilization)
	}
	fmt.Fprintf(&b, "; %d split; mean %.2f hops (max %d), mean %.2f chip hops (max %d); %d fan-in and %d fan-out violations",
		len(m.Split()), m.MeanHops, m.MaxHops, m.MeanChipHops, m.MaxChipHops, in, out)
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// popInfo holds per-population quantities Map needs.
type popInfo struct {
	in      []flow // incoming values per source
	dests   []int  // distinct destination populations
	npu     int    // hardware neurons per unit (coding × splitter copies)
	outEst  int    // estimated destination cores per unit while packing
	synapse int64  // stored weights of the whole population (unrolled) or of one copy (shared)
}

type flow struct {
	src    int
	values float64 // values per message per image, × neurons_per_unit
}

// coreState is a core under construction.
type coreState struct {
	neurons  int
	synapses int64
	need     map[int]float64 // input values needed per source population
	axonsIn  float64
	axonsOut int // estimate while packing
	parts    []int
}

// packer fills cores with population parts.
type packer struct {
	arch        *Arch
	pops        []Population
	infos       []popInfo
	capN, capS  int64   // neurons and weights per core (0: no limit)
	capIn       float64 // input axons per core (0: no limit)
	capOut      int64   // output axons per core (0: no limit)
	npuc        int     // neurons per unit from the value coding
	cpc         int     // cores per chip
	maxChips    int
	unroll      bool
	ignoreAxons bool

	parts []Part
	cores []*coreState
}

// Map places a circuit on an architecture: populations onto cores in
// circuit order (splitting one over several cores when it exceeds a core's
// neuron, synapse or, unless opts.IgnoreAxonLimits, axon capacity; a
// population that must be split starts on a fresh core), cores onto chips,
// and chips onto a square-ish 2-D mesh, each filled along a serpentine path
// so consecutive cores and chips are neighbours. It is deterministic.
//
// It returns ErrInvalidCircuit for a malformed circuit and ErrDoesNotFit
// when a single unit (or, with a shared layout, one copy of a population's
// kernels) exceeds an empty core, or when more chips than allowed are needed.
func Map(c Circuit, a *Arch, opts Options) (*Mapping, error) {
	if a == nil {
		return nil, fmt.Errorf("hwsim: Map: nil architecture")
	}
	if err := a.validate(a.Name); err != nil {
		return nil, err
	}
	idx, err := c.index()
	if err != nil {
		return nil, err
	}
	// The mapping keeps its own copies, so later edits by the caller do
	// not change it.
	arch := *a
	a = &arch
	c = Circuit{Populations: slices.Clone(c.Populations), Links: slices.Clone(c.Links)}
	if opts.MaxChips < 0 {
		return nil, fmt.Errorf("hwsim: Map: negative MaxChips %d", opts.MaxChips)
	}
	fill := opts.Fill
	if fill == 0 {
		fill = 1
	}
	if !(fill > 0 && fill <= 1) {
		return nil, fmt.Errorf("hwsim: Map: Fill %g outside (0, 1]", opts.Fill)
	}
	p := &packer{
		arch:        a,
		pops:        c.Populations,
		infos:       make([]popInfo, len(c.Populations)),
		capN:        int64(a.Core.Neurons.Value * fill),
		capS:        int64(float64(a.synapseCapacity()) * fill),
		capIn:       a.Core.FanInAxons.Value,
		capOut:      a.Core.FanOutAxons.int64v(),
		npuc:        int(a.Values.NeuronsPerUnit.Value),
		cpc:         int(a.Chip.Cores.Value),
		maxChips:    int(a.System.MaxChips.Value),
		unroll:      a.Core.SynapseLayout == Unrolled,
		ignoreAxons: opts.IgnoreAxonLimits,
	}
	if opts.MaxChips > 0 {
		p.maxChips = opts.MaxChips
	}
	p.prepare(c.Links, idx)

	// Fan-out estimates are refined from the placement until no core that
	// breaks the fan-out limit hosts a population whose estimate was too
	// low; estimates only grow (up to the destination count), so this ends.
	for {
		if err := p.pack(); err != nil {
			return nil, err
		}
		m := &Mapping{Arch: a, Circuit: c, Parts: p.parts}
		targets := m.layout(p.cores, p.infos)
		changed := false
		if !opts.IgnoreAxonLimits {
			for _, v := range m.Violations {
				if v.Kind != FanOut {
					continue
				}
				for _, pi := range m.Cores[v.Core].Parts {
					i := m.Parts[pi].Population
					if targets[i] > p.infos[i].outEst {
						p.infos[i].outEst = targets[i]
						changed = true
					}
				}
			}
		}
		if !changed {
			m.route(idx)
			return m, nil
		}
	}
}

// prepare fills the per-population information from the links.
func (p *packer) prepare(links []Link, idx map[string]int) {
	seen := make(map[[2]int]bool)
	for _, l := range links {
		s, d := idx[l.From], idx[l.To]
		p.infos[d].in = append(p.infos[d].in, flow{s, float64(l.ValuesPerMsg) * float64(p.npuc)})
		if !seen[[2]int{s, d}] {
			seen[[2]int{s, d}] = true
			p.infos[s].dests = append(p.infos[s].dests, d)
		}
	}
	nfo := int(p.arch.Core.NeuronFanOut.Value)
	for i := range p.infos {
		inf := &p.infos[i]
		inf.npu = p.npuc
		if n := len(inf.dests); nfo > 0 && n > nfo {
			inf.npu *= (n + nfo - 1) / nfo // splitter copies
		}
		if p.unroll {
			inf.synapse = p.pops[i].SynapticOps * int64(p.npuc)
		} else {
			inf.synapse = int64(p.pops[i].Synapses) * int64(p.npuc)
		}
	}
	// Destination cores per unit, estimated as if the destinations were
	// packed densely.
	for i := range p.infos {
		inf := &p.infos[i]
		inf.outEst = len(inf.dests)
		if p.capN > 0 {
			var dn int64
			for _, d := range inf.dests {
				dn += int64(p.pops[d].Neurons) * int64(p.infos[d].npu)
			}
			inf.outEst = min(inf.outEst, int((dn+p.capN-1)/p.capN))
		}
	}
}

func (p *packer) newCore(placing int) error {
	if (len(p.cores)+p.cpc)/p.cpc > p.maxChips {
		return fmt.Errorf("%w on %s: %s needs more than %d chips of %d cores",
			ErrDoesNotFit, p.arch.Name, p.pops[placing].Name, p.maxChips, p.cpc)
	}
	p.cores = append(p.cores, &coreState{need: make(map[int]float64)})
	return nil
}

// inAxons returns the core's input axons if k units of population i were
// added to it.
func (p *packer) inAxons(cs *coreState, i, k int) float64 {
	sum := cs.axonsIn
	n := float64(p.pops[i].Neurons)
	for _, f := range p.infos[i].in {
		have := cs.need[f.src]
		sum += math.Min(f.values, have+f.values*float64(k)/n) - math.Min(f.values, have)
	}
	return sum
}

// fit returns how many of the remaining units of population i the core can
// still take by hard capacity (neurons, synapses; why names the binding
// one) and by axon limits.
func (p *packer) fit(cs *coreState, i, remaining int) (hard, axon int, why string) {
	hard, axon = remaining, remaining
	inf := &p.infos[i]
	if p.capN > 0 {
		if k := int((p.capN - int64(cs.neurons)) / int64(inf.npu)); k < hard {
			hard, why = k, "neurons"
		}
	}
	if p.capS > 0 && inf.synapse > 0 {
		free := p.capS - cs.synapses
		k := 0
		if p.unroll {
			k = int(min(int64(remaining), free*int64(p.pops[i].Neurons)/inf.synapse))
		} else if inf.synapse <= free {
			k = remaining
		}
		if k < hard {
			hard, why = k, "synapse memory"
		}
	}
	if p.ignoreAxons {
		return hard, axon, why
	}
	if p.capOut > 0 && inf.outEst > 0 {
		per := int64(p.npuc) * int64(inf.outEst)
		if k := int((p.capOut - int64(cs.axonsOut)) / per); k < axon {
			axon = max(k, 0)
		}
	}
	if p.capIn > 0 && len(inf.in) > 0 && p.inAxons(cs, i, axon) > p.capIn {
		// Largest k with inAxons(k) ≤ capIn; inAxons grows with k.
		lo, hi := -1, axon
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if p.inAxons(cs, i, mid) <= p.capIn {
				lo = mid
			} else {
				hi = mid
			}
		}
		axon = max(lo, 0)
	}
	return hard, axon, why
}

// pack places every population with the current estimates.
func (p *packer) pack() error {
	p.parts, p.cores = nil, nil
	for i, pop := range p.pops {
		inf := &p.infos[i]
		first, remaining := 0, pop.Neurons
		for remaining > 0 {
			if len(p.cores) == 0 {
				if err := p.newCore(i); err != nil {
					return err
				}
			}
			cs := p.cores[len(p.cores)-1]
			hard, axon, why := p.fit(cs, i, remaining)
			k := min(hard, axon)
			if k < remaining && len(cs.parts) > 0 {
				// Keep a population whole on a fresh core when it can be,
				// and start a split population on a fresh core.
				if err := p.newCore(i); err != nil {
					return err
				}
				continue
			}
			if k < 1 {
				if hard < 1 {
					return fmt.Errorf("%w on %s: one unit of %s exceeds an empty core's %s",
						ErrDoesNotFit, p.arch.Name, pop.Name, why)
				}
				// Even one unit breaks an axon limit: place what fits by
				// hard capacity and let the violation be reported.
				k = hard
			}
			syn := inf.synapse // shared: one copy per core
			if p.unroll {
				syn = (syn*int64(k) + int64(pop.Neurons) - 1) / int64(pop.Neurons)
			}
			cs.axonsIn = p.inAxons(cs, i, k)
			for _, f := range inf.in {
				cs.need[f.src] += f.values * float64(k) / float64(pop.Neurons)
			}
			cs.neurons += k * inf.npu
			cs.synapses += syn
			cs.axonsOut += k * p.npuc * inf.outEst
			cs.parts = append(cs.parts, len(p.parts))
			p.parts = append(p.parts, Part{
				Population: i, Core: len(p.cores) - 1, First: first, Units: k,
				Neurons: k * inf.npu, Synapses: syn,
			})
			first += k
			remaining -= k
		}
	}
	return nil
}

// layout assigns chips and mesh positions, final axon counts, utilisation
// and violations. It returns the destination cores per unit of every
// population.
func (m *Mapping) layout(cores []*coreState, infos []popInfo) []int {
	a := m.Arch
	cpc := int(a.Chip.Cores.Value)
	gw, gh := int(a.Chip.GridWidth.Value), int(a.Chip.GridHeight.Value)
	m.Chips = (len(cores) + cpc - 1) / cpc
	m.ChipGridWidth = int(math.Ceil(math.Sqrt(float64(m.Chips))))
	m.ChipGridHeight = (m.Chips + m.ChipGridWidth - 1) / m.ChipGridWidth
	m.Cores = make([]Core, len(cores))
	for ci, cs := range cores {
		chip, local := ci/cpc, ci%cpc
		cx, cy := serpentine(chip, m.ChipGridWidth)
		lx, ly := serpentine(local, gw)
		m.Cores[ci] = Core{
			Chip: chip, ChipX: cx, ChipY: cy,
			X: cx*gw + lx, Y: cy*gh + ly,
			Neurons: cs.neurons, Synapses: cs.synapses,
			AxonsIn: int(math.Ceil(cs.axonsIn - 1e-9)),
			Parts:   cs.parts,
		}
	}
	// Cores hosting each population, for the final fan-out count.
	popCores := make([][]int, len(m.Circuit.Populations))
	for _, p := range m.Parts {
		popCores[p.Population] = append(popCores[p.Population], p.Core)
	}
	npuc := int(a.Values.NeuronsPerUnit.Value)
	targets := make([]int, len(infos))
	for i, inf := range infos {
		seen := make(map[int]bool)
		for _, d := range inf.dests {
			if len(popCores[d]) > 1 {
				targets[i]++ // a unit reaches one part of a split population
				continue
			}
			if c := popCores[d][0]; !seen[c] {
				seen[c] = true
				targets[i]++
			}
		}
	}
	for _, p := range m.Parts {
		pop := m.Circuit.Populations[p.Population]
		core := &m.Cores[p.Core]
		core.AxonsOut += p.Units * npuc * targets[p.Population]
		core.SynapticOps += float64(pop.SynapticOps) * float64(p.Units) / float64(pop.Neurons)
		m.StoredSynapses += p.Synapses
	}
	for _, p := range m.Circuit.Populations {
		m.DistinctSynapses += int64(p.Synapses)
	}
	var neurons int64
	for ci, c := range m.Cores {
		neurons += int64(c.Neurons)
		if lim := int(a.Core.FanInAxons.Value); lim > 0 && c.AxonsIn > lim {
			m.Violations = append(m.Violations, Violation{ci, FanIn, c.AxonsIn, lim})
		}
		if lim := int(a.Core.FanOutAxons.Value); lim > 0 && c.AxonsOut > lim {
			m.Violations = append(m.Violations, Violation{ci, FanOut, c.AxonsOut, lim})
		}
	}
	if capN := a.Core.Neurons.Value; capN > 0 {
		m.NeuronUtilization = float64(neurons) / (capN * float64(len(m.Cores)))
	}
	if bits := a.Core.SynapseMemoryBits.Value; bits > 0 {
		m.SynapseUtilization = float64(m.StoredSynapses) * a.Core.WeightBits.Value / (bits * float64(len(m.Cores)))
	}
	return targets
}

// serpentine returns the position of the i-th cell of a boustrophedon walk
// over rows of width w: consecutive cells are always neighbours.
func serpentine(i, w int) (x, y int) {
	y, x = i/w, i%w
	if y%2 == 1 {
		x = w - 1 - x
	}
	return x, y
}

// hops returns the mesh hops and chip hops between two cores.
func (m *Mapping) hops(a, b int) (core, chip int) {
	ca, cb := &m.Cores[a], &m.Cores[b]
	chip = abs(ca.ChipX-cb.ChipX) + abs(ca.ChipY-cb.ChipY)
	if m.Arch.Chip.Interconnect == Mesh {
		core = abs(ca.X-cb.X) + abs(ca.Y-cb.Y)
	}
	return core, chip
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// route computes the hops of every link.
func (m *Mapping) route(idx map[string]int) {
	pops := m.Circuit.Populations
	partsOf := make([][]Part, len(pops))
	for _, p := range m.Parts {
		partsOf[p.Population] = append(partsOf[p.Population], p)
	}
	var total, sumHops, sumChip float64
	for _, l := range m.Circuit.Links {
		s, d := idx[l.From], idx[l.To]
		r := Route{From: s, To: d, Values: l.ValuesPerMsg}
		ns, nd := float64(pops[s].Neurons), float64(pops[d].Neurons)
		for _, ps := range partsOf[s] {
			for _, pd := range partsOf[d] {
				w := float64(ps.Units) / ns * float64(pd.Units) / nd
				h, ch := m.hops(ps.Core, pd.Core)
				r.MeanHops += w * float64(h)
				r.MeanChipHops += w * float64(ch)
				r.MaxHops = max(r.MaxHops, h)
				r.MaxChipHops = max(r.MaxChipHops, ch)
			}
		}
		m.Routes = append(m.Routes, r)
		v := float64(l.ValuesPerMsg)
		total += v
		sumHops += v * r.MeanHops
		sumChip += v * r.MeanChipHops
		m.MaxHops = max(m.MaxHops, r.MaxHops)
		m.MaxChipHops = max(m.MaxChipHops, r.MaxChipHops)
	}
	if total > 0 {
		m.MeanHops = sumHops / total
		m.MeanChipHops = sumChip / total
	}
}
