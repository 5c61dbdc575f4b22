package ngc

import (
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/ngc/graph"
	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/tensor"
)

// Synapses are the parameters of one synapse of the graph: in a chain,
// those between state layer ℓ (above) and ℓ−1 (below).
type Synapses struct {
	// W are the prediction kernels of a plain synapse, layout
	// [C_from][C_to][K][K]: W[i][j] maps upper map i onto lower map j.
	W []float32
	// Bias are the prediction biases of the lower layer, one per map,
	// [C_to]. A layer's biases live with the first plain synapse that
	// predicts it (nil on the others, and on blocks).
	Bias []float32
	// E are the error (feedback) kernels in untied mode, in W's layout; nil in
	// tied mode, where the feedback uses W itself (E = Wᵀ) and no second copy
	// exists that could drift.
	E []float32
	// Stages are the kernels of a residual block (graph.Block), stage by
	// stage from the top; nil for a plain synapse.
	Stages []StageParams
}

// StageParams are the kernels of one stage of a residual block: the
// prediction kernels W, layout [C_in][C_out][K][K], and the learnable error
// kernels E of the block's error pathway, in W's layout.
type StageParams struct {
	W, E []float32
}

// Model is a Conv-NGC network: its resolved Config and parameters. A Model
// is not safe for concurrent use.
type Model struct {
	cfg  Config
	g    *graph.Graph
	phi  tensor.Activation
	syn  []Synapses // by synapse of g; syn[ℓ−1] joins ℓ to ℓ−1 in a chain
	opt  []paramOpt // optimiser state per synapse
	rng  *rand.Rand // inference noise (top-state initialisation), drawn from pcg
	pcg  *rand.PCG
	seed uint64
}

type paramOpt struct {
	w, b, e optim.Optimizer
	stages  []paramOpt // of a block's stages (w and e)
}

// New returns a model with freshly initialised parameters: kernels from
// N(0, InitStd²), zero biases, drawn from cfg.Seed.
func New(cfg Config) (*Model, error) {
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	m := newEmpty(rc)
	init := rand.New(rand.NewPCG(rc.Seed, 0x9e3779b97f4a7c15))
	fill := func(v []float32) {
		for i := range v {
			v[i] = float32(init.NormFloat64() * *rc.InitStd)
		}
	}
	for i := range m.syn {
		s := &m.syn[i]
		fill(s.W)
		fill(s.E)
		for _, st := range s.Stages {
			fill(st.W)
			fill(st.E)
		}
	}
	return m, nil
}

// newEmpty allocates zeroed parameters and optimiser state for a resolved config.
func newEmpty(rc Config) *Model {
	phi, _ := tensor.ParseActivation(rc.Phi)
	pcg := rand.NewPCG(rc.Seed, 1)
	g := rc.Graph
	m := &Model{cfg: rc, g: g, phi: phi, seed: rc.Seed, rng: rand.New(pcg), pcg: pcg}
	hasBias := make([]bool, len(g.Layers))
	for si, syn := range g.Synapses {
		up, low := g.Layers[syn.From].Maps, g.Layers[syn.To].Maps
		var s Synapses
		if syn.Block != nil {
			geo, _ := syn.Block.Geometry(g.Layers[syn.From], g.Layers[syn.To], 1)
			for k, sg := range geo {
				n := sg.InMaps * sg.OutMaps * syn.Block.Stages[k].Kernel * syn.Block.Stages[k].Kernel
				s.Stages = append(s.Stages, StageParams{W: make([]float32, n), E: make([]float32, n)})
			}
		} else {
			kk := syn.Kernel * syn.Kernel
			s.W = make([]float32, up*low*kk)
			if !hasBias[syn.To] {
				s.Bias, hasBias[syn.To] = make([]float32, low), true
			}
			if rc.Untied {
				s.E = make([]float32, up*low*kk)
			}
		}
		m.syn = append(m.syn, s)
		m.opt = append(m.opt, m.newOpt(si, s))
	}
	return m
}

