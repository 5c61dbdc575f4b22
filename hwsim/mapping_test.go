package hwsim

import (
	"errors"
	"reflect"
	"testing"
)

func paperCircuit(t *testing.T) Circuit {
	t.Helper()
	c, err := CircuitOf(PaperNetwork(), Reconstruct, 16)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustLoad(t *testing.T, name string) *Arch {
	t.Helper()
	a, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkInvariants verifies what every mapping must satisfy.
func checkInvariants(t *testing.T, m *Mapping) {
	t.Helper()
	a := m.Arch
	units := make([]int, len(m.Circuit.Populations))
	next := make([]int, len(m.Circuit.Populations))
	for pi, p := range m.Parts {
		if p.First != next[p.Population] {
			t.Fatalf("part %d of %s starts at %d, want %d", pi, m.Circuit.Populations[p.Population].Name, p.First, next[p.Population])
		}
		next[p.Population] += p.Units
		units[p.Population] += p.Units
		found := false
		for _, q := range m.Cores[p.Core].Parts {
			found = found || q == pi
		}
		if !found {
			t.Fatalf("part %d missing from core %d", pi, p.Core)
		}
	}
	for i, p := range m.Circuit.Populations {
		if units[i] != p.Neurons {
			t.Errorf("%s: %d units placed of %d", p.Name, units[i], p.Neurons)
		}
	}
	cpc := int(a.Chip.Cores.Value)
	if want := (len(m.Cores) + cpc - 1) / cpc; m.Chips != want {
		t.Errorf("%d chips for %d cores of %d per chip", m.Chips, len(m.Cores), cpc)
	}
	for ci, c := range m.Cores {
		if n := a.Core.Neurons.Value; n > 0 && float64(c.Neurons) > n {
			t.Errorf("core %d: %d neurons > %g", ci, c.Neurons, n)
		}
		if s := a.synapseCapacity(); s > 0 && c.Synapses > s {
			t.Errorf("core %d: %d weights > %d", ci, c.Synapses, s)
		}
		if c.Chip != ci/cpc {
			t.Errorf("core %d on chip %d", ci, c.Chip)
		}
	}
	// Consecutive cores on one chip are mesh neighbours.
	for ci := 1; ci < len(m.Cores); ci++ {
		if m.Cores[ci].Chip == m.Cores[ci-1].Chip && a.Chip.Interconnect == Mesh {
			if h, _ := m.hops(ci-1, ci); h != 1 {
				t.Fatalf("cores %d and %d are %d hops apart", ci-1, ci, h)
			}
		}
	}
	if len(m.Routes) != len(m.Circuit.Links) {
		t.Errorf("%d routes for %d links", len(m.Routes), len(m.Circuit.Links))
	}
}

func TestMapPaperNetwork(t *testing.T) {
	c := paperCircuit(t)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			m, err := Map(c, mustLoad(t, name), Options{})
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			checkInvariants(t, m)
			t.Log(m.Summary())
			if len(m.Violations) > 0 {
				t.Errorf("axon-aware mapping left violations: %v", m.Violations)
			}
			switch name {
			case "cpu":
				if len(m.Cores) != 1 || m.Chips != 1 || m.MeanHops != 0 {
					t.Errorf("cpu: %d cores, %d chips, %g hops", len(m.Cores), m.Chips, m.MeanHops)
				}
			case "loihi":
				// 44,048 neurons as on/off pairs; fan-in and fan-out split
				// the wide maps well beyond one chip's 128 cores.
				if len(m.Cores) <= 128 || m.Chips < 2 {
					t.Errorf("loihi: %d cores on %d chips", len(m.Cores), m.Chips)
				}
				if len(m.PartsOf("e.0.0")) < 2 {
					t.Errorf("loihi: e.0.0 (1,024 units, 25 destinations) not split")
				}
			case "loihi2":
				if m.Chips != 1 || m.Replication() != 1 {
					t.Errorf("loihi2: %d chips, replication %g", m.Chips, m.Replication())
				}
			case "truenorth":
				// 256-neuron cores, 256 input axons and one target per
				// neuron split every map.
				if got := len(m.Split()); got != len(c.Populations) {
					t.Errorf("truenorth: %d of %d populations split", got, len(c.Populations))
				}
			}
		})
	}
}

