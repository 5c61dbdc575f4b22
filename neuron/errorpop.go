package neuron

import (
	"fmt"

	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/tensor"
)

// ErrorPop is the error population of feature map (ℓ, j). It holds the
// prediction kernels onto its map on its dendrites (W[·j] of every synapse
// that predicts layer ℓ) and its bias, and computes
//
//	mu = g(Σ_synapses Σ_i W[i·j] ⊛ φ(z_i) + b_j),  e = z_j − mu.
//
// Inputs: KindPhi from every map of every predicting layer (steps 0..T+1;
// step 0 only when its layer is free, for the ancestral initialisation) and
// KindState from its own state map (steps 1..T+1, or step 1 only when the
// layer is clamped for the whole window).
//
// Outputs: KindPred (step 0), KindError (steps 1..T, and T+1 when learning
// with untied kernels), KindProbe (steps 1..T+1, the energy ½‖e‖²),
// KindOutput (step T+1 of an image map: the prediction x̂), and when
// learning KindWeights (tied: its kernels after the update) and KindDone.
//
// Under the SigmaDelta encoding φ(z), z and e travel as changes (Msg.Delta):
// the population keeps the reconstructed φ(z) of every map above and its
// own z, and its prediction sum per synapse, which it updates by the
// changes alone (μ += W ⊛ Δφ(z)) unless most units changed.
type ErrorPop struct {
	ref       Ref
	set       *Settings
	plane     int
	g         tensor.Activation
	dendrites []Dendrite
	bias      []float32 // one value
	biasOpt   optim.Optimizer
	clamped   bool // the layer is the image layer
	tied      bool
	// blocks: some dendrite is a residual block's end, whose last stage
	// needs the error of step T+1 to learn.
	blocks bool

	mu, e, tmp, cols []float32
	grad             []float32
	energy           float64

	batch, step int
	pending     map[int64]*errInputs
	zKeep       []float32 // own state of the window when clamped for it

	ops int64    // synaptic operations of the last prediction
	sd  *errorSD // sigma-delta receivers and sender (nil: dense)
	// sharedMsg[d], when set, computes dendrite d's prediction in the
	// asynchronous runtime together with the other error maps of this
	// process that hold the same φ(z) messages (see MessageConvSharer).
	sharedMsg []SharedConv
	// sharedPred[d], when set, computes dendrite d's prediction in the
	// synchronous dataflow together with the other error maps of this
	// process that read the same layer above (see PredictionSharer).
	sharedPred []func(batch, step int, x [][]float32, dst []float32)
	// mc[d] computes dendrite d's prediction for this map alone (its
	// buffers allocated on first use).
	mc []*tensor.MapConv
}

// PredictionSharer may be implemented by the Settings.Patches value of a
// synchronous run. It lets the error maps of one process that read the
// same layer above compute their predictions together: one transposed
// convolution with an output map per member (reading the maps above once)
// instead of one per map. Every map keeps its kernels; the sharer only
// reads them, at steps where the dataflow guarantees that no map of the
// group is changing them.
type PredictionSharer interface {
	// SharePrediction enrols the dendrite (upper layer → ref's map) of
	// error map ref: its live kernels W[·j] ([OutC][1][K][K], spec s with
	// InC = 1). The returned function, which the map calls at (batch,
	// step) with the φ(z) maps x of layer upper, writes Σ_i W[i·j] ⊛ x_i
	// (s.Batch·s.InH·s.InW floats) into dst: computed by this call, or by
	// the call of another map of the group, for all of them at once. It
	// may return nil to decline (the map then computes alone).
	SharePrediction(ref Ref, upper int, s tensor.ConvSpec, kernel []float32) func(batch, step int, x [][]float32, dst []float32)
}

// errorSD is an error population's sigma-delta state.
type errorSD struct {
	phi      [][]*deltaIn // [dendrite][map]: φ(z) of the maps above
	z        *deltaIn     // the own state
	acc      [][]float32  // [dendrite]: Σ_i W[i·] ⊛ φ(z_i), as of the last prediction
	taps     []*taps      // [dendrite]: where a changed unit above lands
	e        *sender
	batch    int // window of computes
	computes int // predictions in the window
}

