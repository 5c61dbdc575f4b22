package hwsim

import (
	"errors"
	"fmt"
)

// Network describes a hierarchical Conv-NGC network for analytic counts:
// layers ℓ = 0..L, ℓ = 0 the image; layer ℓ predicts layer ℓ−1 through a
// stride-2 transposed convolution, so each map side is twice the one above.
type Network struct {
	// Channels holds C_ℓ from the top (ℓ = L) down to the image (ℓ = 0),
	// as the paper writes them: 10, 15, 20, 25, 3.
	Channels []int
	// Sizes holds the map sides in the same order: 2, 4, 8, 16, 32.
	Sizes []int
	// Kernel is the kernel side: 3.
	Kernel int
}

// PaperNetwork returns the paper's network: channels 10, 15, 20, 25, 3 and
// maps of 2, 4, 8, 16, 32 pixels from the top, 3×3 kernels, stride 2.
func PaperNetwork() Network {
	return Network{Channels: []int{10, 15, 20, 25, 3}, Sizes: []int{2, 4, 8, 16, 32}, Kernel: 3}
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

// Validate checks the description.
func (n Network) Validate() error {
	switch {
	case len(n.Channels) < 2:
		return errors.New("hwsim: network needs at least two layers")
	case len(n.Sizes) != len(n.Channels):
		return fmt.Errorf("hwsim: network has %d channel counts and %d sizes", len(n.Channels), len(n.Sizes))
	case n.Kernel < 1:
		return fmt.Errorf("hwsim: network kernel %d", n.Kernel)
	}
	for k := range n.Channels {
		if n.Channels[k] < 1 || n.Sizes[k] < 1 {
			return fmt.Errorf("hwsim: network layer %d: %d channels of side %d", len(n.Channels)-1-k, n.Channels[k], n.Sizes[k])
		}
		if k > 0 && n.Sizes[k] != 2*n.Sizes[k-1] {
			return fmt.Errorf("hwsim: network sizes must double downwards (stride 2): %d then %d", n.Sizes[k-1], n.Sizes[k])
		}
	}
	return nil
}

// top returns L.
func (n Network) top() int { return len(n.Channels) - 1 }

// ch returns C_ℓ.
func (n Network) ch(l int) int { return n.Channels[n.top()-l] }

// area returns H_ℓ·W_ℓ.
func (n Network) area(l int) int { s := n.Sizes[n.top()-l]; return s * s }

// taps is the kernel area.
func (n Network) taps() int { return n.Kernel * n.Kernel }

// macs is the multiply-accumulates of one direction of layer ℓ ≥ 1 per
// image: C_ℓ·C_{ℓ−1}·k²·H_ℓ·W_ℓ (padding taps included).
func (n Network) macs(l int) int64 {
	return int64(n.ch(l)) * int64(n.ch(l-1)) * int64(n.taps()) * int64(n.area(l))
}

// KernelWeights returns the number of kernel weights, Σ_ℓ C_ℓ·C_{ℓ−1}·k²
// (9,225 for the paper's network).
func (n Network) KernelWeights() int {
	w := 0
	for l := 1; l <= n.top(); l++ {
		w += n.ch(l) * n.ch(l-1) * n.taps()
	}
	return w
}

// Biases returns the number of biases, Σ_{ℓ<L} C_ℓ (63 for the paper's).
func (n Network) Biases() int {
	b := 0
	for l := 0; l < n.top(); l++ {
		b += n.ch(l)
	}
	return b
}

// Circuit returns the network's actor circuit, populations listed from the
// top down (z.L, e.L−1, z.L−1, …, e.0, z.0) so that every state layer sits
// between its own error maps and those below. Names are "z.ℓ.i" and
// "e.ℓ.j". Error map (ℓ−1, j) owns W[ℓ]_{·j} (C_ℓ·k² synapses) and does
// C_ℓ·k²·H_ℓ·W_ℓ MACs per step; state map (ℓ, i), ℓ ≥ 1, owns E[ℓ]_{·i}
// (C_{ℓ−1}·k²) and does C_{ℓ−1}·k²·H_ℓ·W_ℓ. Links: every state map to its
// own error map and to every error map below; every error map to every
// state map above and, except e.0 under Reconstruct, to its own state map.
// bits (8, 16 or 32; 0 means 32) is the width of every population's values.
func (n Network) Circuit(mode Mode, bits int) (Circuit, error) {
	if err := n.Validate(); err != nil {
		return Circuit{}, err
	}
	if bits < 0 || bits > 32 {
		return Circuit{}, fmt.Errorf("hwsim: %d bits per value", bits)
	}
	L := n.top()
	var c Circuit
	z := func(l, i int) string { return fmt.Sprintf("z.%d.%d", l, i) }
	e := func(l, j int) string { return fmt.Sprintf("e.%d.%d", l, j) }
	addState := func(l int) {
		for i := 0; i < n.ch(l); i++ {
			p := Population{Name: z(l, i), Neurons: n.area(l), Bits: bits}
			if l >= 1 {
				p.Synapses = n.ch(l-1) * n.taps()
				p.SynapticOps = int64(n.ch(l-1)) * int64(n.taps()) * int64(n.area(l))
			}
			c.Populations = append(c.Populations, p)
		}
	}
	addState(L)
	for l := L - 1; l >= 0; l-- {
		for j := 0; j < n.ch(l); j++ {
			c.Populations = append(c.Populations, Population{
				Name: e(l, j), Neurons: n.area(l), Bits: bits,
				Synapses:    n.ch(l+1) * n.taps(),
				SynapticOps: int64(n.ch(l+1)) * int64(n.taps()) * int64(n.area(l+1)),
			})
		}
		addState(l)
	}
	for l := L; l >= 0; l-- {
		for i := 0; i < n.ch(l); i++ {
			if l < L {
				c.Links = append(c.Links, Link{z(l, i), e(l, i), n.area(l)})
			}
			if l >= 1 {
				for j := 0; j < n.ch(l-1); j++ {
					c.Links = append(c.Links, Link{z(l, i), e(l-1, j), n.area(l)})
				}
			}
		}
	}
	for l := L - 1; l >= 0; l-- {
		for j := 0; j < n.ch(l); j++ {
			if l >= 1 || mode == Denoise {
				c.Links = append(c.Links, Link{e(l, j), z(l, j), n.area(l)})
			}
			for i := 0; i < n.ch(l+1); i++ {
				c.Links = append(c.Links, Link{e(l, j), z(l+1, i), n.area(l)})
			}
		}
	}
	return c, nil
}

// Phases holds the counts of the parts of a run, for one image except
// Learn, which is for one mini-batch.
type Phases struct {
	// Init: z[L] drawn, the ancestral pass z[ℓ] = mu[ℓ] for ℓ = L−1..1
	// (error maps predict, each prediction is sent to its state map), and
	// z[0] set; L−1 sequential hardware steps.
	Init Counts
	// Step: one inference step with z[0] clamped (Reconstruct) or free
	// (Denoise after step 1): every prediction and feedback convolution,
	// every error unit and every free state unit updated, one message per
	// circuit link. This is the part the runtime's probes must match
	// exactly.
	Step Counts
	// Readout: x̂ = mu[0] from the final states: z.1 maps send to e.0
	// maps, which predict.
	Readout Counts
	// Learn: the Hebbian update of one mini-batch of Images images
	// (gradient MACs C_ℓ·C_{ℓ−1}·k²·H_ℓ·W_ℓ per layer per image; every
	// kernel weight and bias written once per batch; in tied mode one
	// message of k² values per kernel slice W[ℓ]_{ij} to state map (ℓ, i)).
	// Bias gradients (Σe) are additions, not counted.
	Learn Counts
}

// Phases returns the analytic counts of each part of a run for a
// mini-batch of batch images (only Learn depends on it).
func (n Network) Phases(mode Mode, batch int, tied bool) (Phases, error) {
	if err := n.Validate(); err != nil {
		return Phases{}, err
	}
	if batch < 1 {
		return Phases{}, fmt.Errorf("hwsim: batch %d", batch)
	}
	c, err := n.Circuit(mode, 32)
	if err != nil {
		return Phases{}, err
	}
	L := n.top()
	var ph Phases

	// One step.
	s := Counts{Images: 1, Steps: 1, Barriers: 1, Messages: int64(len(c.Links))}
	for _, l := range c.Links {
		s.Values += int64(l.ValuesPerMsg)
	}
	for _, p := range c.Populations {
		s.SynapticOps += p.SynapticOps
	}
	for l := 0; l <= L; l++ {
		units := int64(n.ch(l)) * int64(n.area(l))
		if l < L {
			s.NeuronUpdates += units // error maps
		}
		if l >= 1 || mode == Denoise {
			s.NeuronUpdates += units // free state maps
		}
	}
	ph.Step = s

	// Initialisation (one image).
	in := Counts{Images: 1, Steps: int64(L - 1), Barriers: int64(L - 1)}
	in.NeuronUpdates = int64(n.ch(L))*int64(n.area(L)) + int64(n.ch(0))*int64(n.area(0))
	for l := L - 1; l >= 1; l-- {
		units := int64(n.ch(l)) * int64(n.area(l))
		in.SynapticOps += n.macs(l + 1)
		in.Messages += int64(n.ch(l+1))*int64(n.ch(l)) + int64(n.ch(l))
		in.Values += int64(n.ch(l+1))*int64(n.ch(l))*int64(n.area(l+1)) + units
		in.NeuronUpdates += 2 * units // error maps predict, state maps take the prediction
	}
	ph.Init = in

	// Readout (one image).
	ph.Readout = Counts{
		Images: 1, Steps: 1, Barriers: 1,
		SynapticOps:   n.macs(1),
		Messages:      int64(n.ch(1)) * int64(n.ch(0)),
		Values:        int64(n.ch(1)) * int64(n.ch(0)) * int64(n.area(1)),
		NeuronUpdates: int64(n.ch(0)) * int64(n.area(0)),
	}

	// Learning (one batch).
	lr := Counts{Images: int64(batch), WeightUpdates: int64(n.KernelWeights() + n.Biases())}
	for l := 1; l <= L; l++ {
		lr.SynapticOps += int64(batch) * n.macs(l)
		if tied {
			lr.WeightTransportMsgs += int64(n.ch(l)) * int64(n.ch(l-1))
		}
	}
	if tied {
		lr.WeightTransportValues = int64(n.KernelWeights())
	}
	ph.Learn = lr
	return ph, nil
}

// InferenceCounts returns the counts of one image's inference: Init, then
// steps Steps (under Denoise the first with z[0] clamped), then Readout.
func (n Network) InferenceCounts(steps int, mode Mode) (Counts, error) {
	if steps < 1 {
		return Counts{}, fmt.Errorf("hwsim: %d steps", steps)
	}
	ph, err := n.Phases(mode, 1, true)
	if err != nil {
		return Counts{}, err
	}
	c := ph.Init.Add(ph.Step.Scale(int64(steps))).Add(ph.Readout)
	c.Images = 1
	if mode == Denoise {
		// Step 1 leaves z[0] clamped.
		c.NeuronUpdates -= int64(n.ch(0)) * int64(n.area(0))
	}
	name := "reconstruction"
	if mode == Denoise {
		name = "denoising"
	}
	c.Label = fmt.Sprintf("%s, T=%d, per image", name, steps)
	return c, nil
}

// TrainingCounts returns the counts of one training mini-batch of batch
// images: for every image Init and steps Steps with z[0] clamped (no
// readout), then Learn. Divide by Images (Cost.EnergyPerImage) for the
// cost per training image.
func (n Network) TrainingCounts(steps, batch int, tied bool) (Counts, error) {
	if steps < 1 {
		return Counts{}, fmt.Errorf("hwsim: %d steps", steps)
	}
	ph, err := n.Phases(Reconstruct, batch, tied)
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
