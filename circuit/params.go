package circuit

import (
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/tensor"
)

// Params are a circuit's synaptic parameters in whole-layer layout.
type Params struct {
	// W[s] are synapse s's prediction kernels, [C_from][C_to][K][K].
	W [][]float32
	// E[s] are its error kernels in untied mode (same layout), nil when tied.
	E [][]float32
	// Bias[l] are the prediction biases of layer l, one per map (nil for a
	// top layer).
	Bias [][]float32
	// Adam is the Adam optimiser's state of these parameters, nil for a
	// fresh start (or with the normalised optimiser). Learning actors resume
	// from it, and Session.Params gathers it back, so that training through
	// the actors continues a checkpoint exactly as batched training does.
	Adam *AdamState `json:",omitempty"`
}

// AdamState holds Adam's moment estimates in the layouts of Params' W, E
// and Bias, and the number of steps taken (the same for every parameter:
// every update steps them all).
type AdamState struct {
	Steps          int
	MW, VW, ME, VE [][]float32 // by synapse; ME, VE nil when tied
	MBias, VBias   [][]float32 // by layer; nil for a top layer
}

// newAdamState returns zero moments shaped like p.
func newAdamState(p *Params) *AdamState {
	zeros := func(src [][]float32) [][]float32 {
		if src == nil {
			return nil
		}
		out := make([][]float32, len(src))
		for i, v := range src {
			if v != nil {
				out[i] = make([]float32, len(v))
			}
		}
		return out
	}
	return &AdamState{MW: zeros(p.W), VW: zeros(p.W), ME: zeros(p.E), VE: zeros(p.E), MBias: zeros(p.Bias), VBias: zeros(p.Bias)}
}

// adam returns o as Adam state when it is one.
func adam(o optim.Optimizer) (*optim.Adam, bool) {
	a, ok := o.(*optim.Adam)
	return a, ok
}

// Circuit is a graph with its parameters and the dynamics' constants.
type Circuit struct {
	Graph  *Graph
	Params *Params
	// Config supplies T, β, γ, φ, the top-state distribution, the optimiser
	// and the tied/untied choice (its Channels and sizes are ignored: the
	// graph says those).
	Config ngc.Config
}

// FromModel returns the Conv-NGC circuit of a batched model with a copy of
// its parameters: the actor runtime started from it reproduces the model.
func FromModel(m *ngc.Model) (*Circuit, error) {
	cfg := m.Config()
	g, err := ConvNGC(cfg)
	if err != nil {
		return nil, err
	}
	p := &Params{Bias: make([][]float32, len(g.Layers))}
	for si, s := range g.Synapses {
		syn := m.Synapses(s.From)
		p.W = append(p.W, append([]float32(nil), syn.W...))
		if syn.E != nil {
			p.E = append(p.E, append([]float32(nil), syn.E...))
		}
		p.Bias[s.To] = append([]float32(nil), syn.Bias...)
		ow, ob, oe := m.Optimizers(s.From)
		aw, ok := adam(ow)
		if !ok {
			continue
		}
		if p.Adam == nil {
			p.Adam = &AdamState{Steps: aw.T, MW: make([][]float32, len(g.Synapses)), VW: make([][]float32, len(g.Synapses)),
				MBias: make([][]float32, len(g.Layers)), VBias: make([][]float32, len(g.Layers))}
			if syn.E != nil {
				p.Adam.ME, p.Adam.VE = make([][]float32, len(g.Synapses)), make([][]float32, len(g.Synapses))
			}
		}
		p.Adam.MW[si], p.Adam.VW[si] = append([]float32(nil), aw.M...), append([]float32(nil), aw.V...)
		if ab, ok := adam(ob); ok {
			p.Adam.MBias[s.To], p.Adam.VBias[s.To] = append([]float32(nil), ab.M...), append([]float32(nil), ab.V...)
		}
		if ae, ok := adam(oe); ok && p.Adam.ME != nil {
			p.Adam.ME[si], p.Adam.VE[si] = append([]float32(nil), ae.M...), append([]float32(nil), ae.V...)
		}
	}
	if p.Adam != nil && p.Adam.Steps == 0 {
		p.Adam = nil // a fresh optimiser: nothing to carry
	}
	return &Circuit{Graph: g, Params: p, Config: cfg}, nil
}

