package hwsim

import (
	"errors"
	"fmt"

	"github.com/convngc/convngc/ngc/graph"
)

// The analytic counts of a circuit, from its description (package
// ngc/graph, the one every driver consumes): its actor circuit for Map, and
// the events of each part of a run for Estimate.

// PaperNetwork returns the paper's network: channels 10, 15, 20, 25, 3 and
// maps of 2, 4, 8, 16, 32 pixels from the top, 3×3 kernels, stride 2.
func PaperNetwork() *graph.Graph {
	g, _ := graph.Chain([]int{10, 15, 20, 25, 3}, 32, 3, 2, false)
	return g
}

// Mode is how the bottom state z[0] behaves during inference.
type Mode int

const (
	// Reconstruct clamps z[0] to the image for all T steps.
	Reconstruct Mode = iota
	// Denoise clamps z[0] during step 1 only; it then moves with
	// d[0] = −e[0], so its units update and e[0] messages reach it.
	Denoise
)

// check validates a graph for the counts.
func check(g *graph.Graph) error {
	if g == nil {
		return errors.New("hwsim: no circuit")
	}
	if err := g.Validate(); err != nil {
		return fmt.Errorf("hwsim: %w", err)
	}
	return nil
}

// area returns H·W of layer l.
func area(g *graph.Graph, l int) int { s := g.Layers[l].Size; return s * s }

// synapseMACs returns the multiply-accumulates of one direction of plain
// synapse si per image: C_from·C_to·k²·H_from·W_from (padding taps
// included); for a block, of its stages' transposed convolutions.
func synapseMACs(g *graph.Graph, si int) int64 {
	s := g.Synapses[si]
	if s.Block == nil {
		return g.Spec(si, 1).MACs()
	}
	geo, _ := s.Block.Geometry(g.Layers[s.From], g.Layers[s.To], 1)
	var m int64
	for _, sg := range geo {
		m += sg.Spec.MACs()
	}
	return m
}

// KernelWeights returns the number of prediction kernel weights: Σ over
// plain synapses of C_from·C_to·k², and the W of every block stage (9,225
// for the paper's network).
func KernelWeights(g *graph.Graph) int {
	w := 0
	for _, s := range g.Synapses {
		if s.Block == nil {
			w += g.Layers[s.From].Maps * g.Layers[s.To].Maps * s.Kernel * s.Kernel
			continue
		}
		w += blockWeights(g, s)
	}
	return w
}

// blockWeights returns the kernel weights of one W (or E) of every stage
// of a block synapse.
func blockWeights(g *graph.Graph, s graph.Synapse) int {
	geo, _ := s.Block.Geometry(g.Layers[s.From], g.Layers[s.To], 1)
	w := 0
	for k, sg := range geo {
		kk := s.Block.Stages[k].Kernel
		w += sg.InMaps * sg.OutMaps * kk * kk
	}
	return w
}

// Biases returns the number of biases: the maps of every layer some plain
// synapse predicts (63 for the paper's).
func Biases(g *graph.Graph) int {
	b := 0
	for l := range g.Layers {
		for _, si := range g.Above(l) {
			if g.Synapses[si].Block == nil {
				b += g.Layers[l].Maps
				break
			}
		}
	}
	return b
}

// Population names.
func zName(l, i int) string         { return fmt.Sprintf("z.%d.%d", l, i) }
func eName(l, j int) string         { return fmt.Sprintf("e.%d.%d", l, j) }
func hName(s, k, i int) string      { return fmt.Sprintf("h.%d.%d.%d", s, k, i) }
func blockStage(s, k int) string    { return fmt.Sprintf("synapse %d stage %d", s, k) }
func (c *Circuit) add(p Population) { c.Populations = append(c.Populations, p) }