type errInputs struct {
	phi [][][]float32 // [dendrite][map]
	n   int
	z   []float32
}

// NewErrorPop builds the error population of map (layer, index) whose maps
// hold plane = Batch·H·W floats. clamped marks the image layer; g is the
// prediction's output activation; bias is b_j. The dendrites' kernels are
// the population's own (not copied): the caller hands them over.
func NewErrorPop(ref Ref, set *Settings, plane int, g tensor.Activation, bias float32, clamped, tied bool, dendrites []Dendrite) (*ErrorPop, error) {
	if ref.Role != ErrorRole || plane <= 0 || len(dendrites) == 0 {
		return nil, fmt.Errorf("neuron: error population %v: need the error role, a positive map size and at least one dendrite", ref)
	}
	p := &ErrorPop{ref: ref, set: set, plane: plane, g: g, bias: []float32{bias}, clamped: clamped, tied: tied,
		mu: make([]float32, plane), e: make([]float32, plane), pending: map[int64]*errInputs{},
		mc: make([]*tensor.MapConv, len(dendrites))}
	maxK := 0
	for i := range dendrites {
		d := &dendrites[i]
		if b := d.Block; b != nil {
			if set.Encoding.Scheme == SigmaDelta {
				return nil, fmt.Errorf("neuron: %v: residual blocks run with the dense encoding only", ref)
			}
			if b.Skip && (b.Factor < 1 || set.Batch*b.Size*b.Size*b.Factor*b.Factor != plane) {
				return nil, fmt.Errorf("neuron: %v: a skip term from maps of side %d upsampled by %d does not give %d values", ref, b.Size, b.Factor, plane)
			}
			p.blocks = true
			continue
		}
		if err := checkSpec(fmt.Sprintf("%v dendrite from layer %d", ref, d.Upper), d.Spec, d.W); err != nil {
			return nil, err
		}
		if d.Spec.InC != 1 || d.Spec.Batch*d.Spec.InH*d.Spec.InW != plane {
			return nil, fmt.Errorf("neuron: %v dendrite from layer %d does not end on one map of %d values", ref, d.Upper, plane)
		}
		d.opt = set.NewOptimizer(len(d.W), d.Spec.K*d.Spec.K, 1)
		maxK = max(maxK, len(d.W))
		mc, err := tensor.NewMapConv(d.Spec, true)
		if err != nil {
			return nil, fmt.Errorf("neuron: %v dendrite from layer %d: %w", ref, d.Upper, err)
		}
		p.mc[i] = mc
	}
	p.dendrites = dendrites
	p.biasOpt = set.NewOptimizer(1, 1, 1)
	p.grad = make([]float32, maxK)
	if len(dendrites) > 1 {
		p.tmp = make([]float32, plane)
	}
	if err := set.Encoding.Validate(); err != nil {
		return nil, fmt.Errorf("neuron: %v: %w", ref, err)
	}
	if sh := set.MessageConvs; sh != nil && set.Encoding.Scheme != SigmaDelta {
		p.sharedMsg = make([]SharedConv, len(dendrites))
		for i, d := range dendrites {
			if d.Block == nil {
				p.sharedMsg[i] = sh.ShareMessageConv(ref, d.Upper, d.Spec, d.W)
			}
		}
	}
	if sh, ok := set.Patches.(PredictionSharer); ok && set.Encoding.Scheme != SigmaDelta {
		p.sharedPred = make([]func(int, int, [][]float32, []float32), len(dendrites))
		for i, d := range dendrites {
			if d.Block == nil {
				p.sharedPred[i] = sh.SharePrediction(ref, d.Upper, d.Spec, d.W)
			}
		}
	}
	if set.Encoding.Scheme == SigmaDelta {
		sd := &errorSD{z: newDeltaIn(plane), e: newSender(set.Encoding, plane, set.Batch), batch: -1}
		for _, d := range dendrites {
			maps := make([]*deltaIn, d.Spec.OutC)
			for i := range maps {
				maps[i] = newDeltaIn(d.Spec.Batch * d.Spec.OutH * d.Spec.OutW)
			}
			sd.phi = append(sd.phi, maps)
			sd.acc = append(sd.acc, make([]float32, plane))
			sd.taps = append(sd.taps, transposedTaps(d.Spec))
		}
		p.sd = sd
	}
	return p, nil
}

