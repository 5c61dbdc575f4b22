package neuron

import (
	"fmt"

	"github.com/convngc/convngc/ngc/tensor"
)

// StatePop is the state population of feature map (ℓ, i). It holds the
// state z and, for every layer it predicts, the feedback kernels E[i·]
// (tied: a copy of W[i·] kept current by weight-transport messages;
// untied: its own learnable kernels), and moves
//
//	z ← z + β(−e_i + Σ_synapses Σ_j E[i j] ∗ e_j) − γ z.
//
// Inputs: the start of a window (KindClamp for an image map, KindInit for a
// top map, KindPred from its own error map otherwise) at step 0; KindError
// from its own error map and from every map of every layer it predicts at
// steps 1..T; when learning, at step T+1, KindWeights (tied) or KindError
// (untied) from every map below.
//
// Outputs: KindPhi (φ(z), for the layers it predicts) at steps 0..T+1 and
// KindState (z, for its own error map) at steps 1..T+1; KindDone after
// learning.
//
// Under the SigmaDelta encoding φ(z), z and the errors travel as changes
// (Msg.Delta): the population keeps the reconstructed errors it reads and
// its feedback sum per synapse, which it updates by the changes alone
// (fb += E ∗ Δe) unless most units changed.
type StatePop struct {
	ref      Ref
	set      *Settings
	plane    int
	clamped  bool // image map: z is the input
	top      bool // no own error map
	feedback []Feedback
	// allClampedBelow: every layer it predicts is clamped (no ancestral step below).
	allClampedBelow bool
	tied            bool
	// skipZ: a residual block's skip term reads z (from step 1; from step
	// 0 with skipZ0, when it predicts a free layer); ownAtEnd: the own
	// error map sends its error of step T+1 when learning (for a block
	// above it) even in tied mode.
	skipZ, skipZ0, ownAtEnd bool

	z, phi, fb, cols, grad []float32
	// fbs[f] receives the feedback of synapse f (fbs[0] is fb).
	fbs [][]float32
	// shared[f], when set, computes synapse f's feedback into fbs[f]
	// together with the other state maps of this process that read the
	// same errors (see FeedbackSharer).
	shared []func(batch, step int, x [][]float32)
	// sharedMsg[f], when set, computes synapse f's feedback in the
	// asynchronous runtime together with the other state maps of this
	// process that hold the same error messages (see MessageConvSharer).
	sharedMsg []SharedConv
	// mc[f] computes synapse f's feedback for this map alone, directly on
	// the error maps' slices (tensor.MapConv: no patch matrix, no
	// matrix–vector product).
	mc []*tensor.MapConv

	batch, step int
	pending     map[int64]*stateInputs

	ops int64    // synaptic operations of the last correction
	sd  *stateSD // sigma-delta receivers and senders (nil: dense)
}

// stateSD is a state population's sigma-delta state. The feedback sum of
// synapse f is fbs[f], kept from one correction to the next.
type stateSD struct {
	own      *deltaIn     // the own error (nil for a top map)
	below    [][]*deltaIn // [feedback][map]: the errors below
	total    []float32    // Σ_f fbs[f] (several synapses)
	taps     []*taps      // [feedback]: where a changed unit below lands
	phi, z   *sender
	batch    int // window of computes
	computes int // corrections in the window
}

type stateInputs struct {
	start  []float32     // clamp, init or pred (step 0)
	eOwn   []float32     // own error
	eBelow [][][]float32 // [feedback][map] errors (or, at T+1 tied, weights; a block's perturbations)
	n      int
	skip   [][][]float32 // [feedback][k] a block's skip errors, of lower maps SkipMaps[k]
	nSkip  int
}

