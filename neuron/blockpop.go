package neuron

import (
	"fmt"

	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/tensor"
)

// BlockPop is map j of stage k of a residual block (the paper's Appendix
// C, Eq. 7-12; see graph.Block): an intermediate activity that is not a
// state. It holds the column W_k[·j] of its stage's prediction kernels and,
// except in the last stage, the row E_{k+1}[j·] of the next stage's error
// kernels, and computes at every step
//
//	a_j = Σ_i W_k[i j] ⊛ h_{k−1,i},   h_j = ReLU(Pool(a_j))       (forward)
//	d_j = Up(src_j),   src_j = Σ_i E_{k+1}[j i] ∗ d_{k+1,i}        (error pathway)
//
// with h_0 = φ(z) of the upper layer's maps and, in the last stage K,
// src_j = e_j, the error of map j of the predicted layer (its prediction
// is h_K plus the skip term, which that error map adds). Up spreads a
// perturbation over each pool window (StagePerturbation). It learns once
// per mini-batch, from the final states, with the rule of Eq. 12 on both
// kernels it holds: ΔW_k[·j] = d_j ⋆ h_{k−1} and ΔE_{k+1}[j·] = λ·d_{k+1} ⋆ h_j
// (the gradient the stage below computes for its W_{k+1}[j·], transposed).
//
// Inputs: the activities of every map above (KindPhi from the upper
// layer's state maps in stage 1, KindHidden from stage k−1 otherwise) at
// steps 0..T+1 (step 0 only when the predicted layer is free, for the
// ancestral initialisation); the perturbations of every map of stage k+1
// (KindPerturb), or e_j (KindError) in the last stage, at steps 1..T, and
// T+1 when learning.
//
// Outputs: KindHidden (steps 0..T+1), KindPerturb (steps 1..T, and T+1
// when learning) and, after learning, KindDone.
type BlockPop struct {
	ref   Ref
	set   *Settings
	cfg   BlockConfig
	plane int // B·a's side²
	hLen  int // B·h's side²

	a, src, scratch, cols, grad []float32
	h, d                        [2][]float32 // by step parity: a step's values stay intact while its receivers read them
	wOpt, eOpt                  optim.Optimizer

	batch, step int
	pending     map[int64]*blockInputs
	ops         int64
}

// BlockConfig is one map of a residual block's stage as a BlockPop holds it.
type BlockConfig struct {
	// Upper and Lower are the layers the block joins (the predicting and
	// the predicted); Stages is its number of stages.
	Upper, Lower, Stages int
	// In is the stage's transposed convolution onto this map: the kernels
	// W_k[·j], layout [C_{k−1}][1][K][K], spec InC = 1, OutC = C_{k−1}.
	In tensor.ConvSpec
	W  []float32
	// Out is the next stage's error convolution from its perturbations
	// onto this map: E_{k+1}[j·], layout [1][C_{k+1}][K][K], spec OutC = 1,
	// InC = C_{k+1}. Zero (and E nil) in the last stage.
	Out tensor.ConvSpec
	E   []float32
	// Pool, ReLU: what follows the convolution (see graph.Stage). Exact
	// routes perturbations through the pool's and rectifier's adjoints
	// instead of skipping them (graph.PathwayExact).
	Pool  int
	ReLU  bool
	Exact bool
	// Free: the predicted layer is free, so the block runs at step 0 for
	// the ancestral initialisation.
	Free bool
}

type blockInputs struct {
	up   [][]float32 // the maps above: φ(z) or h_{k−1}
	nUp  int
	down [][]float32 // d_{k+1} of every map of the next stage, or {e_j}
	nDn  int
	fwd  bool // the forward pass of this step is done
}

