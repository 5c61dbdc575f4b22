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
	// W[s] are synapse s's prediction kernels, [C_from][C_to][K][K]; for a
	// residual block, its stages' kernels W_k ([C_{k−1}][C_k][K][K]) one
	// after the other.
	W [][]float32
	// E[s] are its error kernels in untied mode (same layout), nil when
	// tied (and empty for a residual block).
	E [][]float32
	// BlockE[s] are a residual block's error kernels E_k, in W[s]'s layout
	// (nil for a plain synapse, and nil altogether without blocks). A block
	// learns them in tied and untied mode alike.
	BlockE [][]float32 `json:",omitempty"`
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
	Steps            int
	MW, VW, ME, VE   [][]float32 // by synapse; ME, VE nil when tied
	MBias, VBias     [][]float32 // by layer; nil for a top layer
	MBlockE, VBlockE [][]float32 `json:",omitempty"` // by synapse, as Params.BlockE
}

// newAdamState returns zero moments shaped like p.
func newAdamState(p *Params) *AdamState {
	return &AdamState{MW: zeros(p.W), VW: zeros(p.W), ME: zeros(p.E), VE: zeros(p.E), MBias: zeros(p.Bias), VBias: zeros(p.Bias),
		MBlockE: zeros(p.BlockE), VBlockE: zeros(p.BlockE)}
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
	// Encoding is how the populations' map messages travel, in every
	// driver that builds them from the circuit (sessions, sync and async,
	// and Populations for hwsim's virtual clock): dense (the zero value) or
	// sigma-delta (see neuron.Encoding).
	Encoding neuron.Encoding
}

