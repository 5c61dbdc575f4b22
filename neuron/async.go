package neuron

import (
	"fmt"
	"sort"
)

// The asynchronous populations wrap the synchronous ones (same kernels, same
// update rules, same parameters) but fire on arrival: a population keeps the
// latest value from every sender together with its version and, whenever
// something new has arrived, updates from whatever it holds. Nothing waits
// for a step to be complete, so inputs may be stale; the populations measure
// by how much.
//
// Versions. A state map's version is the number of corrections it has made
// in the current window (0 after its start value). An error map's version is
// 1 + the oldest version among the inputs it computed from, so that in a
// lock-step schedule the error a state map corrects with at its k-th update
// has version k, exactly as in the synchronous dataflow. A state map's
// staleness (version lag) for an input is k − v: 0 in lock-step, larger when
// it corrects from errors computed on older states. An error map's lag for an
// input is how many versions it is behind the freshest input it combined.
//
// Bounded staleness. With a positive MaxLag a state map fires only when
// every input it would correct with is at most MaxLag versions old (the
// stale-synchronous parallel model); new arrivals that leave an input older
// than that wait for fresher ones. Zero means no bound: fire on any arrival.
//
// Firing. By default (FireOnArrival) a state map corrects whenever an
// input at least as new as the one it holds has arrived. Where arrivals
// trickle in one by one — over a network, each error map re-sending its
// error of the same version whenever one of its many inputs moves — the
// map then spends its budget on near-duplicate information and runs at the
// staleness bound, where the delayed feedback can oscillate. FireOnOwnError
// corrects only when the map's own error reaches a newer version (a top
// map, which has none: when the oldest error below does), always from the
// latest value of every input; lock-step schedules fire exactly as before.
//
// Budget. Every state map makes at most Budget corrections per window (the
// stimulus window T by default). A state map that has spent its budget is
// final; an error map whose inputs are all final computes its final error
// (version Budget+1), reports it, and learns when the run learns. A driver
// can end a window early with Stop (a wall-clock bound): the state map then
// announces its current state as final.

// FireRule says which arrivals make an asynchronous state map correct.
type FireRule uint8

const (
	// FireOnArrival corrects on any input at least as new as the one held.
	FireOnArrival FireRule = iota
	// FireOnOwnError corrects when the own error (a top map: the oldest
	// error below) reaches a newer version.
	FireOnOwnError
)

// String names the rule as the command line does.
func (r FireRule) String() string {
	if r == FireOnOwnError {
		return "own-error"
	}
	return "arrival"
}

// AsyncStats is what an asynchronous population observed in one window.
type AsyncStats struct {
	Updates  int         // corrections (state map) or error computations (error map)
	Received int         // input messages offered
	Dropped  int         // inputs that arrived too late to be used (an earlier window, or after final)
	Lag      map[int]int // version lag → number of inputs used with that lag
}

func (s *AsyncStats) reset() { *s = AsyncStats{Lag: map[int]int{}} }