// scratch returns the population's own im2col buffer of n floats,
// allocated on first use: a map whose predictions are shared needs it
// only to learn.
func (p *ErrorPop) scratch(n int) []float32 {
	if cap(p.cols) < n {
		maxCols := n
		for _, d := range p.dendrites {
			maxCols = max(maxCols, d.Spec.ColsLen())
		}
		p.cols = make([]float32, maxCols)
	}
	return p.cols[:n]
}

// convT writes dendrite di's prediction sum Σ_i W[i·j] ⊛ x_i into dst,
// computed for this map alone with the micro-kernels the shared products
// use (tensor.MapConv), so that a map's sum does not depend on whether it
// was computed alone or with others.
func (p *ErrorPop) convT(di int, dst []float32, x [][]float32) {
	p.mc[di].Do([][]float32{dst}, x, p.dendrites[di].W)
}

// Ref returns the population's name.
func (p *ErrorPop) Ref() Ref { return p.ref }

// Dendrites returns the synapses the population holds (its kernels are live).
func (p *ErrorPop) Dendrites() []Dendrite { return p.dendrites }

// Plane returns the number of values of the map (B·H·W).
func (p *ErrorPop) Plane() int { return p.plane }

// Bias returns b_j.
func (p *ErrorPop) Bias() float32 { return p.bias[0] }

// HasBias reports whether the map learns its bias: whether a plain
// synapse predicts it (a layer only residual blocks predict has none, as
// in the batched reference; its bias stays 0).
func (p *ErrorPop) HasBias() bool {
	for _, d := range p.dendrites {
		if d.Block == nil {
			return true
		}
	}
	return false
}

// BiasOptimizer returns the optimiser of b_j.
func (p *ErrorPop) BiasOptimizer() optim.Optimizer { return p.biasOpt }

// Energy returns ½‖e‖² of the last computed error, summed over the batch.
func (p *ErrorPop) Energy() float64 { return p.energy }

// Predict computes mu from the φ(z) maps of every dendrite's upper layer
// (phis[d][i] is map i of dendrite d's layer) into p's mu buffer, by whole
// convolutions. For a residual block's end, phis[d] holds the activity of
// the block's last-stage map and, with a skip term, the upper map's z.
func (p *ErrorPop) Predict(phis [][][]float32) []float32 {
	return p.predictVia(phis, func(int, [][]float32, []float32) bool { return false })
}

// addBlock adds the prediction of residual block dendrite di (written
// into mu when it is the first dendrite): the last stage's activity, then
// the skip term, in the batched reference's order.
func (p *ErrorPop) addBlock(di int, in [][]float32) {
	b := p.dendrites[di].Block
	if di == 0 {
		copy(p.mu, in[0])
	} else {
		for k, v := range in[0] {
			p.mu[k] += v
		}
	}
	if b.Skip {
		AddUpsampled(p.mu, in[1], p.set.Batch, b.Size, b.Factor)
	}
}

// predictMsgs is Predict from φ(z) maps that are all received messages'
// data (the asynchronous runtime, dense): a dendrite shared with the error
// maps of this process that hold the same messages takes its sum from the
// group's product.
func (p *ErrorPop) predictMsgs(phis [][][]float32) []float32 {
	if p.sharedMsg == nil {
		return p.Predict(phis)
	}
	return p.predictVia(phis, func(di int, phi [][]float32, dst []float32) bool {
		sh := p.sharedMsg[di]
		if sh == nil {
			return false
		}
		sh.Conv(phi, dst)
		return true
	})
}

