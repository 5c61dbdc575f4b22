package hwsim

import (
	"math"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc/graph"
)

func TestPaperNetworkCircuit(t *testing.T) {
	n := PaperNetwork()
	if KernelWeights(n) != 9225 || Biases(n) != 63 {
		t.Fatalf("%d kernel weights and %d biases, want 9,225 and 63", KernelWeights(n), Biases(n))
	}
	for _, tc := range []struct {
		mode  Mode
		links int
	}{{Reconstruct, 2173}, {Denoise, 2176}} {
		c, err := CircuitOf(n, tc.mode, 16)
		if err != nil {
			t.Fatal(err)
		}
		var states, errs, synapses int
		for _, p := range c.Populations {
			switch {
			case strings.HasPrefix(p.Name, "z."):
				states++
			case strings.HasPrefix(p.Name, "e."):
				errs++
				synapses += p.Synapses
			}
			if p.Bits != 16 {
				t.Errorf("%s: %d bits", p.Name, p.Bits)
			}
		}
		if states != 73 || errs != 63 {
			t.Errorf("%d state and %d error maps, want 73 and 63", states, errs)
		}
		if synapses != 9225 {
			t.Errorf("error maps own %d kernel weights, want 9,225", synapses)
		}
		if len(c.Links) != tc.links {
			t.Errorf("mode %d: %d links, want %d", tc.mode, len(c.Links), tc.links)
		}
		if _, err := c.index(); err != nil {
			t.Errorf("circuit invalid: %v", err)
		}
	}
}

// bruteMACs counts the multiply-accumulates of one image step by walking
// the loops of the two convolutions of every layer, padding taps included.
func bruteMACs(g *graph.Graph) int64 {
	var macs int64
	for _, syn := range g.Synapses {
		up, low := g.Layers[syn.From].Maps, g.Layers[syn.To].Maps
		side, k := g.Layers[syn.From].Size, syn.Kernel
		// Prediction: transposed convolution, every input pixel of every
		// upper map scatters k×k taps into every lower map.
		for i := 0; i < up; i++ {
			for y := 0; y < side; y++ {
				for x := 0; x < side; x++ {
					for j := 0; j < low; j++ {
						macs += int64(k * k)
					}
				}
			}
		}
		// Feedback: strided convolution, every output pixel of every upper
		// map gathers k×k taps from every lower (error) map.
		for i := 0; i < up; i++ {
			for y := 0; y < side; y++ {
				for x := 0; x < side; x++ {
					for j := 0; j < low; j++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								macs++
							}
						}
					}
				}
			}
		}
	}
	return macs
}