// CircuitOf returns the actor circuit of g, populations listed from the
// top down (for every layer in graph.TopDown order: its error maps, then
// its state maps, then the maps of the blocks it predicts through), so
// that linked maps sit close. Names are "z.ℓ.i", "e.ℓ.j" and, for stage k
// (from 1) of the residual block of synapse s, "h.s.k.i".
//
// Through a plain synapse From→To, error map (To, j) owns W_{·j}
// (C_from·k² synapses) and does C_from·k²·H_from·W_from MACs per step;
// state map (From, i) owns E_{·i} (C_to·k²) and does C_to·k²·H_from·W_from.
// Links: every state map to its own error map and to every error map of
// the layers it predicts; every error map to every state map of the layers
// predicting it and, except an image's under Reconstruct, to its own state
// map. A block stage map (neuron.BlockPop) owns its column W_k[·i] and the
// next stage's error-kernel row E_{k+1}[i·] and does both convolutions; it
// takes every map of the stage above (or φ(z) of the upper layer's maps)
// and sends its activity down and its perturbation d_k (at its
// convolution's output, OutSize² values) up, to every map of the stage
// above or, from stage 1, to the upper layer's state maps, which own
// E_1[i·]; the last stage's map j feeds error map (To, j), which sends it
// the error, and a skip term adds z.From.(j mod C_from). bits (8,
// 16 or 32; 0 means 32) is the width of every population's values.
func CircuitOf(g *graph.Graph, mode Mode, bits int) (Circuit, error) {
	if err := check(g); err != nil {
		return Circuit{}, err
	}
	if bits < 0 || bits > 32 {
		return Circuit{}, fmt.Errorf("hwsim: %d bits per value", bits)
	}
	order, _ := g.TopDown()
	var c Circuit
	for _, l := range order {
		ly := g.Layers[l]
		if !g.Top(l) {
			for j := 0; j < ly.Maps; j++ {
				p := Population{Name: eName(l, j), Neurons: area(g, l), Bits: bits}
				for _, si := range g.Above(l) {
					s := g.Synapses[si]
					if s.Block == nil {
						p.Synapses += g.Layers[s.From].Maps * s.Kernel * s.Kernel
						p.SynapticOps += int64(g.Layers[s.From].Maps) * int64(s.Kernel*s.Kernel) * int64(area(g, s.From))
					}
				}
				c.add(p)
			}
		}
		for i := 0; i < ly.Maps; i++ {
			p := Population{Name: zName(l, i), Neurons: area(g, l), Bits: bits}
			for _, si := range g.Below(l) {
				s := g.Synapses[si]
				if s.Block == nil {
					p.Synapses += g.Layers[s.To].Maps * s.Kernel * s.Kernel
					p.SynapticOps += int64(g.Layers[s.To].Maps) * int64(s.Kernel*s.Kernel) * int64(area(g, l))
					continue
				}
				// A block's first-stage error kernels E_1[i·].
				sg := blockGeometry(g, s)[0]
				kk := s.Block.Stages[0].Kernel * s.Block.Stages[0].Kernel
				p.Synapses += sg.OutMaps * kk
				p.SynapticOps += int64(sg.OutMaps) * int64(kk) * int64(sg.InSize*sg.InSize)
			}
			c.add(p)
		}
		for _, si := range g.Below(l) {
			s := g.Synapses[si]
			if s.Block == nil {
				continue
			}
			geo := blockGeometry(g, s)
			for k, sg := range geo {
				kk := s.Block.Stages[k].Kernel * s.Block.Stages[k].Kernel
				for i := 0; i < sg.OutMaps; i++ {
					p := Population{Name: hName(si, k+1, i), Neurons: sg.OutSize * sg.OutSize, Bits: bits,
						Synapses:    sg.InMaps * kk,
						SynapticOps: int64(sg.InMaps) * int64(kk) * int64(sg.InSize*sg.InSize)}
					if k+1 < len(geo) {
						// The next stage's error kernels E_{k+1}[i·].
						nx := geo[k+1]
						nkk := s.Block.Stages[k+1].Kernel * s.Block.Stages[k+1].Kernel
						p.Synapses += nx.OutMaps * nkk
						p.SynapticOps += int64(nx.OutMaps) * int64(nkk) * int64(nx.InSize*nx.InSize)
					}
					c.add(p)
				}
			}
		}
	}
	seen := map[[2]string]bool{}
	link := func(from, to string, values int) {
		if !seen[[2]string{from, to}] {
			seen[[2]string{from, to}] = true
			c.Links = append(c.Links, Link{From: from, To: to, ValuesPerMsg: values})
		}
	}
	// State maps send φ(z) and z; error maps send e.
	for _, l := range order {
		ly := g.Layers[l]
		for i := 0; i < ly.Maps; i++ {
			if !g.Top(l) {
				link(zName(l, i), eName(l, i), area(g, l))
			}
			for _, si := range g.Below(l) {
				s := g.Synapses[si]
				switch {
				case s.Block == nil:
					for j := 0; j < g.Layers[s.To].Maps; j++ {
						link(zName(l, i), eName(s.To, j), area(g, l))
					}
				default:
					for j := 0; j < s.Block.Stages[0].Maps; j++ {
						link(zName(l, i), hName(si, 1, j), area(g, l))
					}
					if s.Block.Skip {
						for j := i; j < g.Layers[s.To].Maps; j += ly.Maps {
							link(zName(l, i), eName(s.To, j), area(g, l))
						}
					}
				}
			}
		}
	}
	for _, si := range blockSynapses(g) {
		s := g.Synapses[si]
		geo, _ := s.Block.Geometry(g.Layers[s.From], g.Layers[s.To], 1)
		K := len(geo)
		for k, sg := range geo {
			for i := 0; i < sg.OutMaps; i++ {
				if k+1 < K {
					for j := 0; j < geo[k+1].OutMaps; j++ {
						link(hName(si, k+1, i), hName(si, k+2, j), sg.HSize*sg.HSize)
					}
				} else {
					link(hName(si, K, i), eName(s.To, i), sg.HSize*sg.HSize)
				}
				// The perturbation d_k at the convolution's output, up.
				if k == 0 {
					for j := 0; j < sg.InMaps; j++ {
						link(hName(si, 1, i), zName(s.From, j), sg.OutSize*sg.OutSize)
					}
				} else {
					for j := 0; j < sg.InMaps; j++ {
						link(hName(si, k+1, i), hName(si, k, j), sg.OutSize*sg.OutSize)
					}
				}
			}
		}
	}
	for _, l := range order {
		if g.Top(l) {
			continue
		}
		ly := g.Layers[l]
		for j := 0; j < ly.Maps; j++ {
			if !ly.Image || mode == Denoise {
				link(eName(l, j), zName(l, j), area(g, l))
			}
			for _, si := range g.Above(l) {
				s := g.Synapses[si]
				switch {
				case s.Block == nil:
					for i := 0; i < g.Layers[s.From].Maps; i++ {
						link(eName(l, j), zName(s.From, i), area(g, l))
					}
				default:
					link(eName(l, j), hName(si, len(s.Block.Stages), j), area(g, l))
					if s.Block.Skip {
						link(eName(l, j), zName(s.From, j%g.Layers[s.From].Maps), area(g, l))
					}
				}
			}
		}
	}
	return c, nil
}