// predictVia computes mu from phis, taking dendrite di's sum from
// shared(di, phi, dst) where that reports true and from the population's
// own transposed convolution otherwise; block dendrites add their blocks.
func (p *ErrorPop) predictVia(phis [][][]float32, shared func(di int, phi [][]float32, dst []float32) bool) []float32 {
	p.ops = 0
	for di := range p.dendrites {
		d := &p.dendrites[di]
		if d.Block != nil {
			p.addBlock(di, phis[di])
			continue
		}
		p.ops += d.Spec.MACs()
		dst := p.mu
		if di > 0 {
			dst = p.tmp
		}
		if !shared(di, phis[di], dst) {
			p.convT(di, dst, phis[di])
		}
		if di > 0 {
			for k, v := range p.tmp {
				p.mu[k] += v
			}
		}
	}
	Predict(p.mu, p.bias, p.plane, p.g)
	return p.mu
}

// Ops returns the synaptic operations (multiply-accumulates over the
// mini-batch) of the last prediction.
func (p *ErrorPop) Ops() int64 { return p.ops }

// Encoding returns how the population's messages travel.
func (p *ErrorPop) Encoding() Encoding { return p.set.Encoding }

// predictStep is Predict at a known (batch, step) of the synchronous
// dataflow: a dendrite shared with the error maps of this process that read
// the same layer above takes its sum from the group's product.
func (p *ErrorPop) predictStep(batch, step int, phis [][][]float32) []float32 {
	return p.predictVia(phis, func(di int, phi [][]float32, dst []float32) bool {
		f := p.sharedPred[di]
		if f == nil {
			return false
		}
		f(batch, step, phi, dst)
		return true
	})
}

// predict computes mu for window batch at step (negative in the
// asynchronous runtime): from phis by whole convolutions (dense), or from
// the sigma-delta receivers (phis are their values).
func (p *ErrorPop) predict(batch, step int, phis [][][]float32) []float32 {
	if p.sd == nil {
		if step >= 0 && p.sharedPred != nil {
			return p.predictStep(batch, step, phis)
		}
		return p.predictMsgs(phis)
	}
	sd := p.sd
	if batch != sd.batch {
		sd.batch, sd.computes = batch, 0
	}
	k := p.set.Encoding.Rebase
	rebase := k > 0 && sd.computes > 0 && sd.computes%k == 0
	sd.computes++
	p.ops = 0
	for di := range p.dendrites {
		d := &p.dendrites[di]
		maps := sd.phi[di]
		if rebase || wholeNeeded(maps) {
			p.convT(di, sd.acc[di], values(maps))
			p.ops += d.Spec.MACs()
			for _, in := range maps {
				in.rebased()
			}
			continue
		}
		kk := d.Spec.K * d.Spec.K
		for i, in := range maps {
			if len(in.dirty) > 0 {
				p.ops += addConvT(sd.acc[di], d.W[i*kk:(i+1)*kk], in.pend, in.dirty, sd.taps[di])
				in.clearPending()
			}
		}
	}
	// Sum the synapses as Predict does, so that a whole recomputation is
	// bit for bit the dense one.
	copy(p.mu, sd.acc[0])
	for di := 1; di < len(sd.acc); di++ {
		for k, v := range sd.acc[di] {
			p.mu[k] += v
		}
	}
	Predict(p.mu, p.bias, p.plane, p.g)
	return p.mu
}

// wholeNeeded reports whether sums over the receivers ins must be
// recomputed whole: after a reset, or when more than half of the units
// changed (the whole convolution is then the cheaper).
func wholeNeeded(ins []*deltaIn) bool {
	dirty, units := 0, 0
	for _, in := range ins {
		if in.reset {
			return true
		}
		dirty += len(in.dirty)
		units += len(in.r)
	}
	return 2*dirty > units
}

// values returns the receivers' reconstructed maps.
func values(ins []*deltaIn) [][]float32 {
	out := make([][]float32, len(ins))
	for i, in := range ins {
		out[i] = in.r
	}
	return out
}

// encode turns a map message into what travels: unchanged (dense), or the
// changes since the stream's previous message (sigma-delta).
func encode(m Msg, s *sender) Msg {
	if s != nil {
		m.Delta, m.Data = s.encode(m.Data, m.Batch), nil
	}
	return m
}

