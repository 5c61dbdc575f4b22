package neuron

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestChainSigmaDeltaZeroIsDense: with θ = 0 the synchronous populations
// compute bit for bit what they compute with dense messages, whatever the
// re-base period, under reconstruction and denoising, and so do the
// asynchronous ones in any delivery order.
func TestChainSigmaDeltaZeroIsDense(t *testing.T) {
	for _, denoise := range []bool{false, true} {
		want := newChain(t, 3, 10, denoise).runSync(t)
		for _, rebase := range []int{0, 3} {
			got := newChainEnc(t, 3, 10, denoise, Encoding{Scheme: SigmaDelta, Rebase: rebase}).runSync(t)
			sameBits(t, "sync", got, want)
		}
	}
	want := newChain(t, 2, 12, false).runSync(t)
	for seed := uint64(1); seed < 4; seed++ {
		got, msgs := newChainEnc(t, 2, 12, false, Encoding{Scheme: SigmaDelta}).runAsync(t, 12, rand.New(rand.NewPCG(seed, 1)))
		sameBits(t, "async", got, want)
		for _, m := range msgs {
			if (m.Kind == KindPhi || m.Kind == KindState || m.Kind == KindError) && (m.Delta == nil || m.Data != nil) {
				t.Fatalf("%v from %v travels dense in a sigma-delta run", m.Kind, m.From)
			}
		}
	}
}

// TestChainSigmaDeltaThreshold: a positive threshold sends fewer values
// and makes fewer synaptic operations, and the output stays close to the
// dense one.
func TestChainSigmaDeltaThreshold(t *testing.T) {
	want, dvals, dops := newChainSized(t, 4, 40, 16, false, Encoding{}).runSyncCounting(t)
	for _, theta := range []float64{0.005, 0.02} {
		got, vals, ops := newChainSized(t, 4, 40, 16, false, Encoding{Scheme: SigmaDelta, Threshold: theta}).runSyncCounting(t)
		if vals >= dvals || ops >= dops || (theta >= 0.02 && (2*vals >= dvals || 2*ops >= dops)) {
			t.Errorf("θ=%g: %d values and %d operations, dense %d and %d", theta, vals, ops, dvals, dops)
		}
		worst := 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		if worst > 10*theta {
			t.Errorf("θ=%g: output differs from dense by up to %g", theta, worst)
		}
		t.Logf("θ=%g: values %d (dense %d), operations %d (dense %d), output within %.2g", theta, vals, dvals, ops, dops, worst)
	}
}

// TestChainIncrementalMatchesRebased: predictions and feedback updated by
// the changes alone agree with ones recomputed whole at every step
// (Rebase 1) to float32 round-off.
func TestChainIncrementalMatchesRebased(t *testing.T) {
	enc := Encoding{Scheme: SigmaDelta, Threshold: 0.01}
	inc, _, incOps := newChainSized(t, 4, 40, 16, false, enc).runSyncCounting(t)
	enc.Rebase = 1
	whole, _, wholeOps := newChainSized(t, 4, 40, 16, false, enc).runSyncCounting(t)
	if incOps >= wholeOps {
		t.Errorf("incremental %d operations, whole %d", incOps, wholeOps)
	}
	for i := range whole {
		if d := math.Abs(float64(inc[i] - whole[i])); d > 1e-5 {
			t.Fatalf("output[%d]: incremental %g, recomputed %g", i, inc[i], whole[i])
		}
	}
}

// runSyncCounting is runSync that also counts the values sent between
// populations and the synaptic operations.
func (c *chain) runSyncCounting(t *testing.T) (out []float32, vals int, ops int64) {
	t.Helper()
	var q []Msg
	emit := func(m Msg) error {
		if m.Kind == KindOutput {
			out = clone(m.Data)
		}
		ops += m.Ops
		if len(c.receivers(m)) > 0 {
			vals += m.Values()
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
	return out, vals, ops
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: output[%d] = %g, dense %g", what, i, got[i], want[i])
		}
	}
}