// Lags returns the histogram as sorted (lag, count) pairs.
func (s *AsyncStats) Lags() [][2]int {
	out := make([][2]int, 0, len(s.Lag))
	for l, n := range s.Lag {
		out = append(out, [2]int{l, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// slot is the latest value received from one sender.
type slot struct {
	data    []float32
	version int
	set     bool
}

// put keeps data if it is not older than what the slot holds; it reports
// whether the slot changed.
func (s *slot) put(data []float32, version int) bool {
	if s.set && version < s.version {
		return false
	}
	s.data, s.version, s.set = data, version, true
	return true
}

// newer reports whether a value of this version would be newer than what
// the slot holds.
func (s *slot) newer(version int) bool { return !s.set || version > s.version }

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// window is the bookkeeping every asynchronous population shares: the
// current mini-batch, early messages of the next one, and the statistics.
type window struct {
	ref     Ref
	batch   int
	next    []Msg
	stats   AsyncStats
	budget  int
	offerFn func(Msg) error
}

// admit sorts a message by window: it returns false (and keeps or drops the
// message) when it does not belong to the current one.
func (w *window) admit(m Msg) (bool, error) {
	switch {
	case m.Batch < w.batch:
		w.stats.Received++
		w.stats.Dropped++
		return false, nil
	case m.Batch == w.batch+1:
		w.next = append(w.next, m)
		return false, nil
	case m.Batch > w.batch+1:
		return false, fmt.Errorf("%w: %v got %v from %v for batch %d while at batch %d", ErrProtocol, w.ref, m.Kind, m.From, m.Batch, w.batch)
	}
	w.stats.Received++
	return true, nil
}

// advance moves to the next window and replays its early messages.
func (w *window) advance() error {
	w.batch++
	next := w.next
	w.next = nil
	for _, m := range next {
		if err := w.offerFn(m); err != nil {
			return err
		}
	}
	return nil
}

// AsyncStatePop drives a StatePop asynchronously.
type AsyncStatePop struct {
	p *StatePop
	window
	done     AsyncStats // statistics of the last finished window
	start    []float32
	started  bool
	k        int // corrections made in this window
	final    bool
	own      slot
	below    [][]slot
	nBelow   int
	fresh    bool
	learnIn  [][][]float32 // final errors (untied) or weights (tied) from below
	nLearn   int
	finished int // windows finished
	maxLag   int
	rule     FireRule
}

// NewAsyncStatePop wraps p. budget is the number of corrections per window
// (at least 1); a positive maxLag bounds the version lag of the inputs a
// correction may use (0: no bound).
func NewAsyncStatePop(p *StatePop, budget, maxLag int) (*AsyncStatePop, error) {
	if p == nil || budget < 1 || maxLag < 0 {
		return nil, fmt.Errorf("neuron: asynchronous state population needs a population, a budget ≥ 1 (got %d) and a lag bound ≥ 0 (got %d)", budget, maxLag)
	}
	a := &AsyncStatePop{p: p, maxLag: maxLag}
	a.window = window{ref: p.ref, budget: budget, offerFn: a.Offer}
	a.resetWindow()
	return a, nil
}

func (a *AsyncStatePop) resetWindow() {
	p := a.p
	a.start, a.started, a.k, a.final, a.own, a.nBelow, a.fresh, a.nLearn = nil, false, 0, false, slot{}, 0, false, 0
	a.below = make([][]slot, len(p.feedback))
	a.learnIn = make([][][]float32, len(p.feedback))
	for i, f := range p.feedback {
		a.below[i] = make([]slot, f.Spec.InC)
		a.learnIn[i] = make([][]float32, f.Spec.InC)
	}
	a.stats.reset()
}

// SetFireRule sets which arrivals make the map correct (default
// FireOnArrival).
func (a *AsyncStatePop) SetFireRule(r FireRule) { a.rule = r }

// Ref returns the population's name.
func (a *AsyncStatePop) Ref() Ref { return a.p.ref }

// Pop returns the wrapped synchronous population (its state and kernels are live).
func (a *AsyncStatePop) Pop() *StatePop { return a.p }

// Batch returns the window (mini-batch) the population is in.
func (a *AsyncStatePop) Batch() int { return a.batch }

// Finished returns how many windows the population has completed, and the
// statistics of the last one.
func (a *AsyncStatePop) Finished() (int, AsyncStats) { return a.finished, a.done }

// Offer stores one input message; nothing is computed until Fire.
func (a *AsyncStatePop) Offer(m Msg) error {
	ok, err := a.admit(m)
	if !ok || err != nil {
		return err
	}
	p := a.p
	bad := func(why string) error {
		return fmt.Errorf("%w: %v got %v from %v at batch %d version %d: %s", ErrProtocol, p.ref, m.Kind, m.From, m.Batch, m.Step, why)
	}
	switch m.Kind {
	case KindClamp, KindInit, KindPred:
		want := KindPred
		if p.clamped {
			want = KindClamp
		} else if p.top {
			want = KindInit
		}
		if m.Kind != want || a.started || a.start != nil || len(m.Data) != p.plane {
			return bad("not this map's start of window")
		}
		a.start = m.Data
	case KindError, KindWeights:
		own := Ref{Role: ErrorRole, Layer: p.ref.Layer, Index: p.ref.Index}
		if m.From == own && m.Kind == KindError {
			if m.Step < 1 || p.top {
				return bad("unexpected own error")
			}
			// A sigma-delta frame is taken in even when the map no longer
			// corrects: later frames build on it.
			data, version, err := receive(m, p.ownIn(), p.plane, false)
			if err != nil {
				return bad(err.Error())
			}
			if a.final {
				a.stats.Dropped++
				return nil
			}
			if data == nil {
				return nil // held until the frames before it arrive
			}
			newer := a.own.newer(version)
			if a.own.put(data, version) && (a.rule == FireOnArrival || newer) {
				a.fresh = true
			}
			return nil
		}
		fi := p.feedbackTo(m.From.Layer)
		if fi < 0 || m.From.Role != ErrorRole || m.From.Index < 0 || m.From.Index >= p.feedback[fi].Spec.InC {
			return bad("the sender is not below this map")
		}
		s := p.feedback[fi].Spec
		data, version := m.Data, m.Step
		if m.Kind == KindError {
			var err error
			if data, version, err = receive(m, p.belowIn(fi, m.From.Index), s.Batch*s.InH*s.InW, false); err != nil {
				return bad(err.Error())
			}
			if data == nil {
				return nil // held until the frames before it arrive
			}
		}
		finalErr := m.Kind == KindError && version > a.budget
		if m.Kind == KindWeights || finalErr {
			if !p.set.Learn || (m.Kind == KindWeights) != p.tied {
				return bad("learning input outside learning")
			}
			if a.learnIn[fi][m.From.Index] != nil {
				return bad("duplicate learning input")
			}
			a.learnIn[fi][m.From.Index] = data
			a.nLearn++
			return nil
		}
		if a.final {
			a.stats.Dropped++
			return nil
		}
		sl := &a.below[fi][m.From.Index]
		if !sl.set {
			a.nBelow++
		}
		before := a.oldestBelow()
		if sl.put(data, version) && (a.rule == FireOnArrival || (p.top && a.oldestBelow() > before)) {
			a.fresh = true
		}
	default:
		return bad("not a state population's input")
	}
	return nil
}

// Stop ends the window's corrections early (a wall-clock bound): the
// current state is announced as final. It does nothing outside the window
// or before the start value has arrived.
func (a *AsyncStatePop) Stop(batch int, emit Emit) error {
	if batch != a.batch || !a.started || a.final {
		return nil
	}
	a.k = a.budget
	if err := a.emitState(emit, 0); err != nil {
		return err
	}
	a.final = true
	return nil
}

// emitState sends φ(z) (when the map predicts a layer) and z (when it has an
// error map) with version a.k, as fresh copies receivers may keep (or as
// sigma-delta frames); the first message carries ops.
func (a *AsyncStatePop) emitState(emit Emit, ops int64) error {
	p := a.p
	send := func(k Kind, x []float32, s *sender) error {
		m := Msg{Kind: k, From: p.ref, Batch: a.batch, Step: a.k, Data: x, Ops: ops}
		ops = 0
		if s != nil {
			return emit(encode(m, s))
		}
		m.Data = clone(x)
		return emit(m)
	}
	if len(p.feedback) > 0 {
		if err := send(KindPhi, p.Phi(), p.phiOut()); err != nil {
			return err
		}
	}
	if !p.top {
		return send(KindState, p.z, p.zOut())
	}
	return nil
}

// oldestBelow returns the oldest version among the errors below (-1 until
// every one has arrived).
func (a *AsyncStatePop) oldestBelow() int {
	if a.nBelow < a.p.wantBelow() {
		return -1
	}
	v := int(^uint(0) >> 1)
	for _, row := range a.below {
		for _, sl := range row {
			v = min(v, sl.version)
		}
	}
	return v
}

// ready reports whether a value from every sender has arrived and, with a
// lag bound, whether every value is fresh enough for the next correction.
func (a *AsyncStatePop) ready() bool {
	if (!a.p.top && !a.own.set) || a.nBelow != a.p.wantBelow() {
		return false
	}
	if a.maxLag == 0 {
		return true
	}
	oldest := a.k + 1 - a.maxLag
	if a.own.set && a.own.version < oldest {
		return false
	}
	for _, row := range a.below {
		for _, sl := range row {
			if sl.version < oldest {
				return false
			}
		}
	}
	return true
}

// Fire does what the inputs held allow: start the window, make one
// correction from the latest inputs if anything new arrived, or finish the
// window's learning. It reports whether anything happened.
func (a *AsyncStatePop) Fire(emit Emit) (bool, error) {
	p := a.p
	fired := false
	if !a.started {
		if a.start == nil {
			return false, nil
		}
		copy(p.z, a.start)
		a.start, a.started, fired = nil, true, true
		if p.clamped && !p.set.Denoise {
			a.k = a.budget // a clamped image never moves: final at once
			a.final = true
		}
		if err := a.emitState(emit, 0); err != nil {
			return true, err
		}
	}
	if !a.final {
		if !a.fresh || !a.ready() {
			return fired, nil
		}
		a.k++
		a.fresh, fired = false, true
		a.stats.Updates++
		lag := a.stats.Lag
		if a.own.set {
			lag[a.k-a.own.version]++
		}
		eBelow := make([][][]float32, len(a.below))
		for fi, row := range a.below {
			eBelow[fi] = make([][]float32, len(row))
			for j := range row {
				eBelow[fi][j] = row[j].data
				lag[a.k-row[j].version]++
			}
		}
		p.ops = 0
		if !p.clamped || a.k >= 2 { // a denoised image is clamped during the first step
			p.correctAt(a.batch, -1, a.own.data, eBelow)
		}
		if err := a.emitState(emit, p.ops); err != nil {
			return true, err
		}
		if a.k < a.budget {
			return true, nil
		}
		a.final = true
	}
	if !p.learnsAtEnd() {
		return true, a.finish()
	}
	if a.nLearn < p.wantBelow() {
		return fired, nil
	}
	if p.tied {
		if err := p.adoptWeights(a.learnIn); err != nil {
			return true, err
		}
	} else {
		p.LearnE(a.learnIn)
	}
	if err := emit(Msg{Kind: KindDone, From: p.ref, Batch: a.batch, Step: a.budget + 1}); err != nil {
		return true, err
	}
	return true, a.finish()
}

func (a *AsyncStatePop) finish() error {
	a.done = a.stats
	a.finished++
	a.resetWindow()
	return a.advance()
}

// AsyncErrorPop drives an ErrorPop asynchronously.
type AsyncErrorPop struct {
	p *ErrorPop
	window
	done     AsyncStats
	phi      [][]slot
	nPhi     int
	z        slot
	fresh    bool
	predSent bool
	finished int
}

// NewAsyncErrorPop wraps p. budget is the state maps' number of corrections
// per window: inputs of that version are final.
func NewAsyncErrorPop(p *ErrorPop, budget int) (*AsyncErrorPop, error) {
	if p == nil || budget < 1 {
		return nil, fmt.Errorf("neuron: asynchronous error population needs a population and a budget ≥ 1 (got %d)", budget)
	}
	a := &AsyncErrorPop{p: p}
	a.window = window{ref: p.ref, budget: budget, offerFn: a.Offer}
	a.resetWindow()
	return a, nil
}

func (a *AsyncErrorPop) resetWindow() {
	a.phi = make([][]slot, len(a.p.dendrites))
	for i, d := range a.p.dendrites {
		a.phi[i] = make([]slot, d.Spec.OutC)
	}
	a.nPhi, a.z, a.fresh, a.predSent = 0, slot{}, false, false
	a.stats.reset()
}

// Ref returns the population's name.
func (a *AsyncErrorPop) Ref() Ref { return a.p.ref }

// Pop returns the wrapped synchronous population (its kernels are live).
func (a *AsyncErrorPop) Pop() *ErrorPop { return a.p }

// Batch returns the window (mini-batch) the population is in.
func (a *AsyncErrorPop) Batch() int { return a.batch }

// Finished returns how many windows the population has completed, and the
// statistics of the last one.
func (a *AsyncErrorPop) Finished() (int, AsyncStats) { return a.finished, a.done }

// Offer stores one input message; nothing is computed until Fire.
func (a *AsyncErrorPop) Offer(m Msg) error {
	ok, err := a.admit(m)
	if !ok || err != nil {
		return err
	}
	p := a.p
	switch m.Kind {
	case KindPhi:
		di := p.dendriteOf(m.From.Layer)
		if di < 0 || m.From.Role != StateRole || m.From.Index < 0 || m.From.Index >= p.dendrites[di].Spec.OutC {
			return fmt.Errorf("%w: %v got φ(z) from %v, which does not predict it", ErrProtocol, p.ref, m.From)
		}
		s := p.dendrites[di].Spec
		data, version, err := receive(m, p.phiIn(di, m.From.Index), s.Batch*s.OutH*s.OutW, false)
		if err != nil {
			return fmt.Errorf("%w: %v got φ(z) from %v at batch %d version %d: %v", ErrProtocol, p.ref, m.From, m.Batch, m.Step, err)
		}
		if data == nil {
			return nil // held until the frames before it arrive
		}
		sl := &a.phi[di][m.From.Index]
		if !sl.set {
			a.nPhi++
		}
		if sl.put(data, version) {
			a.fresh = true
		}
	case KindState:
		if m.From != (Ref{Role: StateRole, Layer: p.ref.Layer, Index: p.ref.Index}) {
			return fmt.Errorf("%w: %v got an unexpected state from %v", ErrProtocol, p.ref, m.From)
		}
		data, version, err := receive(m, p.zIn(), p.plane, false)
		if err != nil {
			return fmt.Errorf("%w: %v got a state from %v at batch %d version %d: %v", ErrProtocol, p.ref, m.From, m.Batch, m.Step, err)
		}
		if data == nil {
			return nil
		}
		if a.z.put(data, version) {
			a.fresh = true
		}
	default:
		return fmt.Errorf("%w: %v does not take %v messages (from %v)", ErrProtocol, p.ref, m.Kind, m.From)
	}
	return nil
}

// constantZ reports whether the own state never moves in a window (a
// clamped image under reconstruction): it takes no part in versions.
func (a *AsyncErrorPop) constantZ() bool { return a.p.clamped && !a.p.set.Denoise }

// Fire does what the inputs held allow: the ancestral prediction for its
// state map once every map above has reported, then an error from the
// latest inputs whenever something new arrived; the final error (and the
// local learning) once every input is final. It reports whether anything
// happened.
func (a *AsyncErrorPop) Fire(emit Emit) (bool, error) {
	p := a.p
	if a.nPhi < p.wantPhis() {
		return false, nil
	}
	phis := make([][][]float32, len(a.phi))
	vmin, vmax := int(^uint(0)>>1), -1
	for di, row := range a.phi {
		phis[di] = make([][]float32, len(row))
		for i := range row {
			phis[di][i] = row[i].data
			vmin, vmax = min(vmin, row[i].version), max(vmax, row[i].version)
		}
	}
	fired := false
	if !p.clamped && !a.predSent {
		mu := p.predict(a.batch, -1, phis)
		a.predSent, fired = true, true
		if err := emit(Msg{Kind: KindPred, From: p.ref, Batch: a.batch, Step: 0, Data: clone(mu), Ops: p.ops}); err != nil {
			return true, err
		}
	}
	if !a.z.set || !a.fresh {
		return fired, nil
	}
	if !a.constantZ() {
		vmin, vmax = min(vmin, a.z.version), max(vmax, a.z.version)
		a.stats.Lag[vmax-a.z.version]++
	}
	for _, row := range a.phi {
		for i := range row {
			a.stats.Lag[vmax-row[i].version]++
		}
	}
	a.fresh = false
	a.stats.Updates++
	mu := p.predict(a.batch, -1, phis)
	e := p.Compare(a.z.data)
	v := vmin + 1
	final := vmin >= a.budget
	out := func(k Kind, data []float32) error {
		return emit(Msg{Kind: k, From: p.ref, Batch: a.batch, Step: v, Data: data})
	}
	if err := emit(Msg{Kind: KindProbe, From: p.ref, Batch: a.batch, Step: v, Data: []float32{float32(p.energy)}, Ops: p.ops}); err != nil {
		return true, err
	}
	if !final || (p.set.Learn && !p.tied) {
		m := Msg{Kind: KindError, From: p.ref, Batch: a.batch, Step: v, Data: e}
		if s := p.eOut(); s != nil {
			m = encode(m, s)
		} else {
			m.Data = clone(e)
		}
		if err := emit(m); err != nil {
			return true, err
		}
	}
	if !final {
		return true, nil
	}
	if p.clamped {
		if err := out(KindOutput, clone(mu)); err != nil {
			return true, err
		}
	}
	if p.set.Learn {
		p.Learn(phis)
		if p.tied {
			if err := out(KindWeights, p.weights()); err != nil {
				return true, err
			}
		}
		if err := out(KindDone, nil); err != nil {
			return true, err
		}
	}
	a.done = a.stats
	a.finished++
	a.resetWindow()
	return true, a.advance()
}