// NewBlockPop builds map ref (Role BlockRole) of a residual block. The
// kernels in cfg are the population's own: the caller hands them over.
func NewBlockPop(ref Ref, set *Settings, cfg BlockConfig) (*BlockPop, error) {
	if ref.Role != BlockRole || ref.Stage < 1 || ref.Stage > cfg.Stages || ref.Index < 0 {
		return nil, fmt.Errorf("neuron: block population %v: need the block role and a stage in 1..%d", ref, cfg.Stages)
	}
	if set.Encoding.Scheme == SigmaDelta {
		return nil, fmt.Errorf("neuron: %v: residual blocks run with the dense encoding only", ref)
	}
	if err := checkSpec(fmt.Sprintf("%v convolution", ref), cfg.In, cfg.W); err != nil {
		return nil, err
	}
	if cfg.In.InC != 1 {
		return nil, fmt.Errorf("neuron: %v: the stage's convolution must end on one map", ref)
	}
	last := ref.Stage == cfg.Stages
	if last != (cfg.E == nil) {
		return nil, fmt.Errorf("neuron: %v: the last stage, and only it, has no error kernels", ref)
	}
	pool := max(cfg.Pool, 1)
	side := cfg.In.InH
	if side%pool != 0 {
		return nil, fmt.Errorf("neuron: %v: a pool of %d does not divide %d pixels", ref, pool, side)
	}
	p := &BlockPop{ref: ref, set: set, cfg: cfg, plane: cfg.In.Batch * side * side, hLen: cfg.In.Batch * (side / pool) * (side / pool),
		pending: map[int64]*blockInputs{}}
	maxCols, maxK := cfg.In.ColsLen(), len(cfg.W)
	if !last {
		if err := checkSpec(fmt.Sprintf("%v error convolution", ref), cfg.Out, cfg.E); err != nil {
			return nil, err
		}
		if cfg.Out.OutC != 1 || cfg.Out.Batch*cfg.Out.OutH*cfg.Out.OutW != p.hLen {
			return nil, fmt.Errorf("neuron: %v: the error convolution does not end on this map's %d values", ref, p.hLen)
		}
		maxCols, maxK = max(maxCols, cfg.Out.ColsLen()), max(maxK, len(cfg.E))
		p.eOpt = set.NewOptimizer(len(cfg.E), cfg.Out.K*cfg.Out.K, set.Lambda)
	}
	p.wOpt = set.NewOptimizer(len(cfg.W), cfg.In.K*cfg.In.K, 1)
	p.a, p.src, p.scratch = make([]float32, p.plane), make([]float32, p.hLen), make([]float32, p.hLen)
	p.cols, p.grad = make([]float32, maxCols), make([]float32, maxK)
	for i := range p.h {
		p.h[i], p.d[i] = make([]float32, p.hLen), make([]float32, p.plane)
	}
	return p, nil
}

// Ref returns the population's name.
func (p *BlockPop) Ref() Ref { return p.ref }

// W returns the stage's kernels onto this map, W_k[·j] (live).
func (p *BlockPop) W() []float32 { return p.cfg.W }

// E returns the next stage's error kernels from this map, E_{k+1}[j·]
// (live; nil in the last stage).
func (p *BlockPop) E() []float32 { return p.cfg.E }

// Optimizers returns the optimisers of W and E (E's nil in the last stage).
func (p *BlockPop) Optimizers() (w, e optim.Optimizer) { return p.wOpt, p.eOpt }

// Specs returns the stage's convolution onto this map and the next stage's
// error convolution onto it (zero in the last stage).
func (p *BlockPop) Specs() (in, out tensor.ConvSpec) { return p.cfg.In, p.cfg.Out }

// Ops returns the synaptic operations of the last computation.
func (p *BlockPop) Ops() int64 { return p.ops }

// last reports whether the map is in the block's last stage.
func (p *BlockPop) last() bool { return p.ref.Stage == p.cfg.Stages }

// upRef is the sender of map i above.
func (p *BlockPop) upRef(i int) (Kind, Ref) {
	if p.ref.Stage == 1 {
		return KindPhi, Ref{Role: StateRole, Layer: p.cfg.Upper, Index: i}
	}
	return KindHidden, Ref{Role: BlockRole, Layer: p.ref.Layer, Stage: p.ref.Stage - 1, Index: i}
}

// downRef is the sender of input i from below.
func (p *BlockPop) downRef(i int) (Kind, Ref) {
	if p.last() {
		return KindError, Ref{Role: ErrorRole, Layer: p.cfg.Lower, Index: p.ref.Index}
	}
	return KindPerturb, Ref{Role: BlockRole, Layer: p.ref.Layer, Stage: p.ref.Stage + 1, Index: i}
}