// NewStatePop builds the state population of map (layer, index) holding
// plane = Batch·H·W floats. clamped marks an image map, top a map without
// an error population of its own; clampedBelow tells, per feedback synapse,
// whether the layer it predicts is clamped. The feedback kernels are the
// population's own: the caller hands them over.
func NewStatePop(ref Ref, set *Settings, plane int, clamped, top, tied bool, feedback []Feedback, clampedBelow []bool) (*StatePop, error) {
	if ref.Role != StateRole || plane <= 0 || len(clampedBelow) != len(feedback) {
		return nil, fmt.Errorf("neuron: state population %v: need the state role, a positive map size and one clamped flag per synapse", ref)
	}
	p := &StatePop{ref: ref, set: set, plane: plane, clamped: clamped, top: top, tied: tied,
		z: make([]float32, plane), pending: map[int64]*stateInputs{}, allClampedBelow: true}
	maxK := 0
	for i := range feedback {
		f := &feedback[i]
		if err := checkSpec(fmt.Sprintf("%v feedback to layer %d", ref, f.Lower), f.Spec, f.E); err != nil {
			return nil, err
		}
		if f.Spec.OutC != 1 || f.Spec.Batch*f.Spec.OutH*f.Spec.OutW != plane {
			return nil, fmt.Errorf("neuron: %v feedback to layer %d does not end on one map of %d values", ref, f.Lower, plane)
		}
		if !tied || f.Block != nil {
			f.opt = set.NewOptimizer(len(f.E), f.Spec.K*f.Spec.K, set.Lambda)
		}
		if b := f.Block; b != nil {
			if set.Encoding.Scheme == SigmaDelta {
				return nil, fmt.Errorf("neuron: %v: residual blocks run with the dense encoding only", ref)
			}
			if b.Skip {
				if b.Factor < 1 || set.Batch*b.Size*b.Size != plane {
					return nil, fmt.Errorf("neuron: %v: a skip term of maps of side %d upsampled by %d does not fit %d values", ref, b.Size, b.Factor, plane)
				}
				p.skipZ = true
				p.skipZ0 = p.skipZ0 || !clampedBelow[i]
			}
		}
		maxK = max(maxK, len(f.E))
		p.allClampedBelow = p.allClampedBelow && clampedBelow[i]
	}
	p.feedback = feedback
	if len(feedback) > 0 {
		p.phi = make([]float32, plane)
		p.grad = make([]float32, maxK)
		p.fbs = make([][]float32, len(feedback))
		for i := range p.fbs {
			p.fbs[i] = make([]float32, plane)
		}
		p.fb = p.fbs[0]
		if sh, ok := set.Patches.(FeedbackSharer); ok {
			p.shared = make([]func(int, int, [][]float32), len(feedback))
			for i := range feedback {
				if feedback[i].Block == nil {
					p.shared[i] = sh.ShareFeedback(ref, feedback[i].Lower, feedback[i].Spec, feedback[i].E, p.fbs[i])
				}
			}
		}
		if sh := set.MessageConvs; sh != nil && set.Encoding.Scheme != SigmaDelta {
			p.sharedMsg = make([]SharedConv, len(feedback))
			for i := range feedback {
				if feedback[i].Block == nil {
					p.sharedMsg[i] = sh.ShareMessageConv(ref, feedback[i].Lower, feedback[i].Spec, feedback[i].E)
				}
			}
		}
		p.mc = make([]*tensor.MapConv, len(feedback))
		for i := range feedback {
			mc, err := tensor.NewMapConv(feedback[i].Spec, false)
			if err != nil {
				return nil, fmt.Errorf("neuron: %v feedback to layer %d: %w", ref, feedback[i].Lower, err)
			}
			p.mc[i] = mc
		}
	}
	if err := set.Encoding.Validate(); err != nil {
		return nil, fmt.Errorf("neuron: %v: %w", ref, err)
	}
	if set.Encoding.Scheme == SigmaDelta {
		sd := &stateSD{z: newSender(set.Encoding, plane, set.Batch), batch: -1}
		if !top {
			sd.own = newDeltaIn(plane)
		}
		for _, f := range feedback {
			maps := make([]*deltaIn, f.Spec.InC)
			for j := range maps {
				maps[j] = newDeltaIn(f.Spec.Batch * f.Spec.InH * f.Spec.InW)
			}
			sd.below = append(sd.below, maps)
			sd.taps = append(sd.taps, convTaps(f.Spec))
		}
		if len(feedback) > 0 {
			sd.phi = newSender(set.Encoding, plane, set.Batch)
		}
		if len(feedback) > 1 {
			sd.total = make([]float32, plane)
		}
		p.sd = sd
	}
	return p, nil
}