// blockGeometry returns the stages' geometry of block synapse s (one image).
func blockGeometry(g *graph.Graph, s graph.Synapse) []graph.StageGeom {
	geo, _ := s.Block.Geometry(g.Layers[s.From], g.Layers[s.To], 1)
	return geo
}

// blockSynapses lists the synapses that are residual blocks.
func blockSynapses(g *graph.Graph) []int {
	var out []int
	for si, s := range g.Synapses {
		if s.Block != nil {
			out = append(out, si)
		}
	}
	return out
}

// Phases holds the counts of the parts of a run, for one image except
// Learn, which is for one mini-batch.
type Phases struct {
	// Init: the top states drawn, the ancestral pass z[ℓ] = mu[ℓ] for every
	// layer between the tops and the image, in as many sequential hardware
	// steps as the longest such path has layers (error maps predict, each
	// prediction is sent to its state map), and z[0] set.
	Init Counts
	// Step: one inference step with z[0] clamped (Reconstruct) or free
	// (Denoise after step 1): every prediction and feedback convolution,
	// every error unit, every free state unit and every block unit updated,
	// one message per circuit link. This is the part the runtime's probes
	// must match exactly.
	Step Counts
	// Readout: x̂ = mu[0] from the final states: the layers predicting the
	// image send to its error maps, which predict.
	Readout Counts
	// Learn: the Hebbian update of one mini-batch of Images images
	// (gradient MACs per synapse per image; every kernel weight and bias
	// written once per batch, blocks' error kernels too; in tied mode one
	// message of k² values per kernel slice W_{ij} to the state map that
	// uses it). Bias gradients (Σe) are additions, not counted.
	Learn Counts
}

