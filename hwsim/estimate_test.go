package hwsim

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b)) }

func TestEstimateTinyByHand(t *testing.T) {
	m, err := Map(tinyCircuit(), tinyArch(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := Counts{
		Label: "hand", Images: 1, Steps: 2, Messages: 4, Values: 16, SynapticOps: 16,
		NeuronUpdates: 24, WeightUpdates: 2, Barriers: 2,
	}
	got, err := Estimate(m, c)
	if err != nil {
		t.Fatal(err)
	}
	// Latency: core A does all 16 synaptic ops (16 ns) and a third of the
	// 24 updates (8 × 2 ns); packets cross 1 hop and 1 chip boundary at
	// most, twice: 2 × (3 + 4 + 5) ns; two barriers of 6 ns; two weight
	// updates on core A, 7 ns each.
	wantLat := map[string][2]float64{
		"compute": {got.Compute, 32e-9}, "communication": {got.Communication, 24e-9},
		"barrier": {got.Barrier, 12e-9}, "idle": {got.Idle, 0}, "learning": {got.Learning, 14e-9},
		"total": {got.Latency, 82e-9},
	}
	for name, v := range wantLat {
		if !near(v[0], v[1]) {
			t.Errorf("%s latency %g, want %g", name, v[0], v[1])
		}
	}
	// Energy, pJ: 16·1 + 24·2 + 16·3 + (16·1·5 + 16·0.5·7) + 2·3·11 + 2·13,
	// and 1 mW on 2 chips for 82 ns.
	want := [NumKinds]float64{16e-12, 48e-12, 48e-12, 136e-12, 66e-12, 26e-12, 0, 164e-12}
	for k := Kind(0); k < NumKinds; k++ {
		if !near(got.EnergyBy[k], want[k]) {
			t.Errorf("%s energy %g, want %g", k, got.EnergyBy[k], want[k])
		}
	}
	if !near(got.Energy, 504e-12) || !near(got.EnergyPerImage(), 504e-12) {
		t.Errorf("energy %g, want 504e-12", got.Energy)
	}
	if got.Label != "hand" || got.Arch != "tiny" || !strings.Contains(got.String(), "tiny (hand)") {
		t.Errorf("labels: %q", got.String())
	}
}

func TestEstimateIsLinear(t *testing.T) {
	n := PaperNetwork()
	c := paperCircuit(t)
	inf, err := InferenceCounts(n, 60, Reconstruct)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := TrainingCounts(n, 60, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		m, err := Map(c, mustLoad(t, name), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, counts := range []Counts{inf, tr} {
			one, err := Estimate(m, counts)
			if err != nil {
				t.Fatal(err)
			}
			three, err := Estimate(m, counts.Scale(3))
			if err != nil {
				t.Fatal(err)
			}
			if !near(three.Energy, 3*one.Energy) || !near(three.Latency, 3*one.Latency) {
				t.Errorf("%s %s: ×3 counts give %g J, %g s; once %g J, %g s",
					name, counts.Label, three.Energy, three.Latency, one.Energy, one.Latency)
			}
			if !near(three.EnergyPerImage(), one.EnergyPerImage()) {
				t.Errorf("%s: energy per image changed with scale", name)
			}
			if !(one.Energy > 0 && one.Latency > 0) {
				t.Errorf("%s %s: %v", name, counts.Label, one)
			}
			t.Logf("%v", one)
		}
	}
}

func TestEstimateAddsKindsSeparately(t *testing.T) {
	m, err := Map(paperCircuit(t), mustLoad(t, "loihi"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := Counts{Images: 1, SynapticOps: 1000}
	b := Counts{Images: 1, Values: 500, Steps: 2}
	ea, _ := Estimate(m, a)
	eb, _ := Estimate(m, b)
	eab, err := Estimate(m, a.Add(b))
	if err != nil {
		t.Fatal(err)
	}
	// Loihi has no static power, so energy is additive.
	if !near(eab.Energy, ea.Energy+eb.Energy) {
		t.Errorf("energy of a+b %g, want %g", eab.Energy, ea.Energy+eb.Energy)
	}
	// Rate coding: every synaptic op happens 7.5 times on average.
	if !near(ea.Events[SynapticOps], 7500) || !near(ea.EnergyBy[SynapticOps], 7500*23.6e-12) {
		t.Errorf("synaptic events %g costing %g", ea.Events[SynapticOps], ea.EnergyBy[SynapticOps])
	}
}

func TestEstimateWarnsAboutMissingLearning(t *testing.T) {
	m, err := Map(paperCircuit(t), mustLoad(t, "truenorth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := TrainingCounts(PaperNetwork(), 60, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Estimate(m, tr)
	if err != nil {
		t.Fatal(err)
	}
	if c.EnergyBy[WeightUpdates] != 0 || c.EnergyBy[WeightTransport] != 0 {
		t.Errorf("truenorth costed learning: %v", c.EnergyBy)
	}
	if len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "no on-chip learning") {
		t.Errorf("warnings %q", c.Warnings)
	}
	// 64 steps (3 init, 60, no readout) × 15 ticks × 1 ms per image.
	if want := 2 * 63 * 15 * 1e-3; !near(c.Latency, want) {
		t.Errorf("truenorth latency %g s, want %g (tick-bound)", c.Latency, want)
	}
}

func TestEstimateRejectsBadInput(t *testing.T) {
	m, err := Map(tinyCircuit(), tinyArch(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Estimate(m, Counts{Values: -1}); !errors.Is(err, ErrInvalidCounts) {
		t.Errorf("negative values: %v", err)
	}
	if _, err := Estimate(nil, Counts{}); err == nil {
		t.Error("nil mapping accepted")
	}
	if _, err := Estimate(&Mapping{}, Counts{}); err == nil {
		t.Error("empty mapping accepted")
	}
}

func TestEstimateWallTime(t *testing.T) {
	cpu := mustLoad(t, "cpu")
	c, err := EstimateWallTime(cpu, 2*time.Second, 400, "batch of 400")
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.Energy, 2*8.3) || !near(c.EnergyPerImage(), 2*8.3/400) || c.Latency != 2 {
		t.Errorf("wall-time cost %v", c)
	}
	if len(c.Warnings) == 0 {
		t.Error("assumed package power not flagged")
	}
	if _, err := EstimateWallTime(mustLoad(t, "loihi"), time.Second, 1, ""); err == nil {
		t.Error("loihi has no package power, yet wall-time energy was computed")
	}
	if _, err := EstimateWallTime(cpu, -time.Second, 1, ""); !errors.Is(err, ErrInvalidCounts) {
		t.Errorf("negative wall time: %v", err)
	}
}

func TestKindString(t *testing.T) {
	if SynapticOps.String() != "synaptic ops" || Static.String() != "static" || Kind(99).String() != "Kind(99)" {
		t.Error("Kind names")
	}
}