// ExpectOwnErrorAtEnd makes a learning map wait for its own error of step
// T+1 in tied mode too: its error map sends it when a residual block
// predicts the layer (the block's last stage learns from it).
func (p *StatePop) ExpectOwnErrorAtEnd() { p.ownAtEnd = true }

// FeedbackSharer may be implemented by the Settings.Patches value of a
// synchronous run. It lets the state maps of one process that read the same
// errors compute their feedback together: one convolution with an output
// map per member (reading the errors below once) instead of one per map. Every map keeps its kernels; the sharer
// only reads them, at steps where the dataflow guarantees that no map of
// the group is changing them or still reading its previous result.
type FeedbackSharer interface {
	// ShareFeedback enrols synapse (ref's layer → lower) of state map ref:
	// its live kernels E[i·] ([1][InC][K][K], spec s with OutC = 1) and the
	// map's own buffer dst of s.Batch·s.OutH·s.OutW floats. The returned
	// function, which the map calls at (batch, step) with the errors x of
	// layer lower, returns once dst holds E ∗ x for that step: computed by
	// this call, or by the call of another map of the group, for all of
	// them at once. It may return nil to decline (the map then computes
	// alone).
	ShareFeedback(ref Ref, lower int, s tensor.ConvSpec, kernel, dst []float32) func(batch, step int, x [][]float32)
}

// scratch returns the population's own im2col buffer of n floats, allocated
// on first use: a map whose feedback is shared never needs it.
func (p *StatePop) scratch(n int) []float32 {
	if cap(p.cols) < n {
		maxCols := n
		for _, f := range p.feedback {
			maxCols = max(maxCols, f.Spec.ColsLen())
		}
		p.cols = make([]float32, maxCols)
	}
	return p.cols[:n]
}

// Ref returns the population's name.
func (p *StatePop) Ref() Ref { return p.ref }

// Z returns the state (live).
func (p *StatePop) Z() []float32 { return p.z }

// Feedback returns the synapses the population holds (its kernels are live).
func (p *StatePop) Feedback() []Feedback { return p.feedback }

// Phi computes φ(z) into p's buffer.
func (p *StatePop) Phi() []float32 {
	p.set.State.Phi.Apply(p.phi, p.z)
	return p.phi
}

// Correct moves z one step from its own error (nil for a top map) and the
// errors of the maps below (eBelow[f][j] for feedback synapse f).
func (p *StatePop) Correct(eOwn []float32, eBelow [][][]float32) {
	p.correctAt(-1, -1, eOwn, eBelow)
}

// Ops returns the synaptic operations (multiply-accumulates over the
// mini-batch) of the last correction.
func (p *StatePop) Ops() int64 { return p.ops }

// Encoding returns how the population's messages travel.
func (p *StatePop) Encoding() Encoding { return p.set.Encoding }

// correctAt is Correct in window batch at a known step (a negative step in
// the asynchronous runtime), which lets the patches of the errors below
// come from the shared PatchSource. Under sigma-delta the errors below are
// the receivers' values, and the feedback sums take their changes.
func (p *StatePop) correctAt(batch, step int, eOwn []float32, eBelow [][][]float32) {
	p.correctWith(batch, step, eOwn, eBelow, nil)
}

// correctWith is correctAt with the errors skip[f] that residual block
// feedback f's skip term reads (nil: none).
func (p *StatePop) correctWith(batch, step int, eOwn []float32, eBelow, skip [][][]float32) {
	p.ops = 0
	if p.sd != nil {
		p.correctSD(batch, step, eOwn, eBelow)
		return
	}
	var fb []float32
	for fi := range p.feedback {
		p.feedbackWhole(fi, batch, step, eBelow[fi], false)
		if b := p.feedback[fi].Block; b != nil && b.Skip && skip != nil {
			for _, e := range skip[fi] {
				AddSkipAdjoint(p.fbs[fi], e, p.set.Batch, b.Size, b.Factor)
			}
		}
		if fi > 0 {
			for k, v := range p.fbs[fi] {
				p.fb[k] += v
			}
		}
		fb = p.fb
	}
	Correct(p.z, eOwn, fb, p.set.State)
}