func (p *BlockPop) wantUp() int { return p.cfg.In.OutC }

func (p *BlockPop) wantDown() int {
	if p.last() {
		return 1
	}
	return p.cfg.Out.InC
}

// backward reports whether step t runs the error pathway.
func (p *BlockPop) backward(t int) bool {
	return t >= 1 && (t <= p.set.Steps || p.set.Learn)
}

func (p *BlockPop) inputs(batch, step int) *blockInputs {
	k := key(batch, step)
	in := p.pending[k]
	if in == nil {
		in = &blockInputs{up: make([][]float32, p.wantUp()), down: make([][]float32, p.wantDown())}
		p.pending[k] = in
	}
	return in
}

// Handle consumes one message of the synchronous dataflow and emits what
// completes.
func (p *BlockPop) Handle(m Msg, emit Emit) error {
	if m.Resent && p.redundant(m) {
		return nil
	}
	if m.Step == 0 && !p.cfg.Free && m.Batch >= p.batch-1 && m.Batch <= p.batch+1 {
		// The predicted layer is clamped: no ancestral step. The upper
		// layer may send φ(z) of step 0 for another layer it predicts.
		return nil
	}
	if m.Batch < p.batch || (m.Batch == p.batch && m.Step < p.step) {
		return fmt.Errorf("%w: %v got a stale %v from %v for batch %d step %d (now at batch %d step %d)",
			ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, p.batch, p.step)
	}
	if m.Batch > p.batch+1 || m.Step > p.set.Steps+1 {
		return fmt.Errorf("%w: %v got %v from %v for batch %d step %d while at batch %d", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, p.batch)
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: %v got %v from %v at batch %d step %d: %s", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, why)
	}
	if m.Delta != nil {
		return bad("a sigma-delta message")
	}
	in := p.inputs(m.Batch, m.Step)
	i := m.From.Index
	switch k, want := p.upRef(max(i, 0)); {
	case m.Kind == k && m.From == want && i < len(in.up):
		if in.up[i] != nil {
			return bad("duplicate")
		}
		if len(m.Data) != p.cfg.In.Batch*p.cfg.In.OutH*p.cfg.In.OutW {
			return bad(fmt.Sprintf("%d values", len(m.Data)))
		}
		in.up[i] = m.Data
		in.nUp++
	default:
		k, want := p.downRef(max(i, 0))
		if m.Kind != k || m.From != want || (!p.last() && i >= len(in.down)) || m.Step == 0 {
			return bad("not an input of this map")
		}
		if p.last() {
			i = 0
		}
		if in.down[i] != nil {
			return bad("duplicate")
		}
		n := p.hLen
		if !p.last() {
			n = p.cfg.Out.Batch * p.cfg.Out.InH * p.cfg.Out.InW
		}
		if len(m.Data) != n {
			return bad(fmt.Sprintf("%d values, want %d", len(m.Data), n))
		}
		in.down[i] = m.Data
		in.nDn++
	}
	return p.advance(emit)
}

// advance processes every step whose inputs are complete.
func (p *BlockPop) advance(emit Emit) error {
	T := p.set.Steps
	for {
		if p.step == 0 && !p.cfg.Free {
			p.step = 1
		}
		t := p.step
		in := p.pending[key(p.batch, t)]
		if in == nil {
			return nil
		}
		if !in.fwd {
			if in.nUp < p.wantUp() {
				return nil
			}
			in.fwd = true
			h := p.forward(in.up, t)
			if err := emit(Msg{Kind: KindHidden, From: p.ref, Batch: p.batch, Step: t, Data: h, Ops: p.ops}); err != nil {
				return err
			}
		}
		if !p.backward(t) {
			delete(p.pending, key(p.batch, t))
			if t <= T {
				p.step++
				continue
			}
			p.nextBatch()
			continue
		}
		if in.nDn < p.wantDown() {
			return nil
		}
		delete(p.pending, key(p.batch, t))
		d := p.perturb(in.down, t)
		if err := emit(Msg{Kind: KindPerturb, From: p.ref, Batch: p.batch, Step: t, Data: d, Ops: p.ops}); err != nil {
			return err
		}
		if t <= T {
			p.step++
			continue
		}
		p.Learn(in.up, in.down, t)
		if err := emit(Msg{Kind: KindDone, From: p.ref, Batch: p.batch, Step: t}); err != nil {
			return err
		}
		p.nextBatch()
	}
}