func (m *Model) newOpt(si int, s Synapses) paramOpt {
	mk := func(n int, lr float64, block int) optim.Optimizer {
		if n == 0 {
			return nil
		}
		if m.cfg.Optimizer == "normalized" {
			return &optim.Normalized{LR: lr, Eps: 1e-8, Block: block}
		}
		return optim.NewAdam(n, lr)
	}
	syn := m.g.Synapses[si]
	lr := m.cfg.LearningRate
	if syn.Block != nil {
		var o paramOpt
		for k, st := range s.Stages {
			kk := syn.Block.Stages[k].Kernel * syn.Block.Stages[k].Kernel
			o.stages = append(o.stages, paramOpt{w: mk(len(st.W), lr, kk), e: mk(len(st.E), lr**m.cfg.Lambda, kk)})
		}
		return o
	}
	kk := syn.Kernel * syn.Kernel
	return paramOpt{w: mk(len(s.W), lr, kk), b: mk(len(s.Bias), lr, len(s.Bias)), e: mk(len(s.E), lr**m.cfg.Lambda, kk)}
}

// Config returns the model's resolved configuration.
func (m *Model) Config() Config { return m.cfg }

// Graph returns the model's circuit. It is the model's own: do not change
// it.
func (m *Model) Graph() *graph.Graph { return m.g }

// Synapses returns the parameters between layer ℓ and ℓ−1 (ℓ = 1..L) of a
// chain: Synapse(ℓ−1). The slices are the model's own: writing them
// changes the model.
func (m *Model) Synapses(l int) Synapses { return m.syn[l-1] }

// Synapse returns the parameters of synapse si of the graph (the model's
// own slices).
func (m *Model) Synapse(si int) Synapses { return m.syn[si] }

// Optimizers returns the live optimisers of the synapses between layer ℓ
// and ℓ−1 (ℓ = 1 … Layers()): of W, of the biases and, when untied, of E
// (nil otherwise). With the Adam optimiser they are *optim.Adam, whose
// moments and step count a caller may read or set (the actor runtime hands
// them to its populations and back).
func (m *Model) Optimizers(l int) (w, bias, e optim.Optimizer) {
	return m.SynapseOptimizers(l - 1)
}

// SynapseOptimizers returns the live optimisers of plain synapse si of the
// graph: of W, of the biases it holds (nil when it holds none) and, when
// untied, of E (nil otherwise).
func (m *Model) SynapseOptimizers(si int) (w, bias, e optim.Optimizer) {
	o := m.opt[si]
	return o.w, o.b, o.e
}

// StageOptimizers returns the live optimisers of stage k (from 0) of the
// residual block of synapse si: of its prediction kernels W and of its
// error kernels E. Both are nil for a plain synapse or a stage it lacks.
func (m *Model) StageOptimizers(si, k int) (w, e optim.Optimizer) {
	if si < 0 || si >= len(m.opt) || k < 0 || k >= len(m.opt[si].stages) {
		return nil, nil
	}
	o := m.opt[si].stages[k]
	return o.w, o.e
}

// Spec returns the convolution between layer ℓ (small side) and ℓ−1 (large
// side) for a mini-batch of b images. Kernel taps use ngc-learn's
// deconvolution orientation (tensor.ConvSpec.Flip).
func (m *Model) Spec(l, b int) tensor.ConvSpec {
	lo := m.cfg.SizeAt(l - 1)
	g, _ := tensor.SameGeom(lo, lo, m.cfg.Kernel, m.cfg.Stride)
	return tensor.ConvSpec{Geom: g, Batch: b, InC: m.cfg.ChannelsAt(l - 1), OutC: m.cfg.ChannelsAt(l), Flip: true}
}

// LayerInfo describes one state layer and the synapses that predict the
// layer below it.
type LayerInfo struct {
	Layer    int    `json:"layer"`
	Maps     int    `json:"maps"`
	Size     int    `json:"size"`
	Kernels  []int  `json:"kernel_shape,omitempty"` // shape of W[ℓ]
	Weights  int    `json:"weights"`                // kernel weights of W[ℓ] (and E[ℓ] when untied)
	Biases   int    `json:"biases"`
	Role     string `json:"role"`
	Activity string `json:"activation"`
}

// Summary is what Inspect reports.
type Summary struct {
	Config  Config      `json:"config"`
	Layers  []LayerInfo `json:"layers"`
	Weights int         `json:"kernel_weights"`
	Biases  int         `json:"biases"`
	// StateMaps and ErrorMaps count the populations, i.e. the actors of the
	// event-driven runtime (the image layer's state maps included).
	StateMaps int `json:"state_maps"`
	ErrorMaps int `json:"error_maps"`
}

// Inspect reports the layers, shapes and parameter counts of the model. The
// paper network has 9,225 kernel weights and 63 biases.
func (m *Model) Inspect() Summary { return Inspect(m.cfg) }