// feedbackWhole computes the feedback of synapse fi from the errors x of
// the layer below into p.fbs[fi], by a whole convolution: shared with the
// process's other maps at a known step, from shared patches, shared with
// the maps that hold the very same messages (the asynchronous runtime,
// where maps correct at their own times), or alone. Sigma-delta receivers'
// buffers change in place, so own (set for them) keeps away from the
// message sharer, which matches maps by buffer.
func (p *StatePop) feedbackWhole(fi, batch, step int, x [][]float32, own bool) {
	f := &p.feedback[fi]
	dst := p.fbs[fi]
	p.ops += f.Spec.MACs()
	switch {
	case step >= 0 && p.shared != nil && p.shared[fi] != nil:
		p.shared[fi](batch, step, x)
	case step >= 0 && p.set.Patches != nil && f.Block == nil:
		cols := p.set.Patches.Patches(f.Lower, batch, step, x, f.Spec, p.scratch(f.Spec.ColsLen()))
		tensor.ConvCols([][]float32{dst}, cols, f.E, f.Spec)
	case step < 0 && p.sharedMsg != nil && p.sharedMsg[fi] != nil && !own:
		p.sharedMsg[fi].Conv(x, dst)
	case p.mc[fi] != nil:
		p.mc[fi].Do(p.fbs[fi:fi+1], x, f.E)
	default:
		tensor.ConvMaps([][]float32{dst}, x, f.E, p.scratch(f.Spec.ColsLen()), f.Spec)
	}
}

// correctSD is correctAt under sigma-delta: every synapse's feedback sum
// takes the changes of the errors below (fb += E ∗ Δe), or is recomputed
// whole after a reset, when most units changed, and every Rebase
// corrections. The maps of one process that share their feedback
// (FeedbackSharer) read the same frames, so they make the same choice at
// every step.
func (p *StatePop) correctSD(batch, step int, eOwn []float32, eBelow [][][]float32) {
	sd := p.sd
	if batch != sd.batch {
		sd.batch, sd.computes = batch, 0
	}
	k := p.set.Encoding.Rebase
	rebase := k > 0 && sd.computes > 0 && sd.computes%k == 0
	sd.computes++
	for fi := range p.feedback {
		f := &p.feedback[fi]
		maps := sd.below[fi]
		if rebase || wholeNeeded(maps) {
			p.feedbackWhole(fi, batch, step, values(maps), true)
			for _, in := range maps {
				in.rebased()
			}
			continue
		}
		kk := f.Spec.K * f.Spec.K
		for j, in := range maps {
			if len(in.dirty) > 0 {
				p.ops += addConv(p.fbs[fi], f.E[j*kk:(j+1)*kk], in.pend, in.dirty, sd.taps[fi])
				in.clearPending()
			}
		}
	}
	var fb []float32
	switch len(p.feedback) {
	case 0:
	case 1:
		fb = p.fbs[0]
	default:
		// Summed as the dense path sums, for bit-identical results at θ = 0.
		fb = sd.total
		copy(fb, p.fbs[0])
		for fi := 1; fi < len(p.fbs); fi++ {
			for k, v := range p.fbs[fi] {
				fb[k] += v
			}
		}
	}
	Correct(p.z, eOwn, fb, p.set.State)
}

// ownIn returns the sigma-delta receiver of the own error (nil when dense).
func (p *StatePop) ownIn() *deltaIn {
	if p.sd == nil {
		return nil
	}
	return p.sd.own
}

// belowIn returns the receiver of the error of map j of synapse fi's lower
// layer (nil when dense).
func (p *StatePop) belowIn(fi, j int) *deltaIn {
	if p.sd == nil {
		return nil
	}
	return p.sd.below[fi][j]
}

// phiOut and zOut return the senders of φ(z) and z (nil when dense).
func (p *StatePop) phiOut() *sender {
	if p.sd == nil {
		return nil
	}
	return p.sd.phi
}