// receive returns the values a map message brings: its data (dense), or
// what receiver in holds after taking its changes (sigma-delta); nil for a
// resent frame it already has. strict refuses frames out of order (the
// synchronous dataflow), and the version of the latest frame applied is
// returned (it differs from m.Step when held frames are released).
func receive(m Msg, in *deltaIn, plane int, strict bool) (data []float32, version int, err error) {
	if in == nil {
		if m.Delta != nil {
			return nil, 0, fmt.Errorf("a sigma-delta message in a dense run")
		}
		if len(m.Data) != plane {
			return nil, 0, fmt.Errorf("%d values, want %d", len(m.Data), plane)
		}
		return m.Data, m.Step, nil
	}
	if m.Delta == nil {
		return nil, 0, fmt.Errorf("a dense message in a sigma-delta run")
	}
	st, v, err := in.offer(m.Delta, m.Step, strict)
	switch {
	case err != nil:
		return nil, 0, err
	case st == deltaDuplicate && strict && !m.Resent:
		return nil, 0, fmt.Errorf("frame %d again", m.Delta.Seq)
	case st != deltaApplied:
		return nil, 0, nil
	}
	return in.r, v, nil
}

// phiIn returns the sigma-delta receiver of φ(z) from map i of dendrite di
// (nil when dense).
func (p *ErrorPop) phiIn(di, i int) *deltaIn {
	if p.sd == nil {
		return nil
	}
	return p.sd.phi[di][i]
}

// zIn returns the receiver of the own state (nil when dense).
func (p *ErrorPop) zIn() *deltaIn {
	if p.sd == nil {
		return nil
	}
	return p.sd.z
}

// eOut returns the sender of the error (nil when dense).
func (p *ErrorPop) eOut() *sender {
	if p.sd == nil {
		return nil
	}
	return p.sd.e
}

// Compare computes e = z − mu and its energy from the last Predict.
func (p *ErrorPop) Compare(z []float32) []float32 {
	p.energy = Error(p.e, z, p.mu)
	return p.e
}

// Learn applies the local update from the last error and the φ(z) maps it
// was predicted from: every kernel and the bias step down the gradient of
// ½‖e‖² averaged over the batch, then kernels are projected.
func (p *ErrorPop) Learn(phis [][][]float32) {
	alpha := -1 / float32(p.set.Batch)
	for di := range p.dendrites {
		d := &p.dendrites[di]
		if d.Block != nil {
			continue // the block's maps learn its kernels
		}
		g := p.grad[:len(d.W)]
		tensor.ConvKernelGradMaps(g, [][]float32{p.e}, phis[di], p.scratch(d.Spec.ColsLen()), d.Spec, alpha, 0)
		update := func() {
			d.opt.Step(d.W, g)
			ProjectKernels(d.W, d.Spec.K*d.Spec.K, p.set.MaxKernelNorm)
		}
		if p.sharedMsg != nil && p.sharedMsg[di] != nil {
			p.sharedMsg[di].Update(update)
		} else {
			update()
		}
	}
	if p.HasBias() {
		var gb [1]float32
		BiasGrad(gb[:], p.e, p.plane, alpha)
		p.biasOpt.Step(p.bias, gb[:])
	}
}

func key(batch, step int) int64 { return int64(batch)<<32 | int64(step) }

