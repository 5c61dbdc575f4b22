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
		in = &stateInputs{eBelow: make([][][]float32, len(p.feedback))}
		for i, f := range p.feedback {
			in.eBelow[i] = make([][]float32, f.Spec.InC)
		}
	}
	own := Ref{ErrorRole, p.ref.Layer, p.ref.Index}
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
	if in.eOwn == nil && !p.top && (p.step <= T || !p.tied) {
		missing = append(missing, Wait{KindError, own})
	}
	for fi, f := range p.feedback {
		for j, e := range in.eBelow[fi] {
			if e == nil {
				missing = append(missing, Wait{below, Ref{ErrorRole, f.Lower, j}})
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
		if m.From == (Ref{ErrorRole, p.ref.Layer, p.ref.Index}) && m.Kind == KindError {
			return in.eOwn != nil
		}
		fi := p.feedbackTo(m.From.Layer)
		if fi < 0 || m.From.Index < 0 || m.From.Index >= len(in.eBelow[fi]) {
			return false
		}
		return in.eBelow[fi][m.From.Index] != nil
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
		for i := 0; i < d.Spec.OutC; i++ {
			if in == nil || in.phi[di][i] == nil {
				missing = append(missing, Wait{KindPhi, Ref{StateRole, d.Upper, i}})
			}
		}
	}
	needZ := step > 0 && !(p.clamped && !p.set.Denoise && step > 1)
	if needZ && (in == nil || in.z == nil) {
		missing = append(missing, Wait{KindState, Ref{StateRole, p.ref.Layer, p.ref.Index}})
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