// PhasesOf returns the analytic counts of each part of a run of g for a
// mini-batch of batch images (only Learn depends on it).
func PhasesOf(g *graph.Graph, mode Mode, batch int, tied bool) (Phases, error) {
	if err := check(g); err != nil {
		return Phases{}, err
	}
	if batch < 1 {
		return Phases{}, fmt.Errorf("hwsim: batch %d", batch)
	}
	c, err := CircuitOf(g, mode, 32)
	if err != nil {
		return Phases{}, err
	}
	var ph Phases

	// One step.
	s := Counts{Images: 1, Steps: 1, Barriers: 1, Messages: int64(len(c.Links))}
	for _, l := range c.Links {
		s.Values += int64(l.ValuesPerMsg)
	}
	for _, p := range c.Populations {
		s.SynapticOps += p.SynapticOps
		if len(p.Name) > 2 && p.Name[:2] == "h." {
			s.NeuronUpdates += int64(p.Neurons)
		}
	}
	for l, ly := range g.Layers {
		units := int64(ly.Maps) * int64(area(g, l))
		if !g.Top(l) {
			s.NeuronUpdates += units // error maps
		}
		if !ly.Image || mode == Denoise {
			s.NeuronUpdates += units // free state maps
		}
	}
	ph.Step = s

	// Initialisation (one image).
	order, _ := g.TopDown()
	depth := make([]int, len(g.Layers)) // sequential steps to set layer l
	in := Counts{Images: 1}
	for _, l := range order {
		ly := g.Layers[l]
		units := int64(ly.Maps) * int64(area(g, l))
		if g.Top(l) || ly.Image {
			in.NeuronUpdates += units
			continue
		}
		for _, si := range g.Above(l) {
			from := g.Synapses[si].From
			depth[l] = max(depth[l], depth[from]+1)
			in.SynapticOps += synapseMACs(g, si)
			in.Messages += int64(g.Layers[from].Maps) * int64(ly.Maps)
			in.Values += int64(g.Layers[from].Maps) * int64(ly.Maps) * int64(area(g, from))
		}
		in.Messages += int64(ly.Maps)
		in.Values += units
		in.NeuronUpdates += 2 * units // error maps predict, state maps take the prediction
		in.Steps = max(in.Steps, int64(depth[l]))
	}
	in.Barriers = in.Steps
	ph.Init = in

	// Readout (one image).
	rd := Counts{Images: 1, Steps: 1, Barriers: 1}
	for l, ly := range g.Layers {
		if !ly.Image {
			continue
		}
		rd.NeuronUpdates += int64(ly.Maps) * int64(area(g, l))
		for _, si := range g.Above(l) {
			from := g.Synapses[si].From
			rd.SynapticOps += synapseMACs(g, si)
			rd.Messages += int64(g.Layers[from].Maps) * int64(ly.Maps)
			rd.Values += int64(g.Layers[from].Maps) * int64(ly.Maps) * int64(area(g, from))
		}
	}
	ph.Readout = rd

	// Learning (one batch).
	lr := Counts{Images: int64(batch), WeightUpdates: int64(KernelWeights(g) + Biases(g))}
	for si, syn := range g.Synapses {
		lr.SynapticOps += int64(batch) * synapseMACs(g, si)
		if syn.Block != nil {
			lr.WeightUpdates += int64(blockWeights(g, syn)) // the error kernels
			continue
		}
		if tied {
			lr.WeightTransportMsgs += int64(g.Layers[syn.From].Maps) * int64(g.Layers[syn.To].Maps)
			lr.WeightTransportValues += int64(g.Layers[syn.From].Maps) * int64(g.Layers[syn.To].Maps) * int64(syn.Kernel*syn.Kernel)
		}
	}
	ph.Learn = lr
	return ph, nil
}

// InferenceCounts returns the counts of one image's inference on g: Init,
// then steps Steps (under Denoise the first with z[0] clamped), then
// Readout.
func InferenceCounts(g *graph.Graph, steps int, mode Mode) (Counts, error) {
	if steps < 1 {
		return Counts{}, fmt.Errorf("hwsim: %d steps", steps)
	}
	ph, err := PhasesOf(g, mode, 1, true)
	if err != nil {
		return Counts{}, err
	}
	c := ph.Init.Add(ph.Step.Scale(int64(steps))).Add(ph.Readout)
	c.Images = 1
	if mode == Denoise {
		// Step 1 leaves the image clamped.
		for l, ly := range g.Layers {
			if ly.Image {
				c.NeuronUpdates -= int64(ly.Maps) * int64(area(g, l))
			}
		}
	}
	name := "reconstruction"
	if mode == Denoise {
		name = "denoising"
	}
	c.Label = fmt.Sprintf("%s, T=%d, per image", name, steps)
	return c, nil
}

// TrainingCounts returns the counts of one training mini-batch of batch
// images on g: for every image Init and steps Steps with z[0] clamped (no
// readout), then Learn. Divide by Images (Cost.EnergyPerImage) for the cost
// per training image.
func TrainingCounts(g *graph.Graph, steps, batch int, tied bool) (Counts, error) {
	if steps < 1 {
		return Counts{}, fmt.Errorf("hwsim: %d steps", steps)
	}
	ph, err := PhasesOf(g, Reconstruct, batch, tied)
	if err != nil {
		return Counts{}, err
	}
	c := ph.Init.Add(ph.Step.Scale(int64(steps))).Scale(int64(batch))
	c = c.Add(ph.Learn)
	c.Images = int64(batch)
	mode := "tied"
	if !tied {
		mode = "untied"
	}
	c.Label = fmt.Sprintf("training, T=%d, batch %d, %s", steps, batch, mode)
	return c, nil
}