// Handle consumes one message of the synchronous dataflow and emits what
// completes. Messages may arrive in any order across senders; each is
// kept until its step's inputs are complete.
func (p *ErrorPop) Handle(m Msg, emit Emit) error {
	if m.Resent && p.redundant(m) {
		return nil
	}
	if m.Step == 0 && p.clamped && m.Batch >= p.batch-1 && m.Batch <= p.batch+1 {
		// The image layer has no ancestral step. A layer that also predicts
		// a free layer sends its φ(z) of step 0 to every layer below, and it
		// may arrive after this map has moved on: it is not stale input.
		// Its changes still count: later frames build on them.
		if m.Kind == KindPhi && p.sd != nil {
			di := p.dendriteOf(m.From.Layer)
			if di < 0 || m.From.Role != StateRole || m.From.Index < 0 || m.From.Index >= p.dendrites[di].Spec.OutC {
				return fmt.Errorf("%w: %v got φ(z) from %v, which does not predict it", ErrProtocol, p.ref, m.From)
			}
			if _, _, err := receive(m, p.phiIn(di, m.From.Index), 0, true); err != nil {
				return fmt.Errorf("%w: %v got φ(z) from %v at batch %d step 0: %v", ErrProtocol, p.ref, m.From, m.Batch, err)
			}
		}
		return nil
	}
	own := Ref{Role: StateRole, Layer: p.ref.Layer, Index: p.ref.Index}
	if m.Kind == KindState && m.From == own && m.Step == 0 && m.Batch >= p.batch-1 && m.Batch <= p.batch+1 {
		// A state map whose residual block's skip term predicts a free
		// layer sends z from step 0: its own error map has no use for it.
		return nil
	}
	if m.Batch < p.batch || (m.Batch == p.batch && m.Step < p.step) {
		return fmt.Errorf("%w: %v got a stale %v from %v for batch %d step %d (now at batch %d step %d)",
			ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, p.batch, p.step)
	}
	if m.Batch > p.batch+1 {
		return fmt.Errorf("%w: %v got %v from %v for batch %d while at batch %d", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, p.batch)
	}
	in := p.inputs(m.Batch, m.Step)
	if di, slot := p.blockInput(m); di >= 0 {
		if in.phi[di][slot] != nil {
			return fmt.Errorf("%w: %v got %v twice from %v at batch %d step %d", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step)
		}
		want := p.plane
		if slot == 1 {
			want = p.set.Batch * p.dendrites[di].Block.Size * p.dendrites[di].Block.Size
		}
		if m.Delta != nil || len(m.Data) != want {
			return fmt.Errorf("%w: %v got %v from %v at batch %d step %d: %d values, want %d", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, len(m.Data), want)
		}
		in.phi[di][slot] = m.Data
		in.n++
		return p.advance(emit)
	}
	switch m.Kind {
	case KindPhi:
		di := p.dendriteOf(m.From.Layer)
		if di < 0 || m.From.Role != StateRole || m.From.Index < 0 || m.From.Index >= p.dendrites[di].Spec.OutC {
			return fmt.Errorf("%w: %v got φ(z) from %v, which does not predict it", ErrProtocol, p.ref, m.From)
		}
		if in.phi[di][m.From.Index] != nil {
			return fmt.Errorf("%w: %v got φ(z) twice from %v at batch %d step %d", ErrProtocol, p.ref, m.From, m.Batch, m.Step)
		}
		s := p.dendrites[di].Spec
		data, _, err := receive(m, p.phiIn(di, m.From.Index), s.Batch*s.OutH*s.OutW, true)
		if err != nil {
			return fmt.Errorf("%w: %v got φ(z) from %v at batch %d step %d: %v", ErrProtocol, p.ref, m.From, m.Batch, m.Step, err)
		}
		if data == nil {
			return nil // a resent frame it has
		}
		in.phi[di][m.From.Index] = data
		in.n++
	case KindState:
		if m.From != (Ref{Role: StateRole, Layer: p.ref.Layer, Index: p.ref.Index}) || m.Step == 0 || in.z != nil {
			return fmt.Errorf("%w: %v got an unexpected state from %v at step %d", ErrProtocol, p.ref, m.From, m.Step)
		}
		data, _, err := receive(m, p.zIn(), p.plane, true)
		if err != nil {
			return fmt.Errorf("%w: %v got a state from %v at batch %d step %d: %v", ErrProtocol, p.ref, m.From, m.Batch, m.Step, err)
		}
		if data == nil {
			return nil
		}
		in.z = data
	default:
		return fmt.Errorf("%w: %v does not take %v messages (from %v)", ErrProtocol, p.ref, m.Kind, m.From)
	}
	return p.advance(emit)
}