// New returns a circuit over any graph with fresh parameters: kernels from
// N(0, InitStd²) drawn from cfg.Seed, zero biases.
func New(g *Graph, cfg ngc.Config) (*Circuit, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(rc.Seed, 0x9e3779b97f4a7c15))
	p := &Params{Bias: make([][]float32, len(g.Layers))}
	draw := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(r.NormFloat64() * rc.InitStd)
		}
		return w
	}
	for si := range g.Synapses {
		n := g.Spec(si, 1).KernelLen()
		p.W = append(p.W, draw(n))
		if rc.Untied {
			p.E = append(p.E, draw(n))
		}
	}
	for l := range g.Layers {
		if !g.Top(l) {
			p.Bias[l] = make([]float32, g.Layers[l].Maps)
		}
	}
	return &Circuit{Graph: g, Params: p, Config: rc}, nil
}

// Validate checks that the parameters fit the graph.
func (c *Circuit) Validate() error {
	if err := c.Graph.Validate(); err != nil {
		return err
	}
	if len(c.Params.W) != len(c.Graph.Synapses) || (c.Params.E != nil && len(c.Params.E) != len(c.Graph.Synapses)) {
		return fmt.Errorf("%w: %d kernel sets for %d synapses", ErrGraph, len(c.Params.W), len(c.Graph.Synapses))
	}
	for si := range c.Graph.Synapses {
		n := c.Graph.Spec(si, 1).KernelLen()
		if len(c.Params.W[si]) != n || (c.Params.E != nil && len(c.Params.E[si]) != n) {
			return fmt.Errorf("%w: synapse %d has %d kernel values, want %d", ErrGraph, si, len(c.Params.W[si]), n)
		}
	}
	for l, ly := range c.Graph.Layers {
		if !c.Graph.Top(l) && len(c.Params.Bias[l]) != ly.Maps {
			return fmt.Errorf("%w: layer %d has %d biases, want %d", ErrGraph, l, len(c.Params.Bias[l]), ly.Maps)
		}
	}
	if a := c.Params.Adam; a != nil {
		same := func(x, y [][]float32) bool {
			if len(x) != len(y) {
				return false
			}
			for i := range x {
				if len(x[i]) != len(y[i]) {
					return false
				}
			}
			return true
		}
		if a.Steps < 0 || !same(a.MW, c.Params.W) || !same(a.VW, c.Params.W) || !same(a.ME, c.Params.E) ||
			!same(a.VE, c.Params.E) || !same(a.MBias, c.Params.Bias) || !same(a.VBias, c.Params.Bias) {
			return fmt.Errorf("%w: the Adam state does not have the parameters' shapes", ErrGraph)
		}
	}
	return nil
}

// settings returns the populations' shared settings for a run.
func (c *Circuit) settings(batch int, denoise, learn bool) (*neuron.Settings, error) {
	rc, err := c.Config.Resolve()
	if err != nil {
		return nil, err
	}
	phi, err := tensor.ParseActivation(rc.Phi)
	if err != nil {
		return nil, err
	}
	return &neuron.Settings{Batch: batch, Steps: rc.Steps, Denoise: denoise, Learn: learn,
		State:     neuron.StateParams{Beta: float32(rc.Beta), Gamma: float32(*rc.Gamma), PCN: rc.PCN, Phi: phi},
		LearnRate: rc.LearningRate, Lambda: rc.Lambda, Optimizer: rc.Optimizer, MaxKernelNorm: rc.MaxKernelNorm}, nil
}

// tied reports whether the feedback uses W (no separate E).
func (c *Circuit) tied() bool { return c.Params.E == nil }