func (p *StatePop) zOut() *sender {
	if p.sd == nil {
		return nil
	}
	return p.sd.z
}

// LearnE applies the untied update of the feedback kernels from the errors
// below and φ(z) of the final states (λ scales the step).
func (p *StatePop) LearnE(eBelow [][][]float32) {
	p.learnE(eBelow, false)
}

// learnE is LearnE, on residual blocks' feedback alone with blocksOnly.
// A block's first-stage error kernels learn from the block's
// perturbations d_1 (in eBelow) in tied and untied mode alike.
func (p *StatePop) learnE(eBelow [][][]float32, blocksOnly bool) {
	alpha := -1 / float32(p.set.Batch)
	for fi := range p.feedback {
		f := &p.feedback[fi]
		if blocksOnly && f.Block == nil {
			continue
		}
		g := p.grad[:len(f.E)]
		tensor.ConvKernelGradMaps(g, eBelow[fi], [][]float32{p.phi}, p.scratch(f.Spec.ColsLen()), f.Spec, alpha, 0)
		p.updateKernel(fi, func() {
			f.opt.Step(f.E, g)
			ProjectKernels(f.E, f.Spec.K*f.Spec.K, p.set.MaxKernelNorm)
		})
	}
}

// updateKernel runs f, which changes synapse fi's kernels, through the
// sharer that reads them, if any.
func (p *StatePop) updateKernel(fi int, f func()) {
	if p.sharedMsg != nil && p.sharedMsg[fi] != nil {
		p.sharedMsg[fi].Update(f)
		return
	}
	f()
}

// Handle consumes one message of the synchronous dataflow and emits what
// completes.
func (p *StatePop) Handle(m Msg, emit Emit) error {
	if m.Resent && p.redundant(m) {
		return nil
	}
	if p.tied && m.Kind == KindError && m.Step == p.set.Steps+1 && m.From.Role == ErrorRole && m.From.Layer != p.ref.Layer {
		if fi := p.feedbackTo(m.From.Layer); fi >= 0 && p.feedback[fi].Block == nil {
			// A layer a residual block predicts sends its error of step
			// T+1 for the block; tied feedback learns from the weights,
			// which may arrive first (on another subject).
			return nil
		}
	}
	if m.Batch < p.batch || (m.Batch == p.batch && m.Step < p.step) {
		return fmt.Errorf("%w: %v got a stale %v from %v for batch %d step %d (now at batch %d step %d)",
			ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, p.batch, p.step)
	}
	if m.Batch > p.batch+1 {
		return fmt.Errorf("%w: %v got %v from %v for batch %d while at batch %d", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, p.batch)
	}
	in := p.inputs(m.Batch, m.Step)
	bad := func(why string) error {
		return fmt.Errorf("%w: %v got %v from %v at batch %d step %d: %s", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, why)
	}
	switch m.Kind {
	case KindClamp, KindInit, KindPred:
		want := KindPred
		if p.clamped {
			want = KindClamp
		} else if p.top {
			want = KindInit
		}
		if m.Kind != want || m.Step != 0 || in.start != nil || len(m.Data) != p.plane {
			return bad("not this map's start of window")
		}
		in.start = m.Data
	case KindError, KindWeights:
		own := Ref{Role: ErrorRole, Layer: p.ref.Layer, Index: p.ref.Index}
		if m.From == own && m.Kind == KindError {
			if m.Step == 0 || in.eOwn != nil || p.top {
				return bad("unexpected own error")
			}
			data, _, err := receive(m, p.ownIn(), p.plane, true)
			if err != nil {
				return bad(err.Error())
			}
			if data == nil {
				return nil // a resent frame it has
			}
			in.eOwn = data
			break
		}
		fi := p.feedbackTo(m.From.Layer)
		if fi >= 0 && p.feedback[fi].Block != nil {
			// A residual block's skip term: the error of a lower map.
			k := p.skipSlot(fi, m.From)
			if k < 0 || m.Kind != KindError {
				return bad("the sender is not below this map's skip term")
			}
			if in.skip[fi][k] != nil {
				return bad("duplicate")
			}
			if len(m.Data) != p.plane*p.feedback[fi].Block.Factor*p.feedback[fi].Block.Factor || m.Delta != nil {
				return bad(fmt.Sprintf("%d values", len(m.Data)))
			}
			in.skip[fi][k] = m.Data
			in.nSkip++
			break
		}
		if fi < 0 || m.From.Role != ErrorRole || m.From.Index < 0 || m.From.Index >= p.feedback[fi].Spec.InC {
			return bad("the sender is not below this map")
		}
		s := p.feedback[fi].Spec
		if m.Kind == KindWeights && (!p.tied || m.Step != p.set.Steps+1) {
			return bad("weights outside the tied update")
		}
		if in.eBelow[fi][m.From.Index] != nil {
			return bad("duplicate")
		}
		data := m.Data
		if m.Kind == KindError {
			var err error
			if data, _, err = receive(m, p.belowIn(fi, m.From.Index), s.Batch*s.InH*s.InW, true); err != nil {
				return bad(err.Error())
			}
			if data == nil {
				return nil
			}
		}
		in.eBelow[fi][m.From.Index] = data
		in.n++
	case KindPerturb:
		fi := p.blockFeedback(m.From)
		if fi < 0 || m.Step == 0 {
			return bad("the sender is not the first stage of a block below this map")
		}
		if in.eBelow[fi][m.From.Index] != nil {
			return bad("duplicate")
		}
		s := p.feedback[fi].Spec
		if m.Delta != nil || len(m.Data) != s.Batch*s.InH*s.InW {
			return bad(fmt.Sprintf("%d values", len(m.Data)))
		}
		in.eBelow[fi][m.From.Index] = m.Data
		in.n++
	default:
		return bad("not a state population's input")
	}
	return p.advance(emit)
}