// FromModel returns the Conv-NGC circuit of a batched model with a copy of
// its parameters: the actor runtime started from it reproduces the model.
func FromModel(m *ngc.Model) (*Circuit, error) {
	cfg := m.Config()
	g, err := ConvNGC(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkRunnable(g); err != nil {
		return nil, err
	}
	p := &Params{Bias: make([][]float32, len(g.Layers))}
	if cfg.Untied {
		p.E = make([][]float32, len(g.Synapses))
	}
	if hasBlocks(g) {
		p.BlockE = make([][]float32, len(g.Synapses))
	}
	for si, s := range g.Synapses {
		syn := m.Synapse(si)
		if s.Block != nil {
			var w, e []float32
			for _, st := range syn.Stages {
				w, e = append(w, st.W...), append(e, st.E...)
			}
			p.W = append(p.W, w)
			p.BlockE[si] = e
			continue
		}
		p.W = append(p.W, append([]float32(nil), syn.W...))
		if syn.E != nil {
			p.E[si] = append([]float32(nil), syn.E...)
		}
		if syn.Bias != nil {
			p.Bias[s.To] = append([]float32(nil), syn.Bias...)
		}
	}
	p.Adam = newAdamState(p)
	steps := 0
	for _, x := range modelAdam(g, m, p.Adam) {
		copy(x.m, x.o.M)
		copy(x.v, x.o.V)
		steps = x.o.T
	}
	p.Adam.Steps = steps
	if steps == 0 {
		p.Adam = nil // a fresh (or no) Adam optimiser: nothing to carry
	}
	return &Circuit{Graph: g, Params: p, Config: cfg}, nil
}

// ToModel is the inverse of FromModel: a model of c's config holding the
// parameters p (gathered by Session.Params) and, when p carries it, their
// Adam state, so that training resumes from it as from a batched
// checkpoint. c must be a Conv-NGC circuit (ConvNGC's graph).
func (c *Circuit) ToModel(p *Params) (*ngc.Model, error) {
	out, err := ngc.New(c.Config)
	if err != nil {
		return nil, err
	}
	if len(p.W) != len(c.Graph.Synapses) {
		return nil, fmt.Errorf("%w: %d kernel sets for %d synapses", ErrGraph, len(p.W), len(c.Graph.Synapses))
	}
	for si, syn := range c.Graph.Synapses {
		dst := out.Synapse(si)
		if syn.Block != nil {
			if len(p.W[si]) != kernelLen(c.Graph, si) || p.BlockE == nil || len(p.BlockE[si]) != len(p.W[si]) {
				return nil, fmt.Errorf("%w: the block of synapse %d→%d does not fit the model's config", ErrGraph, syn.From, syn.To)
			}
			off := 0
			for _, st := range dst.Stages {
				copy(st.W, p.W[si][off:])
				copy(st.E, p.BlockE[si][off:])
				off += len(st.W)
			}
			continue
		}
		if len(dst.W) != len(p.W[si]) || (dst.Bias != nil && len(dst.Bias) != len(p.Bias[syn.To])) || (dst.E != nil && (p.E == nil || len(p.E[si]) != len(dst.E))) {
			return nil, fmt.Errorf("%w: synapse %d→%d does not fit the model's config", ErrGraph, syn.From, syn.To)
		}
		copy(dst.W, p.W[si])
		copy(dst.Bias, p.Bias[syn.To])
		if dst.E != nil {
			copy(dst.E, p.E[si])
		}
	}
	if p.Adam != nil {
		for _, x := range modelAdam(c.Graph, out, p.Adam) {
			if len(x.m) != len(x.o.M) {
				return nil, fmt.Errorf("%w: %d Adam moments for %d parameters", ErrGraph, len(x.m), len(x.o.M))
			}
			copy(x.o.M, x.m)
			copy(x.o.V, x.v)
			x.o.T = p.Adam.Steps
		}
	}
	return out, nil
}

// adamPair is one of a model's Adam optimisers and the AdamState slices
// laid out like its parameters.
type adamPair struct {
	o    *optim.Adam
	m, v []float32
}

// modelAdam pairs the Adam optimisers of model m (W, bias and, untied, E
// of every synapse of the Conv-NGC graph g; W and E of every stage of a
// residual block) with their slices of a. Optimisers that are not Adam are
// left out.
func modelAdam(g *Graph, m *ngc.Model, a *AdamState) []adamPair {
	var out []adamPair
	for si, s := range g.Synapses {
		if s.Block != nil {
			off := 0
			for k := range s.Block.Stages {
				ow, oe := m.StageOptimizers(si, k)
				w, wok := adam(ow)
				e, eok := adam(oe)
				if !wok || !eok {
					continue
				}
				n := len(w.M)
				out = append(out, adamPair{w, a.MW[si][off : off+n], a.VW[si][off : off+n]},
					adamPair{e, a.MBlockE[si][off : off+n], a.VBlockE[si][off : off+n]})
				off += n
			}
			continue
		}
		ow, ob, oe := m.SynapseOptimizers(si)
		if o, ok := adam(ow); ok {
			out = append(out, adamPair{o, a.MW[si], a.VW[si]})
		}
		if o, ok := adam(ob); ok {
			out = append(out, adamPair{o, a.MBias[s.To], a.VBias[s.To]})
		}
		if o, ok := adam(oe); ok && a.ME != nil {
			out = append(out, adamPair{o, a.ME[si], a.VE[si]})
		}
	}
	return out
}

// New returns a circuit over any graph with fresh parameters: kernels from
// N(0, InitStd²) drawn from cfg.Seed, zero biases.
func New(g *Graph, cfg ngc.Config) (*Circuit, error) {
	if err := checkRunnable(g); err != nil {
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
			w[i] = float32(r.NormFloat64() * *rc.InitStd)
		}
		return w
	}
	if rc.Untied {
		p.E = make([][]float32, len(g.Synapses))
	}
	if hasBlocks(g) {
		p.BlockE = make([][]float32, len(g.Synapses))
	}
	for si, s := range g.Synapses {
		if s.Block != nil {
			// Stage by stage, W_k then E_k: ngc.New's order.
			var w, e []float32
			for _, sg := range blockGeometry(g, si, 1) {
				n := sg.Spec.KernelLen()
				w = append(w, draw(n)...)
				e = append(e, draw(n)...)
			}
			p.W = append(p.W, w)
			p.BlockE[si] = e
			continue
		}
		n := g.Spec(si, 1).KernelLen()
		p.W = append(p.W, draw(n))
		if rc.Untied {
			p.E[si] = draw(n)
		}
	}
	for l := range g.Layers {
		if !g.Top(l) && plainAbove(g, l) {
			p.Bias[l] = make([]float32, g.Layers[l].Maps)
		}
	}
	return &Circuit{Graph: g, Params: p, Config: rc}, nil
}