// population builds the population ref names, with its own copy of the
// kernels it holds.
func (c *Circuit) population(ref neuron.Ref, set *neuron.Settings) (population, error) {
	g := c.Graph
	kk := func(si int) int { return g.Synapses[si].Kernel * g.Synapses[si].Kernel }
	plane := set.Batch * g.Layers[ref.Layer].Size * g.Layers[ref.Layer].Size
	if ref.Role == neuron.ErrorRole {
		var ds []neuron.Dendrite
		for _, si := range g.above(ref.Layer) {
			s := g.Spec(si, set.Batch)
			spec := s
			spec.InC = 1
			k := kk(si)
			w := make([]float32, s.OutC*k) // W[·j]: [C_up][1][K][K]
			for i := 0; i < s.OutC; i++ {
				copy(w[i*k:(i+1)*k], c.Params.W[si][(i*s.InC+ref.Index)*k:(i*s.InC+ref.Index+1)*k])
			}
			ds = append(ds, neuron.Dendrite{Upper: g.Synapses[si].From, Spec: spec, W: w})
		}
		gact, _ := outputActivation(g.Layers[ref.Layer].Output)
		p, err := neuron.NewErrorPop(ref, set, plane, gact, c.Params.Bias[ref.Layer][ref.Index], g.Layers[ref.Layer].Image, c.tied(), ds)
		if err != nil || c.Params.Adam == nil {
			return p, err
		}
		a := c.Params.Adam
		for di, si := range g.above(ref.Layer) {
			if o, ok := adam(p.Dendrites()[di].Optimizer()); ok {
				s, k := g.Spec(si, 1), kk(si)
				for i := 0; i < s.OutC; i++ {
					from := (i*s.InC + ref.Index) * k
					copy(o.M[i*k:(i+1)*k], a.MW[si][from:from+k])
					copy(o.V[i*k:(i+1)*k], a.VW[si][from:from+k])
				}
				o.T = a.Steps
			}
		}
		if o, ok := adam(p.BiasOptimizer()); ok {
			o.M[0], o.V[0], o.T = a.MBias[ref.Layer][ref.Index], a.VBias[ref.Layer][ref.Index], a.Steps
		}
		return p, nil
	}
	var fbs []neuron.Feedback
	var clampedBelow []bool
	for _, si := range g.below(ref.Layer) {
		s := g.Spec(si, set.Batch)
		spec := s
		spec.OutC = 1
		k := kk(si)
		src := c.Params.W[si]
		if !c.tied() {
			src = c.Params.E[si]
		}
		e := append([]float32(nil), src[ref.Index*s.InC*k:(ref.Index+1)*s.InC*k]...) // E[i·]: [1][C_low][K][K]
		// Offset of this synapse's kernels in the lower error maps' weight
		// messages: the kernels of the synapses predicting that layer before it.
		off := 0
		for _, sj := range g.above(g.Synapses[si].To) {
			if sj == si {
				break
			}
			off += g.Layers[g.Synapses[sj].From].Maps * kk(sj)
		}
		fbs = append(fbs, neuron.Feedback{Lower: g.Synapses[si].To, Spec: spec, E: e, WeightsOffset: off})
		clampedBelow = append(clampedBelow, g.Layers[g.Synapses[si].To].Image)
	}
	p, err := neuron.NewStatePop(ref, set, plane, g.Layers[ref.Layer].Image, g.Top(ref.Layer), c.tied(), fbs, clampedBelow)
	if err != nil || c.Params.Adam == nil || c.tied() {
		return p, err
	}
	for fi, si := range g.below(ref.Layer) {
		if o, ok := adam(p.Feedback()[fi].Optimizer()); ok {
			n := len(o.M)
			copy(o.M, c.Params.Adam.ME[si][ref.Index*n:(ref.Index+1)*n])
			copy(o.V, c.Params.Adam.VE[si][ref.Index*n:(ref.Index+1)*n])
			o.T = c.Params.Adam.Steps
		}
	}
	return p, nil
}

// population is what the runners drive.
type population interface {
	Ref() neuron.Ref
	Handle(m neuron.Msg, emit neuron.Emit) error
}
