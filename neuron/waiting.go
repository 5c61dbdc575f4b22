package neuron

// Wait is one input a synchronous population is waiting for: a message of
// Kind from From (the zero Ref for the coordinator's clamp or initial
// state).
type Wait struct {
	Kind Kind
	From Ref
}

// Waiting returns the mini-batch and step the population is at and the
// inputs of that step that have not arrived, so that a stalled run can name
// the link that lost a message.
func (p *StatePop) Waiting() (batch, step int, missing []Wait) {
	in := p.pending[key(p.batch, p.step)]
	if in == nil {
		in = p.newInputs()
	}
	own := Ref{Role: ErrorRole, Layer: p.ref.Layer, Index: p.ref.Index}
	T := p.set.Steps
	if p.step == 0 {
		switch {
		case p.clamped:
			missing = append(missing, Wait{Kind: KindClamp})
		case p.top:
			missing = append(missing, Wait{Kind: KindInit})
		default:
			missing = append(missing, Wait{KindPred, own})
		}
		if in.start != nil {
			missing = nil
		}
		return p.batch, p.step, missing
	}
	below := KindError
	if p.step > T && p.tied {
		below = KindWeights
	}
	if in.eOwn == nil && !p.top && (p.step <= T || !p.tied || p.ownAtEnd) {
		missing = append(missing, Wait{KindError, own})
	}
	for fi, f := range p.feedback {
		for j, e := range in.eBelow[fi] {
			switch {
			case e != nil:
			case f.Block != nil:
				missing = append(missing, Wait{KindPerturb, Ref{Role: BlockRole, Layer: f.Block.Synapse, Stage: 1, Index: j}})
			default:
				missing = append(missing, Wait{below, Ref{Role: ErrorRole, Layer: f.Lower, Index: j}})
			}
		}
		for k, e := range in.skip[fi] {
			if e == nil {
				missing = append(missing, Wait{KindError, Ref{Role: ErrorRole, Layer: f.Lower, Index: f.Block.SkipMaps[k]}})
			}
		}
	}
	return p.batch, p.step, missing
}

// redundant reports a resent message that this population already has, or
// whose step it has passed.
func (p *StatePop) redundant(m Msg) bool {
	if m.Batch < p.batch || (m.Batch == p.batch && m.Step < p.step) {
		return true
	}
	in := p.pending[key(m.Batch, m.Step)]
	if in == nil {
		return false
	}
	switch m.Kind {
	case KindClamp, KindInit, KindPred:
		return in.start != nil
	case KindError, KindWeights:
		if m.From == (Ref{Role: ErrorRole, Layer: p.ref.Layer, Index: p.ref.Index}) && m.Kind == KindError {
			return in.eOwn != nil
		}
		fi := p.feedbackTo(m.From.Layer)
		if fi >= 0 && p.feedback[fi].Block != nil {
			k := p.skipSlot(fi, m.From)
			return k >= 0 && in.skip[fi][k] != nil
		}
		if fi < 0 || m.From.Index < 0 || m.From.Index >= len(in.eBelow[fi]) {
			return false
		}
		return in.eBelow[fi][m.From.Index] != nil
	case KindPerturb:
		fi := p.blockFeedback(m.From)
		return fi >= 0 && in.eBelow[fi][m.From.Index] != nil
	}
	return false
}

// Waiting returns the mini-batch and step the population is at and the
// inputs of that step that have not arrived.
func (p *ErrorPop) Waiting() (batch, step int, missing []Wait) {
	step = p.step
	if step == 0 && p.clamped {
		step = 1
	}
	in := p.pending[key(p.batch, step)]
	for di, d := range p.dendrites {
		for i := 0; i < d.inputs(); i++ {
			if in != nil && in.phi[di][i] != nil {
				continue
			}
			switch {
			case d.Block == nil:
				missing = append(missing, Wait{KindPhi, Ref{Role: StateRole, Layer: d.Upper, Index: i}})
			case i == 0:
				missing = append(missing, Wait{KindHidden, Ref{Role: BlockRole, Layer: d.Block.Synapse, Stage: d.Block.Stages, Index: p.ref.Index}})
			default:
				missing = append(missing, Wait{KindState, Ref{Role: StateRole, Layer: d.Upper, Index: d.Block.SkipMap}})
			}
		}
	}
	needZ := step > 0 && !(p.clamped && !p.set.Denoise && step > 1)
	if needZ && (in == nil || in.z == nil) {
		missing = append(missing, Wait{KindState, Ref{Role: StateRole, Layer: p.ref.Layer, Index: p.ref.Index}})
	}
	return p.batch, step, missing
}

// redundant reports a resent message that this population already has, or
// whose step it has passed.
func (p *ErrorPop) redundant(m Msg) bool {
	if m.Batch < p.batch || (m.Batch == p.batch && m.Step < p.step) {
		return true
	}
	in := p.pending[key(m.Batch, m.Step)]
	if in == nil {
		return false
	}
	if di, slot := p.blockInput(m); di >= 0 {
		return in.phi[di][slot] != nil
	}
	switch m.Kind {
	case KindPhi:
		di := p.dendriteOf(m.From.Layer)
		if di < 0 || m.From.Index < 0 || m.From.Index >= len(in.phi[di]) {
			return false
		}
		return in.phi[di][m.From.Index] != nil
	case KindState:
		return in.z != nil
	}
	return false
}