// Validate checks that the parameters fit the graph and that the encoding
// is usable.
func (c *Circuit) Validate() error {
	if err := checkRunnable(c.Graph); err != nil {
		return err
	}
	if err := c.Encoding.Validate(); err != nil {
		return fmt.Errorf("circuit: %w", err)
	}
	if c.Params == nil {
		return fmt.Errorf("%w: no parameters", ErrGraph)
	}
	blocks := hasBlocks(c.Graph)
	if blocks && c.Encoding.Scheme != neuron.Dense {
		return fmt.Errorf("%w (encoding %v)", ErrBlocks, c.Encoding)
	}
	if len(c.Params.W) != len(c.Graph.Synapses) || (c.Params.E != nil && len(c.Params.E) != len(c.Graph.Synapses)) ||
		(blocks && len(c.Params.BlockE) != len(c.Graph.Synapses)) || (!blocks && c.Params.BlockE != nil) {
		return fmt.Errorf("%w: %d kernel sets for %d synapses", ErrGraph, len(c.Params.W), len(c.Graph.Synapses))
	}
	for si, s := range c.Graph.Synapses {
		n, ne, nb := kernelLen(c.Graph, si), kernelLen(c.Graph, si), 0
		if s.Block != nil {
			ne, nb = 0, n
		}
		if len(c.Params.W[si]) != n || (c.Params.E != nil && len(c.Params.E[si]) != ne) || (blocks && len(c.Params.BlockE[si]) != nb) {
			return fmt.Errorf("%w: synapse %d has %d kernel values, want %d", ErrGraph, si, len(c.Params.W[si]), n)
		}
	}
	if len(c.Params.Bias) != len(c.Graph.Layers) {
		return fmt.Errorf("%w: %d bias sets for %d layers", ErrGraph, len(c.Params.Bias), len(c.Graph.Layers))
	}
	for l, ly := range c.Graph.Layers {
		want := ly.Maps
		if c.Graph.Top(l) || !plainAbove(c.Graph, l) {
			want = 0
		}
		if len(c.Params.Bias[l]) != want {
			return fmt.Errorf("%w: layer %d has %d biases, want %d", ErrGraph, l, len(c.Params.Bias[l]), want)
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
			!same(a.VE, c.Params.E) || !same(a.MBias, c.Params.Bias) || !same(a.VBias, c.Params.Bias) ||
			!same(a.MBlockE, c.Params.BlockE) || !same(a.VBlockE, c.Params.BlockE) {
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
		LearnRate: rc.LearningRate, Lambda: *rc.Lambda, Optimizer: rc.Optimizer, MaxKernelNorm: rc.MaxKernelNorm,
		Encoding: c.Encoding}, nil
}

// tied reports whether the feedback uses W (no separate E).
func (c *Circuit) tied() bool { return c.Params.E == nil }

// plainAbove reports whether a plain synapse predicts layer l: the layer
// has biases (a layer only residual blocks predict has none, as in the
// batched reference).
func plainAbove(g *Graph, l int) bool {
	for _, si := range g.Above(l) {
		if g.Synapses[si].Block == nil {
			return true
		}
	}
	return false
}

// population builds the population ref names, with its own copy of the
// kernels it holds (its shares of the parameters) and, when the circuit
// carries Adam state, its share of that.
func (c *Circuit) population(ref neuron.Ref, set *neuron.Settings) (population, error) {
	g := c.Graph
	kk := func(si int) int { return g.Synapses[si].Kernel * g.Synapses[si].Kernel }
	shs := c.shares(ref)
	param := func(sh share) []float32 { return sh.of(c.Params) }
	var pop population
	if ref.Role == neuron.BlockRole {
		if !validBlockRef(g, ref) {
			return nil, fmt.Errorf("%w: no block map %v", ErrGraph, ref)
		}
		p, err := c.blockPopulation(ref, set, shs)
		if err != nil {
			return nil, err
		}
		return c.withAdam(ref, p)
	}
	plane := set.Batch * g.Layers[ref.Layer].Size * g.Layers[ref.Layer].Size
	if ref.Role == neuron.ErrorRole {
		var ds []neuron.Dendrite
		for di, si := range g.Above(ref.Layer) {
			if g.Synapses[si].Block != nil {
				ds = append(ds, neuron.Dendrite{Upper: g.Synapses[si].From, Block: blockEnd(g, si, ref.Index)})
				continue
			}
			spec := g.Spec(si, set.Batch)
			spec.InC = 1
			// W[·j]: [C_up][1][K][K]
			ds = append(ds, neuron.Dendrite{Upper: g.Synapses[si].From, Spec: spec, W: gatherShares(ofDendrite(shs, di), param)})
		}
		gact, _ := outputActivation(g.Layers[ref.Layer].Output)
		var bias float32
		if b := c.Params.Bias[ref.Layer]; b != nil {
			bias = b[ref.Index]
		}
		p, err := neuron.NewErrorPop(ref, set, plane, gact, bias, g.Layers[ref.Layer].Image, c.tied(), ds)
		if err != nil {
			return nil, err
		}
		pop = p
	} else {
		var fbs []neuron.Feedback
		var clampedBelow []bool
		for fi, si := range g.Below(ref.Layer) {
			if g.Synapses[si].Block != nil {
				spec := blockGeometry(g, si, set.Batch)[0].Spec
				spec.OutC = 1
				fbs = append(fbs, neuron.Feedback{Lower: g.Synapses[si].To, Spec: spec, E: gatherShares(ofDendrite(shs, fi), param),
					Block: blockStart(g, si, ref.Index)})
				clampedBelow = append(clampedBelow, g.Layers[g.Synapses[si].To].Image)
				continue
			}
			spec := g.Spec(si, set.Batch)
			spec.OutC = 1
			// Offset of this synapse's kernels in the lower error maps' weight
			// messages: the kernels of the synapses predicting that layer before it.
			off := 0
			for _, sj := range g.Above(g.Synapses[si].To) {
				if sj == si {
					break
				}
				if g.Synapses[sj].Block != nil {
					continue // a block's end holds no kernels
				}
				off += g.Layers[g.Synapses[sj].From].Maps * kk(sj)
			}
			// E[i·]: [1][C_low][K][K]
			fbs = append(fbs, neuron.Feedback{Lower: g.Synapses[si].To, Spec: spec, E: gatherShares(ofDendrite(shs, fi), param), WeightsOffset: off})
			clampedBelow = append(clampedBelow, g.Layers[g.Synapses[si].To].Image)
		}
		p, err := neuron.NewStatePop(ref, set, plane, g.Layers[ref.Layer].Image, g.Top(ref.Layer), c.tied(), fbs, clampedBelow)
		if err != nil {
			return nil, err
		}
		for _, si := range g.Above(ref.Layer) {
			if g.Synapses[si].Block != nil {
				p.ExpectOwnErrorAtEnd() // the block's last stage learns from it
			}
		}
		pop = p
	}
	return c.withAdam(ref, pop)
}

// zeroParams returns zero parameters shaped like c's.
func (c *Circuit) zeroParams() *Params {
	return &Params{W: zeros(c.Params.W), E: zeros(c.Params.E), BlockE: zeros(c.Params.BlockE), Bias: zeros(c.Params.Bias)}
}

// holders is the number of populations that hold parameters of their own
// (they answer a parameter dump).
func (c *Circuit) holders() int {
	n := 0
	for _, ref := range Populations(c.Graph) {
		if len(c.ownShares(ref)) > 0 {
			n++
		}
	}
	return n
}

// withAdam hands pop its share of the circuit's Adam state, if any.
func (c *Circuit) withAdam(ref neuron.Ref, pop population) (population, error) {
	if a := c.Params.Adam; a != nil {
		if _, opts := held(pop, c.tied()); len(opts) > 0 {
			shs := c.ownShares(ref)
			m := gatherShares(shs, func(sh share) []float32 { m, _ := sh.moments(a); return m })
			v := gatherShares(shs, func(sh share) []float32 { _, v := sh.moments(a); return v })
			if err := setAdamMoments(opts, m, v, a.Steps); err != nil {
				return nil, fmt.Errorf("circuit: %v: %w", ref, err)
			}
		}
	}
	return pop, nil
}

// population is what the runners drive.
type population interface {
	Ref() neuron.Ref
	Handle(m neuron.Msg, emit neuron.Emit) error
	Waiting() (batch, step int, missing []neuron.Wait)
}

// zeros returns zero slices shaped like src (nil where src is nil).
func zeros(src [][]float32) [][]float32 {
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