// blockFeedback returns the residual block feedback whose first stage has
// map from, or −1.
func (p *StatePop) blockFeedback(from Ref) int {
	for i, f := range p.feedback {
		if b := f.Block; b != nil && from.Role == BlockRole && from.Layer == b.Synapse && from.Stage == 1 &&
			from.Index >= 0 && from.Index < f.Spec.InC {
			return i
		}
	}
	return -1
}

// skipSlot returns where the error of lower map from goes among block
// feedback fi's skip errors, or −1.
func (p *StatePop) skipSlot(fi int, from Ref) int {
	b := p.feedback[fi].Block
	if !b.Skip || from.Role != ErrorRole || from.Stage != 0 {
		return -1
	}
	for k, j := range b.SkipMaps {
		if j == from.Index {
			return k
		}
	}
	return -1
}

// wantSkip is the number of skip errors a step needs.
func (p *StatePop) wantSkip() int {
	n := 0
	for _, f := range p.feedback {
		if f.Block != nil && f.Block.Skip {
			n += len(f.Block.SkipMaps)
		}
	}
	return n
}

func (p *StatePop) feedbackTo(layer int) int {
	for i, f := range p.feedback {
		if f.Lower == layer {
			return i
		}
	}
	return -1
}

func (p *StatePop) inputs(batch, step int) *stateInputs {
	k := key(batch, step)
	in := p.pending[k]
	if in == nil {
		in = p.newInputs()
		p.pending[k] = in
	}
	return in
}

// newInputs returns empty inputs of one step.
func (p *StatePop) newInputs() *stateInputs {
	in := &stateInputs{eBelow: make([][][]float32, len(p.feedback)), skip: make([][][]float32, len(p.feedback))}
	for i, f := range p.feedback {
		in.eBelow[i] = make([][]float32, f.Spec.InC)
		if f.Block != nil && f.Block.Skip {
			in.skip[i] = make([][]float32, len(f.Block.SkipMaps))
		}
	}
	return in
}

func (p *StatePop) wantBelow() int {
	n := 0
	for _, f := range p.feedback {
		n += f.Spec.InC
	}
	return n
}