func (p *BlockPop) nextBatch() {
	p.batch++
	p.step = 0
}

// forward computes the activity of step t from the maps above.
func (p *BlockPop) forward(up [][]float32, t int) []float32 {
	s := p.cfg.In
	tensor.ConvTMaps([][]float32{p.a}, up, p.cfg.W, p.cols[:s.ColsLen()], s)
	p.ops = s.MACs()
	h := p.h[t&1]
	StageActivity(h, p.a, s.Batch, s.InH, max(p.cfg.Pool, 1), p.cfg.ReLU)
	return h
}

// perturb computes the perturbation of step t from the inputs below (the
// forward pass of step t is done: a and h are its).
func (p *BlockPop) perturb(down [][]float32, t int) []float32 {
	src := down[0]
	p.ops = 0
	if !p.last() {
		s := p.cfg.Out
		tensor.ConvMaps([][]float32{p.src}, down, p.cfg.E, p.cols[:s.ColsLen()], s)
		p.ops = s.MACs()
		src = p.src
	}
	d := p.d[t&1]
	StagePerturbation(d, src, p.a, p.h[t&1], p.scratch, p.cfg.In.Batch, p.cfg.In.InH, max(p.cfg.Pool, 1), p.cfg.ReLU, p.cfg.Exact)
	return d
}

// Learn applies the local update of step t (T+1: the final states) from the
// maps above (up), the inputs below (down) and this map's own activity and
// perturbation of that step: W steps down d ⋆ h_{k−1}, E by λ times
// d_{k+1} ⋆ h, each averaged over the batch, then every kernel is projected.
func (p *BlockPop) Learn(up, down [][]float32, t int) {
	alpha := -1 / float32(p.set.Batch)
	s := p.cfg.In
	g := p.grad[:len(p.cfg.W)]
	tensor.ConvKernelGradMaps(g, [][]float32{p.d[t&1]}, up, p.cols[:s.ColsLen()], s, alpha, 0)
	p.wOpt.Step(p.cfg.W, g)
	ProjectKernels(p.cfg.W, s.K*s.K, p.set.MaxKernelNorm)
	if p.last() {
		return
	}
	s = p.cfg.Out
	g = p.grad[:len(p.cfg.E)]
	tensor.ConvKernelGradMaps(g, down, [][]float32{p.h[t&1]}, p.cols[:s.ColsLen()], s, alpha, 0)
	p.eOpt.Step(p.cfg.E, g)
	ProjectKernels(p.cfg.E, s.K*s.K, p.set.MaxKernelNorm)
}

// Waiting returns the mini-batch and step the population is at and the
// inputs of that step that have not arrived.
func (p *BlockPop) Waiting() (batch, step int, missing []Wait) {
	step = p.step
	if step == 0 && !p.cfg.Free {
		step = 1
	}
	in := p.pending[key(p.batch, step)]
	if in == nil || !in.fwd {
		for i := 0; i < p.wantUp(); i++ {
			if in == nil || in.up[i] == nil {
				k, r := p.upRef(i)
				missing = append(missing, Wait{Kind: k, From: r})
			}
		}
		return p.batch, step, missing
	}
	for i := 0; i < p.wantDown(); i++ {
		if in.down[i] == nil {
			k, r := p.downRef(i)
			missing = append(missing, Wait{Kind: k, From: r})
		}
	}
	return p.batch, step, missing
}

// redundant reports a resent message that this population already has, or
// whose step it has passed.
func (p *BlockPop) redundant(m Msg) bool {
	if m.Batch < p.batch || (m.Batch == p.batch && m.Step < p.step) {
		return true
	}
	in := p.pending[key(m.Batch, m.Step)]
	if in == nil {
		return false
	}
	i := m.From.Index
	if k, r := p.upRef(max(i, 0)); m.Kind == k && m.From == r {
		return i < len(in.up) && (in.fwd || in.up[i] != nil)
	}
	if p.last() {
		return in.down[0] != nil
	}
	return i >= 0 && i < len(in.down) && in.down[i] != nil
}