// Inspect reports the layers, shapes and parameter counts of the network a
// config describes (resolving defaults). An invalid config gives an empty
// summary with the config as given.
func Inspect(c Config) Summary {
	rc, err := c.Resolve()
	if err != nil {
		return Summary{Config: c}
	}
	s := Summary{Config: rc}
	g := rc.Graph
	order, _ := g.TopDown()
	for _, l := range order {
		ly := g.Layers[l]
		li := LayerInfo{Layer: l, Maps: ly.Maps, Size: ly.Size, Activity: rc.Phi}
		switch {
		case ly.Image:
			li.Role, li.Activity = "image", "clamped"
		case g.Top(l):
			li.Role = "top"
		default:
			li.Role = "latent"
		}
		below := g.Below(l)
		for _, si := range below {
			syn := g.Synapses[si]
			if syn.Block != nil {
				geo, _ := syn.Block.Geometry(g.Layers[syn.From], g.Layers[syn.To], 1)
				for k, sg := range geo {
					kk := syn.Block.Stages[k].Kernel
					li.Weights += 2 * sg.InMaps * sg.OutMaps * kk * kk // W and E
				}
				continue
			}
			w := ly.Maps * g.Layers[syn.To].Maps * syn.Kernel * syn.Kernel
			if rc.Untied {
				w *= 2
			}
			li.Weights += w
			if len(below) == 1 {
				li.Kernels = []int{ly.Maps, g.Layers[syn.To].Maps, syn.Kernel, syn.Kernel}
			}
			if firstPlain(g, syn.To) == si {
				li.Biases += g.Layers[syn.To].Maps
			}
		}
		s.Weights += li.Weights
		s.Biases += li.Biases
		s.StateMaps += li.Maps
		if !g.Top(l) {
			s.ErrorMaps += li.Maps
		}
		s.Layers = append(s.Layers, li)
	}
	return s
}

// firstPlain returns the first plain synapse predicting layer l (the one
// that holds l's biases), or −1.
func firstPlain(g *graph.Graph, l int) int {
	for _, si := range g.Above(l) {
		if g.Synapses[si].Block == nil {
			return si
		}
	}
	return -1
}

// String renders a summary as a table.
func (s Summary) String() string {
	out := fmt.Sprintf("%-6s %-7s %5s %7s  %-16s %8s %6s\n", "layer", "role", "maps", "size", "W shape", "weights", "biases")
	for _, l := range s.Layers {
		shape := "-"
		if l.Kernels != nil {
			shape = fmt.Sprint(l.Kernels)
		}
		out += fmt.Sprintf("%-6d %-7s %5d %3d×%-3d  %-16s %8d %6d\n", l.Layer, l.Role, l.Maps, l.Size, l.Size, shape, l.Weights, l.Biases)
	}
	out += fmt.Sprintf("total: %d kernel weights + %d biases = %d parameters; %d state maps, %d error maps\n",
		s.Weights, s.Biases, s.Weights+s.Biases, s.StateMaps, s.ErrorMaps)
	return out
}

// FLOPsPerImage counts the floating-point operations of the convolutions of
// one image's inference (T steps of prediction and feedback, plus the
// ancestral and final predictions), and of the kernel update when train is
// set: two per multiply-accumulate, padding taps included. Elementwise work
// is not counted. The paper network costs about 2.0 MFLOP per step.
func (m *Model) FLOPsPerImage(train bool) int64 {
	var pred, fb int64
	for si, syn := range m.g.Synapses {
		if syn.Block != nil {
			geo, _ := syn.Block.Geometry(m.g.Layers[syn.From], m.g.Layers[syn.To], 1)
			for _, sg := range geo {
				pred += 2 * sg.Spec.MACs()
				fb += 2 * sg.Spec.MACs()
			}
			continue
		}
		macs := m.g.Spec(si, 1).MACs()
		pred += 2 * macs
		fb += 2 * macs
	}
	T := int64(m.cfg.Steps)
	total := (T+2)*pred + T*fb
	if train {
		total += pred // the kernel gradient costs one more pass
	}
	return total
}

// WithSteps returns a copy of the model that runs T steps of inference.
// The copy shares no state with m.
func (m *Model) WithSteps(t int) (*Model, error) {
	if t < 1 {
		return nil, fmt.Errorf("%w: %d steps", ErrConfig, t)
	}
	f, err := m.safetensors()
	if err != nil {
		return nil, err
	}
	c, err := fromSafetensors(f)
	if err != nil {
		return nil, err
	}
	c.cfg.Steps = t
	return c, nil
}
