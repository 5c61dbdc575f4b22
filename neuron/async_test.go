package neuron

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/convngc/convngc/ngc/tensor"
)

// chain is the smallest circuit: a top state map (layer 1, 2×2) predicting
// one image map (layer 0, 4×4) through a 3×3 stride-2 kernel. Populations:
// z.1.0 (top), e.0.0 (the image's error map), z.0.0 (the image).
type chain struct {
	set          *Settings
	top, img     *StatePop
	err          *ErrorPop
	x, z1        []float32
	refTop, refE Ref
	refImg       Ref
}

func newChain(t *testing.T, B, T int, denoise bool) *chain {
	t.Helper()
	return newChainEnc(t, B, T, denoise, Encoding{})
}

// newChainEnc is newChain with its messages encoded by enc.
func newChainEnc(t *testing.T, B, T int, denoise bool, enc Encoding) *chain {
	t.Helper()
	return newChainSized(t, B, T, 4, denoise, enc)
}

// newChainSized is newChainEnc with an n×n image (n/2 × n/2 at the top).
func newChainSized(t *testing.T, B, T, n int, denoise bool, enc Encoding) *chain {
	t.Helper()
	geom, err := tensor.SameGeom(n, n, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	spec := tensor.ConvSpec{Geom: geom, Batch: B, InC: 1, OutC: 1, Flip: true}
	r := rand.New(rand.NewPCG(3, 4))
	w := make([]float32, 9)
	for i := range w {
		w[i] = 0.3 * float32(r.NormFloat64())
	}
	set := &Settings{Batch: B, Steps: T, Denoise: denoise,
		State:     StateParams{Beta: 0.1, Gamma: 0.001, Phi: tensor.LeakyReLU},
		LearnRate: 0.01, Lambda: 1, Optimizer: "adam", MaxKernelNorm: 1, Encoding: enc}
	c := &chain{set: set, refTop: Ref{Role: StateRole, Layer: 1, Index: 0}, refE: Ref{Role: ErrorRole, Layer: 0, Index: 0}, refImg: Ref{Role: StateRole, Layer: 0, Index: 0}}
	big, small := B*n*n, B*(n/2)*(n/2)
	c.top, err = NewStatePop(c.refTop, set, small, false, true, true,
		[]Feedback{{Lower: 0, Spec: spec, E: append([]float32(nil), w...)}}, []bool{true})
	if err != nil {
		t.Fatal(err)
	}
	c.img, err = NewStatePop(c.refImg, set, big, true, false, true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.err, err = NewErrorPop(c.refE, set, big, tensor.Identity, 0.05, true, true,
		[]Dendrite{{Upper: 1, Spec: spec, W: append([]float32(nil), w...)}})
	if err != nil {
		t.Fatal(err)
	}
	c.x = make([]float32, big)
	for i := range c.x {
		c.x[i] = r.Float32()
	}
	c.z1 = make([]float32, small)
	for i := range c.z1 {
		c.z1[i] = 0.5 + 0.05*float32(r.NormFloat64())
	}
	return c
}

// receivers is the chain's routing.
func (c *chain) receivers(m Msg) []Ref {
	switch m.Kind {
	case KindPhi, KindState:
		return []Ref{c.refE}
	case KindError:
		if c.set.Denoise {
			return []Ref{c.refTop, c.refImg}
		}
		return []Ref{c.refTop}
	}
	return nil // probes, outputs: to the driver
}

// runSync drives the sync populations through one window and returns the
// output.
func (c *chain) runSync(t *testing.T) []float32 {
	t.Helper()
	var q []Msg
	var out []float32
	emit := func(m Msg) error {
		if m.Kind == KindOutput {
			out = clone(m.Data)
		}
		q = append(q, m)
		return nil
	}
	pops := map[Ref]interface{ Handle(Msg, Emit) error }{c.refTop: c.top, c.refImg: c.img, c.refE: c.err}
	if err := c.top.Handle(Msg{Kind: KindInit, From: c.refTop, Data: clone(c.z1)}, emit); err != nil {
		t.Fatal(err)
	}
	if err := c.img.Handle(Msg{Kind: KindClamp, From: c.refImg, Data: clone(c.x)}, emit); err != nil {
		t.Fatal(err)
	}
	for len(q) > 0 {
		m := q[0]
		q = q[1:]
		for _, to := range c.receivers(m) {
			if err := pops[to].Handle(m, emit); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

type asyncDriven interface {
	Offer(Msg) error
	Fire(Emit) (bool, error)
}

// runAsync drives the async populations: it delivers queued messages in
// an order picked by rng and fires the receiver after each delivery.
func (c *chain) runAsync(t *testing.T, budget int, rng *rand.Rand) ([]float32, []Msg) {
	t.Helper()
	at, _ := NewAsyncStatePop(c.top, budget, 0)
	ai, _ := NewAsyncStatePop(c.img, budget, 0)
	ae, _ := NewAsyncErrorPop(c.err, budget)
	pops := map[Ref]asyncDriven{c.refTop: at, c.refImg: ai, c.refE: ae}
	var q, all []Msg
	var out []float32
	emit := func(m Msg) error {
		all = append(all, m)
		if m.Kind == KindOutput {
			out = m.Data
		}
		q = append(q, m)
		return nil
	}
	if err := at.Offer(Msg{Kind: KindInit, From: c.refTop, Data: clone(c.z1)}); err != nil {
		t.Fatal(err)
	}
	if err := ai.Offer(Msg{Kind: KindClamp, From: c.refImg, Data: clone(c.x)}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []asyncDriven{at, ai} {
		if _, err := p.Fire(emit); err != nil {
			t.Fatal(err)
		}
	}
	for len(q) > 0 {
		i := 0
		if rng != nil {
			i = rng.IntN(len(q))
		}
		m := q[i]
		q = append(q[:i], q[i+1:]...)
		for _, to := range c.receivers(m) {
			if err := pops[to].Offer(m); err != nil {
				t.Fatal(err)
			}
			for {
				fired, err := pops[to].Fire(emit)
				if err != nil {
					t.Fatal(err)
				}
				if !fired {
					break
				}
			}
		}
	}
	return out, all
}

// TestAsyncChainEqualsSync: under reconstruction every population of the
// chain has a single changing input (the image is clamped), so there is
// nothing to be stale about and the asynchronous populations compute
// exactly the synchronous window, in any delivery order. (Denoising frees
// the image: its error map then mixes two changing inputs and may combine
// versions the lock-step schedule never pairs.)
func TestAsyncChainEqualsSync(t *testing.T) {
	for _, denoise := range []bool{false} {
		want := newChain(t, 2, 12, denoise).runSync(t)
		if want == nil {
			t.Fatal("sync run produced no output")
		}
		for seed := uint64(0); seed < 4; seed++ {
			var rng *rand.Rand
			if seed > 0 {
				rng = rand.New(rand.NewPCG(seed, 1))
			}
			got, _ := newChain(t, 2, 12, denoise).runAsync(t, 12, rng)
			if got == nil {
				t.Fatalf("denoise=%v seed %d: no output", denoise, seed)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("denoise=%v seed %d: output[%d] = %v, sync %v", denoise, seed, i, got[i], want[i])
				}
			}
		}
	}
}

// TestAsyncVersions: the error map's versions run 1..budget+1, the last
// being final; the top map makes exactly budget corrections.
func TestAsyncVersions(t *testing.T) {
	c := newChain(t, 1, 5, false)
	_, msgs := c.runAsync(t, 5, nil)
	var errVersions []int
	corrections := 0
	for _, m := range msgs {
		switch {
		case m.Kind == KindProbe:
			errVersions = append(errVersions, m.Step)
		case m.Kind == KindPhi && m.Step > 0:
			corrections++
		}
	}
	if corrections != 5 {
		t.Errorf("top map made %d corrections, budget 5", corrections)
	}
	if len(errVersions) != 6 || errVersions[0] != 1 || errVersions[5] != 6 {
		t.Errorf("error versions %v, want 1..6", errVersions)
	}
}

// twoBelow is a top map over two error maps (layer 0 with two maps), for
// exercising staleness bookkeeping by hand.
func twoBelow(t *testing.T, budget, maxLag int) *AsyncStatePop {
	t.Helper()
	geom, _ := tensor.SameGeom(4, 4, 3, 2)
	spec := tensor.ConvSpec{Geom: geom, Batch: 1, InC: 2, OutC: 1, Flip: true}
	set := &Settings{Batch: 1, Steps: budget, State: StateParams{Beta: 0.1, Phi: tensor.LeakyReLU}}
	p, err := NewStatePop(Ref{Role: StateRole, Layer: 1, Index: 0}, set, 4, false, true, true,
		[]Feedback{{Lower: 0, Spec: spec, E: make([]float32, 18)}}, []bool{false})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAsyncStatePop(p, budget, maxLag)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Offer(Msg{Kind: KindInit, From: p.ref, Data: make([]float32, 4)}); err != nil {
		t.Fatal(err)
	}
	return a
}

func errFrom(j, batch, version int) Msg {
	return Msg{Kind: KindError, From: Ref{Role: ErrorRole, Layer: 0, Index: j}, Batch: batch, Step: version, Data: make([]float32, 16)}
}

func TestAsyncStateLagAndBound(t *testing.T) {
	nop := func(Msg) error { return nil }
	a := twoBelow(t, 10, 0)
	if fired, _ := a.Fire(nop); !fired {
		t.Fatal("start of window did not fire")
	}
	// One error map has reported: not every sender yet, no correction.
	_ = a.Offer(errFrom(0, 0, 1))
	if _, _ = a.Fire(nop); a.k != 0 {
		t.Fatal("corrected before every sender reported")
	}
	_ = a.Offer(errFrom(1, 0, 1))
	_, _ = a.Fire(nop) // correction 1: both inputs version 1 → lag 0, 0
	_ = a.Offer(errFrom(0, 0, 2))
	_, _ = a.Fire(nop)            // correction 2: versions 2 and 1 → lags 0, 1
	_ = a.Offer(errFrom(0, 0, 1)) // older than held: ignored, nothing fresh
	if fired, _ := a.Fire(nop); fired {
		t.Error("fired on an input older than the one held")
	}
	if a.k != 2 || a.stats.Lag[0] != 3 || a.stats.Lag[1] != 1 {
		t.Errorf("after 2 corrections: k=%d lags %v, want k=2, {0:3, 1:1}", a.k, a.stats.Lag)
	}

	// With MaxLag 1 the third correction waits for map 1's version ≥ 2.
	b := twoBelow(t, 10, 1)
	_, _ = b.Fire(nop)
	_ = b.Offer(errFrom(0, 0, 1))
	_ = b.Offer(errFrom(1, 0, 1))
	_, _ = b.Fire(nop)
	_ = b.Offer(errFrom(0, 0, 2))
	_, _ = b.Fire(nop) // k=2: versions 2,1 → lags 0,1 ≤ 1: allowed
	_ = b.Offer(errFrom(0, 0, 3))
	if fired, _ := b.Fire(nop); fired || b.k != 2 {
		t.Fatalf("correction 3 with map 1 at version 1 (lag 2 > 1): fired=%v k=%d", fired, b.k)
	}
	_ = b.Offer(errFrom(1, 0, 2))
	if fired, _ := b.Fire(nop); !fired || b.k != 3 {
		t.Fatalf("fresh input did not release correction 3: k=%d", b.k)
	}
}

func TestAsyncWindows(t *testing.T) {
	var sent []Msg
	emit := func(m Msg) error { sent = append(sent, m); return nil }
	a := twoBelow(t, 2, 0)
	_, _ = a.Fire(emit)
	// A message of the next window waits; one of a much later window is a protocol error.
	if err := a.Offer(Msg{Kind: KindInit, From: a.p.ref, Batch: 1, Data: make([]float32, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Offer(errFrom(0, 3, 1)); !errors.Is(err, ErrProtocol) {
		t.Errorf("batch 3 during batch 0: %v, want ErrProtocol", err)
	}
	for v := 1; v <= 2; v++ {
		_ = a.Offer(errFrom(0, 0, v))
		_ = a.Offer(errFrom(1, 0, v))
		_, _ = a.Fire(emit)
	}
	n, st := a.Finished()
	if n != 1 || st.Updates != 2 || a.Batch() != 1 {
		t.Fatalf("after the budget: %d windows, %d updates, in batch %d", n, st.Updates, a.Batch())
	}
	// The early start of batch 1 was replayed: the window starts at once.
	if fired, _ := a.Fire(emit); !fired || !a.started {
		t.Error("the buffered start of the next window was lost")
	}
	// A late error of batch 0 is dropped and counted.
	_ = a.Offer(errFrom(0, 0, 2))
	if a.stats.Dropped != 1 {
		t.Errorf("late message: dropped %d, want 1", a.stats.Dropped)
	}
	// Stop announces the state as final (version = budget).
	_ = a.Offer(errFrom(0, 1, 1))
	_ = a.Offer(errFrom(1, 1, 1))
	_, _ = a.Fire(emit)
	sent = nil
	if err := a.Stop(1, emit); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Kind != KindPhi || sent[0].Step != 2 || !a.final {
		t.Errorf("Stop sent %+v", sent)
	}
}

func TestAsyncRejectsBadInput(t *testing.T) {
	a := twoBelow(t, 3, 0)
	cases := []struct {
		name string
		m    Msg
	}{
		{"sender not below", Msg{Kind: KindError, From: Ref{Role: ErrorRole, Layer: 2, Index: 0}, Data: make([]float32, 16)}},
		{"map index out of range", Msg{Kind: KindError, From: Ref{Role: ErrorRole, Layer: 0, Index: 5}, Data: make([]float32, 16)}},
		{"wrong size", Msg{Kind: KindError, From: Ref{Role: ErrorRole, Layer: 0, Index: 0}, Step: 1, Data: make([]float32, 15)}},
		{"second start", Msg{Kind: KindInit, From: Ref{Role: StateRole, Layer: 1, Index: 0}, Data: make([]float32, 4)}},
		{"wrong kind", Msg{Kind: KindOutput, From: Ref{Role: ErrorRole, Layer: 0, Index: 0}}},
		{"weights without learning", Msg{Kind: KindWeights, From: Ref{Role: ErrorRole, Layer: 0, Index: 0}, Data: make([]float32, 18)}},
	}
	for _, tc := range cases {
		if err := a.Offer(tc.m); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", tc.name, err)
		}
	}
	if _, err := NewAsyncStatePop(a.p, 0, 0); err == nil {
		t.Error("budget 0 accepted")
	}
	if _, err := NewAsyncErrorPop(nil, 3); err == nil {
		t.Error("nil population accepted")
	}
}

// TestFireOnOwnError: under FireOnOwnError a top map (no error of its own)
// corrects when the oldest error below reaches a newer version, not on every
// arrival; a repeated version never fires it; the correction uses the
// latest value of every input.
func TestFireOnOwnError(t *testing.T) {
	nop := func(Msg) error { return nil }
	tests := []struct {
		name   string
		offers []Msg
		want   []int // corrections made after each offer
	}{
		{"every sender once", []Msg{errFrom(0, 0, 1), errFrom(1, 0, 1)}, []int{0, 1}},
		{"one sender runs ahead", []Msg{errFrom(0, 0, 1), errFrom(1, 0, 1), errFrom(0, 0, 2), errFrom(0, 0, 3)}, []int{0, 1, 1, 1}},
		{"the other catches up", []Msg{errFrom(0, 0, 1), errFrom(1, 0, 1), errFrom(0, 0, 2), errFrom(1, 0, 2)}, []int{0, 1, 1, 2}},
		{"same version again", []Msg{errFrom(0, 0, 1), errFrom(1, 0, 1), errFrom(1, 0, 1), errFrom(0, 0, 1)}, []int{0, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := twoBelow(t, 10, 2)
			a.SetFireRule(FireOnOwnError)
			_, _ = a.Fire(nop)
			for i, m := range tc.offers {
				if err := a.Offer(m); err != nil {
					t.Fatal(err)
				}
				_, _ = a.Fire(nop)
				if a.k != tc.want[i] {
					t.Fatalf("after offer %d: %d corrections, want %d", i+1, a.k, tc.want[i])
				}
			}
		})
	}
	// The original rule fires on every arrival at least as new.
	a := twoBelow(t, 10, 2)
	_, _ = a.Fire(nop)
	for _, m := range []Msg{errFrom(0, 0, 1), errFrom(1, 0, 1), errFrom(1, 0, 1), errFrom(0, 0, 2)} {
		_ = a.Offer(m)
		_, _ = a.Fire(nop)
	}
	if a.k != 3 {
		t.Errorf("FireOnArrival: %d corrections, want 3", a.k)
	}
}