func TestPaperStepCounts(t *testing.T) {
	n := PaperNetwork()
	ph, err := PhasesOf(n, Reconstruct, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	s := ph.Step
	// Per layer: 5,400 + 43,200 + 288,000 + 172,800 = 509,400 each way.
	if s.SynapticOps != 1_018_800 || s.SynapticOps != bruteMACs(n) {
		t.Errorf("synaptic ops per step %d (brute force %d), want 1,018,800", s.SynapticOps, bruteMACs(n))
	}
	// shared/bench/README.md measures ≈2.0 MFLOP per image per step.
	if flop := 2 * float64(s.SynapticOps); math.Abs(flop-2.0e6)/2.0e6 > 0.05 {
		t.Errorf("%g FLOP per step, the bench note says about 2.0e6", flop)
	}
	// Error units 10,992, free state units 7,960.
	if s.NeuronUpdates != 18_952 {
		t.Errorf("neuron updates per step %d, want 18,952", s.NeuronUpdates)
	}
	if s.Messages != 2173 || s.Values != 301_912 {
		t.Errorf("%d messages with %d values per step, want 2,173 and 301,912", s.Messages, s.Values)
	}
	d, err := PhasesOf(n, Denoise, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Step.NeuronUpdates != 18_952+3072 || d.Step.Messages != 2176 || d.Step.Values != 301_912+3072 {
		t.Errorf("denoising step %+v", d.Step)
	}
}

func TestInferenceAndTrainingCounts(t *testing.T) {
	n := PaperNetwork()
	ph, err := PhasesOf(n, Reconstruct, 500, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := InferenceCounts(n, 60, Reconstruct)
	if err != nil {
		t.Fatal(err)
	}
	want := ph.Init.Add(ph.Step.Scale(60)).Add(ph.Readout)
	if c.SynapticOps != want.SynapticOps || c.Values != want.Values || c.Steps != 60+3+1 || c.Images != 1 {
		t.Errorf("inference counts %+v", c)
	}
	// Ancestral pass: mu[3], mu[2], mu[1] from W[4], W[3], W[2]; readout W[1].
	if ph.Init.SynapticOps != 5400+43200+288000 || ph.Readout.SynapticOps != 172800 {
		t.Errorf("init %d and readout %d synaptic ops", ph.Init.SynapticOps, ph.Readout.SynapticOps)
	}
	dn, err := InferenceCounts(n, 60, Denoise)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dn.NeuronUpdates-c.NeuronUpdates, int64(59*3072); got != want {
		t.Errorf("denoising adds %d unit updates, want %d (z[0] free in steps 2..60)", got, want)
	}

	tr, err := TrainingCounts(n, 60, 500, true)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Images != 500 || tr.WeightUpdates != 9225+63 || tr.WeightTransportMsgs != 1025 || tr.WeightTransportValues != 9225 {
		t.Errorf("training counts %+v", tr)
	}
	perImage := (ph.Init.SynapticOps + 60*ph.Step.SynapticOps + 509_400)
	if tr.SynapticOps != 500*perImage {
		t.Errorf("training synaptic ops %d, want %d", tr.SynapticOps, 500*perImage)
	}
	un, err := TrainingCounts(n, 60, 500, false)
	if err != nil {
		t.Fatal(err)
	}
	if un.WeightTransportMsgs != 0 || un.WeightTransportValues != 0 {
		t.Errorf("untied training moves weights: %+v", un)
	}
}

func TestCountsRefuseBadInput(t *testing.T) {
	bad := &graph.Graph{Layers: []graph.Layer{{Maps: 3, Size: 32, Image: true}}}
	if _, err := CircuitOf(bad, Reconstruct, 32); err == nil {
		t.Error("a one-layer graph built a circuit")
	}
	if _, err := InferenceCounts(bad, 60, Reconstruct); err == nil {
		t.Error("a one-layer graph was counted")
	}
	if _, err := CircuitOf(nil, Reconstruct, 32); err == nil {
		t.Error("no graph built a circuit")
	}
	if _, err := CircuitOf(PaperNetwork(), Reconstruct, 40); err == nil {
		t.Error("40 bits per value accepted")
	}
	if _, err := InferenceCounts(PaperNetwork(), 0, Reconstruct); err == nil {
		t.Error("0 steps counted")
	}
	if _, err := TrainingCounts(PaperNetwork(), 60, 0, true); err == nil {
		t.Error("batch 0 counted")
	}
}

// TestGraphCircuits: a skip synapse adds its links and operations; a
// residual block's intermediate maps are populations of their own.
func TestGraphCircuits(t *testing.T) {
	paper := PaperNetwork()
	skip := paper.Clone()
	skip.Synapses = append(skip.Synapses, graph.Synapse{From: 2, To: 0, Kernel: 5, Stride: 4})
	base, err := CircuitOf(paper, Reconstruct, 32)
	if err != nil {
		t.Fatal(err)
	}
	withSkip, err := CircuitOf(skip, Reconstruct, 32)
	if err != nil {
		t.Fatal(err)
	}
	// 20 maps of layer 2 send φ to the 3 image error maps, which answer.
	if got := len(withSkip.Links) - len(base.Links); got != 2*20*3 {
		t.Errorf("a skip synapse 2→0 added %d links, want %d", got, 2*20*3)
	}
	bs, _ := PhasesOf(paper, Reconstruct, 1, true)
	ss, _ := PhasesOf(skip, Reconstruct, 1, true)
	if got, want := ss.Step.SynapticOps-bs.Step.SynapticOps, 2*int64(20*3*25*8*8); got != want {
		t.Errorf("the skip synapse adds %d synaptic ops per step, want %d", got, want)
	}
	if KernelWeights(skip) != 9225+20*3*25 || Biases(skip) != 63 {
		t.Errorf("skip graph: %d weights, %d biases", KernelWeights(skip), Biases(skip))
	}

	res, err := graph.Residual(paper, 8)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := CircuitOf(res, Reconstruct, 32)
	if err != nil {
		t.Fatal(err)
	}
	hMaps := 0
	for _, p := range rc.Populations {
		if strings.HasPrefix(p.Name, "h.") {
			hMaps++
		}
	}
	// Four blocks of three 8-map stages and a last stage of the lower layer's maps.
	if want := 4*3*8 + (25 + 20 + 15 + 3); hMaps != want {
		t.Errorf("%d intermediate maps, want %d", hMaps, want)
	}
	if _, err := rc.index(); err != nil {
		t.Fatal(err)
	}
	if Biases(res) != 0 || KernelWeights(res) == 0 {
		t.Errorf("residual graph: %d biases, %d weights", Biases(res), KernelWeights(res))
	}
	if _, err := InferenceCounts(res, 60, Denoise); err != nil {
		t.Fatal(err)
	}
}