func TestMapIsDeterministic(t *testing.T) {
	c := paperCircuit(t)
	for _, name := range []string{"loihi", "truenorth"} {
		a := mustLoad(t, name)
		m1, err := Map(c, a, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Map(c, a, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m1, m2) {
			t.Errorf("%s: two mappings of the same circuit differ", name)
		}
	}
}

func TestMapOptions(t *testing.T) {
	c := paperCircuit(t)
	loihi := mustLoad(t, "loihi")
	aware, err := Map(c, loihi, Options{})
	if err != nil {
		t.Fatal(err)
	}
	naive, err := Map(c, loihi, Options{IgnoreAxonLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, naive)
	if len(naive.Cores) >= len(aware.Cores) || len(naive.Violations) == 0 {
		t.Errorf("ignoring axon limits: %d cores (axon-aware %d), %d violations",
			len(naive.Cores), len(aware.Cores), len(naive.Violations))
	}
	for _, v := range naive.Violations {
		if v.Have <= v.Limit {
			t.Errorf("violation %+v within its limit", v)
		}
	}

	loihi2 := mustLoad(t, "loihi2")
	full, err := Map(c, loihi2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	half, err := Map(c, loihi2, Options{Fill: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if len(half.Cores) <= len(full.Cores) {
		t.Errorf("Fill 0.25 used %d cores, full %d", len(half.Cores), len(full.Cores))
	}
	for _, bad := range []Options{{Fill: 1.5}, {Fill: -1}, {MaxChips: -1}} {
		if _, err := Map(c, loihi2, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestMapDoesNotFit(t *testing.T) {
	c := paperCircuit(t)
	if _, err := Map(c, mustLoad(t, "truenorth"), Options{MaxChips: 1}); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("truenorth on one chip: %v, want ErrDoesNotFit", err)
	}
	// A core too small for one copy of e.0.0's kernels (25·9 weights).
	small := mustLoad(t, "loihi2")
	small.Core.SynapseMemoryBits.Value = 8 * 100
	if _, err := Map(c, small, Options{}); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("tiny synapse memory: %v, want ErrDoesNotFit", err)
	}
	// An invalid architecture is refused before mapping.
	bad := mustLoad(t, "loihi2")
	bad.Energy.Hop.Value = -1
	if _, err := Map(c, bad, Options{}); !errors.Is(err, ErrInvalidArch) {
		t.Errorf("invalid arch: %v", err)
	}
	if _, err := Map(c, nil, Options{}); err == nil {
		t.Error("nil arch accepted")
	}
}

func TestMapRejectsBadCircuits(t *testing.T) {
	a := mustLoad(t, "cpu")
	pop := Population{Name: "a", Neurons: 4}
	for name, c := range map[string]Circuit{
		"empty":          {},
		"no name":        {Populations: []Population{{Neurons: 1}}},
		"zero neurons":   {Populations: []Population{{Name: "a"}}},
		"negative ops":   {Populations: []Population{{Name: "a", Neurons: 1, SynapticOps: -1}}},
		"bad bits":       {Populations: []Population{{Name: "a", Neurons: 1, Bits: 64}}},
		"duplicate":      {Populations: []Population{pop, pop}},
		"unknown sender": {Populations: []Population{pop}, Links: []Link{{"x", "a", 1}}},
		"unknown target": {Populations: []Population{pop}, Links: []Link{{"a", "x", 1}}},
		"empty message":  {Populations: []Population{pop}, Links: []Link{{"a", "a", 0}}},
	} {
		if _, err := Map(c, a, Options{}); !errors.Is(err, ErrInvalidCircuit) {
			t.Errorf("%s: %v, want ErrInvalidCircuit", name, err)
		}
	}
}

// tinyArch is a hand-sized architecture: 4 neurons and 128 weights per
// core, 2 cores per chip on a 2×1 mesh, round numbers for every cost.
func tinyArch() *Arch {
	p := func(v float64) Param {
		return Param{Value: v, Unit: "u", Source: "test", Provenance: Assumed}
	}
	return &Arch{
		Name:           "tiny",
		OnChipLearning: true,
		Core: CoreSpec{
			Neurons: p(4), SynapseMemoryBits: p(1024), WeightBits: p(8),
			FanInAxons: p(0), FanOutAxons: p(0), NeuronFanOut: p(0), SynapseLayout: Shared,
		},
		Chip:   ChipSpec{Cores: p(2), GridWidth: p(2), GridHeight: p(1), Interconnect: Mesh},
		System: SystemSpec{MaxChips: p(4)},
		Values: ValueCoding{Coding: Graded, PayloadBits: p(32), ValueBits: p(32), TicksPerStep: p(1),
			SpikesPerValue: p(1), NeuronsPerUnit: p(1)},
		Energy: EnergyCosts{
			SynapticOp: p(1e-12), NeuronUpdate: p(2e-12), Message: p(3e-12), Hop: p(5e-12),
			ChipHop: p(7e-12), BarrierPerCore: p(11e-12), WeightUpdate: p(13e-12),
			StaticPower: p(1e-3), PackagePower: p(0),
		},
		Latency: LatencyCosts{
			SynapticOp: p(1e-9), NeuronUpdate: p(2e-9), Message: p(3e-9), Hop: p(4e-9),
			ChipHop: p(5e-9), Barrier: p(6e-9), WeightUpdate: p(7e-9), Tick: p(0),
		},
	}
}

// tinyCircuit is A → B → C, each filling one core of tinyArch.
func tinyCircuit() Circuit {
	return Circuit{
		Populations: []Population{
			{Name: "A", Neurons: 4, Synapses: 2, SynapticOps: 8},
			{Name: "B", Neurons: 4},
			{Name: "C", Neurons: 4},
		},
		Links: []Link{{"A", "B", 4}, {"B", "C", 4}},
	}
}

func TestMapTinyByHand(t *testing.T) {
	a := tinyArch()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := Map(tinyCircuit(), a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, m)
	// Cores: A at (0,0) and B at (1,0) on chip 0; C on chip 1, which sits
	// right of chip 0 on a 2×1 chip mesh: global (2,0).
	wantXY := [][2]int{{0, 0}, {1, 0}, {2, 0}}
	if len(m.Cores) != 3 || m.Chips != 2 {
		t.Fatalf("%d cores on %d chips, want 3 on 2", len(m.Cores), m.Chips)
	}
	for i, w := range wantXY {
		if c := m.Cores[i]; c.X != w[0] || c.Y != w[1] {
			t.Errorf("core %d at (%d,%d), want (%d,%d)", i, c.X, c.Y, w[0], w[1])
		}
	}
	if r := m.Routes[0]; r.MeanHops != 1 || r.MeanChipHops != 0 {
		t.Errorf("A→B route %+v", r)
	}
	if r := m.Routes[1]; r.MeanHops != 1 || r.MeanChipHops != 1 {
		t.Errorf("B→C route %+v", r)
	}
	if m.MeanHops != 1 || m.MeanChipHops != 0.5 || m.MaxHops != 1 || m.MaxChipHops != 1 {
		t.Errorf("hops mean %g/%g max %d/%d", m.MeanHops, m.MeanChipHops, m.MaxHops, m.MaxChipHops)
	}
	if m.StoredSynapses != 2 || m.Replication() != 1 {
		t.Errorf("stored %d, replication %g", m.StoredSynapses, m.Replication())
	}
	if m.NeuronUtilization != 1 {
		t.Errorf("neuron utilisation %g", m.NeuronUtilization)
	}
}

func TestMapSplitsAndReplicatesKernels(t *testing.T) {
	a := tinyArch()
	c := Circuit{Populations: []Population{{Name: "wide", Neurons: 10, Synapses: 3, SynapticOps: 30}}}
	m, err := Map(c, a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, m)
	// 10 units on 4-neuron cores: 4 + 4 + 2, each core a copy of the kernel.
	parts := m.PartsOf("wide")
	if len(parts) != 3 || parts[0].Units != 4 || parts[2].Units != 2 {
		t.Fatalf("parts %+v", parts)
	}
	if m.StoredSynapses != 9 || m.Replication() != 3 {
		t.Errorf("stored %d, replication %g, want 9 and 3", m.StoredSynapses, m.Replication())
	}
	// Unrolled: the part of k units stores ⌈30·k/10⌉ connections.
	a.Core.SynapseLayout = Unrolled
	m, err = Map(c, a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int64{m.Parts[0].Synapses, m.Parts[1].Synapses, m.Parts[2].Synapses}; !reflect.DeepEqual(got, []int64{12, 12, 6}) {
		t.Errorf("unrolled part synapses %v, want [12 12 6]", got)
	}
}