// emitStep sends the values the maps around need for step t; the first
// message carries ops, the synaptic operations that computed them.
func (p *StatePop) emitStep(emit Emit, t int, phiReady bool, ops int64) error {
	if len(p.feedback) > 0 && (t > 0 || !p.allClampedBelow) {
		if !phiReady {
			p.Phi()
		}
		if err := emit(encode(Msg{Kind: KindPhi, From: p.ref, Batch: p.batch, Step: t, Data: p.phi, Ops: ops}, p.phiOut())); err != nil {
			return err
		}
		ops = 0
	}
	if (t > 0 && (!p.top || p.skipZ)) || (t == 0 && p.skipZ0) {
		return emit(encode(Msg{Kind: KindState, From: p.ref, Batch: p.batch, Step: t, Data: p.z, Ops: ops}, p.zOut()))
	}
	return nil
}

// learnsAtEnd reports whether the map has a learning step T+1.
func (p *StatePop) learnsAtEnd() bool { return p.set.Learn && len(p.feedback) > 0 }

func (p *StatePop) advance(emit Emit) error {
	T := p.set.Steps
	for {
		in := p.pending[key(p.batch, p.step)]
		if in == nil {
			return nil
		}
		switch {
		case p.step == 0:
			if in.start == nil {
				return nil
			}
			delete(p.pending, key(p.batch, 0))
			copy(p.z, in.start)
			sent0 := len(p.feedback) > 0 && !p.allClampedBelow
			if err := p.emitStep(emit, 0, false, 0); err != nil {
				return err
			}
			if err := p.emitStep(emit, 1, sent0, 0); err != nil { // z has not moved: φ(z) of step 0 still holds
				return err
			}
			p.step = 1
			if p.clamped && !p.set.Denoise {
				p.nextBatch() // a clamped image map has nothing more to do
			}
		case p.step <= T:
			if (!p.top && in.eOwn == nil) || in.n < p.wantBelow() || in.nSkip < p.wantSkip() {
				return nil
			}
			delete(p.pending, key(p.batch, p.step))
			p.ops = 0
			if !p.clamped || p.step >= 2 {
				p.correctWith(p.batch, p.step, in.eOwn, in.eBelow, in.skip)
			}
			p.step++
			if err := p.emitStep(emit, p.step, false, p.ops); err != nil {
				return err
			}
			if p.step == T+1 && !p.learnsAtEnd() {
				p.nextBatch()
			}
		default: // T+1: learning
			// Untied learning sends every error of step T+1, own included.
			if in.n < p.wantBelow() || in.nSkip < p.wantSkip() || ((!p.tied || p.ownAtEnd) && !p.top && in.eOwn == nil) {
				return nil
			}
			delete(p.pending, key(p.batch, p.step))
			if p.tied {
				if err := p.adoptWeights(in.eBelow); err != nil {
					return err
				}
				p.learnE(in.eBelow, true)
			} else {
				p.LearnE(in.eBelow)
			}
			if err := emit(Msg{Kind: KindDone, From: p.ref, Batch: p.batch, Step: p.step}); err != nil {
				return err
			}
			p.nextBatch()
		}
	}
}

func (p *StatePop) nextBatch() {
	p.batch++
	p.step = 0
}

// adoptWeights copies this map's kernels out of the weight-transport
// messages of the error maps below (w[f][j] from map j of feedback synapse
// f): tied feedback stays equal to the prediction kernels.
func (p *StatePop) adoptWeights(w [][][]float32) error {
	for fi := range p.feedback {
		f := &p.feedback[fi]
		if f.Block != nil {
			continue // a block's error kernels learn (learnE)
		}
		kk := f.Spec.K * f.Spec.K
		off := f.WeightsOffset + p.ref.Index*kk
		for j, wj := range w[fi] {
			// The weights message of error map j holds W[·j] for every
			// map of this layer: this map's kernel is block i.
			if off+kk > len(wj) {
				return fmt.Errorf("%w: %v got %d weights from %v, too few for its kernel", ErrProtocol, p.ref, len(wj), Ref{Role: ErrorRole, Layer: f.Lower, Index: j})
			}
		}
		p.updateKernel(fi, func() {
			for j, wj := range w[fi] {
				copy(f.E[j*kk:(j+1)*kk], wj[off:off+kk])
			}
		})
	}
	return nil
}