func (p *ErrorPop) dendriteOf(layer int) int {
	for i, d := range p.dendrites {
		if d.Upper == layer && d.Block == nil {
			return i
		}
	}
	return -1
}

// blockInput returns the residual block dendrite message m feeds and its
// slot there (0: the last stage's activity, 1: the skip term's state), or
// −1.
func (p *ErrorPop) blockInput(m Msg) (di, slot int) {
	for i, d := range p.dendrites {
		b := d.Block
		if b == nil {
			continue
		}
		if m.Kind == KindHidden && m.From == (Ref{Role: BlockRole, Layer: b.Synapse, Stage: b.Stages, Index: p.ref.Index}) {
			return i, 0
		}
		if b.Skip && m.Kind == KindState && m.From == (Ref{Role: StateRole, Layer: d.Upper, Index: b.SkipMap}) {
			return i, 1
		}
	}
	return -1, 0
}

func (p *ErrorPop) inputs(batch, step int) *errInputs {
	k := key(batch, step)
	in := p.pending[k]
	if in == nil {
		in = &errInputs{phi: make([][][]float32, len(p.dendrites))}
		for i, d := range p.dendrites {
			in.phi[i] = make([][]float32, d.inputs())
		}
		p.pending[k] = in
	}
	return in
}

func (p *ErrorPop) wantPhis() int {
	n := 0
	for _, d := range p.dendrites {
		n += d.inputs()
	}
	return n
}

// inputs is the number of map messages the dendrite takes per step: φ(z)
// of every upper map, or a residual block's last activity and skip state.
func (d Dendrite) inputs() int {
	switch {
	case d.Block == nil:
		return d.Spec.OutC
	case d.Block.Skip:
		return 2
	}
	return 1
}

// advance processes every step whose inputs are complete.
func (p *ErrorPop) advance(emit Emit) error {
	T := p.set.Steps
	for {
		if p.step == 0 && p.clamped {
			p.step = 1
		}
		in := p.pending[key(p.batch, p.step)]
		if in == nil || in.n < p.wantPhis() {
			return nil
		}
		needZ := p.step > 0 && !(p.clamped && !p.set.Denoise && p.step > 1)
		if needZ && in.z == nil {
			return nil
		}
		delete(p.pending, key(p.batch, p.step))
		mu := p.predict(p.batch, p.step, in.phi)
		b, t := p.batch, p.step
		out := func(k Kind, data []float32) error {
			return emit(Msg{Kind: k, From: p.ref, Batch: b, Step: t, Data: data})
		}
		if t == 0 {
			if err := emit(Msg{Kind: KindPred, From: p.ref, Batch: b, Step: t, Data: mu, Ops: p.ops}); err != nil {
				return err
			}
			p.step = 1
			continue
		}
		z := in.z
		if needZ {
			p.zKeep = z
		} else {
			z = p.zKeep
		}
		e := p.Compare(z)
		if err := emit(Msg{Kind: KindProbe, From: p.ref, Batch: b, Step: t, Data: []float32{float32(p.energy)}, Ops: p.ops}); err != nil {
			return err
		}
		if t <= T || (p.set.Learn && (!p.tied || p.blocks)) {
			if err := emit(encode(Msg{Kind: KindError, From: p.ref, Batch: b, Step: t, Data: e}, p.eOut())); err != nil {
				return err
			}
		}
		if t <= T {
			p.step++
			continue
		}
		if p.clamped {
			if err := out(KindOutput, append([]float32(nil), mu...)); err != nil {
				return err
			}
		}
		if p.set.Learn {
			p.Learn(in.phi)
			if p.tied && p.HasBias() {
				if err := out(KindWeights, p.weights()); err != nil {
					return err
				}
			}
			if err := out(KindDone, nil); err != nil {
				return err
			}
		}
		p.batch++
		p.step = 0
		p.zKeep = nil
	}
}

// weights concatenates the kernels of every dendrite: the payload of a
// weight-transport message.
func (p *ErrorPop) weights() []float32 {
	var w []float32
	for _, d := range p.dendrites {
		w = append(w, d.W...)
	}
	return w
}
