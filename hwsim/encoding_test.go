package hwsim_test

import (
	"errors"
	"math"
	"testing"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// TestHwsimSigmaDelta: the virtual-time engine drives sigma-delta
// populations too. With θ = 0 the synchronous dynamics are bit for bit the
// dense ones (outputs and energies), with at most the dense synaptic
// operations; a threshold delivers fewer values and makes fewer synaptic
// operations, so that the cost model prices less energy and shorter
// updates, at about the dense reconstruction error; asynchronous dynamics
// with jittered latencies (which deliver a sender's frames out of order)
// run as well.
func TestHwsimSigmaDelta(t *testing.T) {
	m, x, mse := trainedTiny(t)
	const B = 8
	dense := newRig(t, m, tinyNetwork(), "loihi2", B, ngc.Reconstruct, false, hwsim.EngineConfig{Jitter: 0.5, Seed: 2})
	want := dense.run(t, x)
	zero := newRigEnc(t, m, tinyNetwork(), "loihi2", B, ngc.Reconstruct, false, hwsim.EngineConfig{Jitter: 0.5, Seed: 2},
		neuron.Encoding{Scheme: neuron.SigmaDelta}).run(t, x)
	for i := range want.Output {
		if math.Float32bits(zero.Output[i]) != math.Float32bits(want.Output[i]) {
			t.Fatalf("θ=0: output[%d] = %g, dense %g", i, zero.Output[i], want.Output[i])
		}
	}
	for s := range want.Energy {
		for l := range want.Energy[s] {
			if zero.Energy[s][l] != want.Energy[s][l] {
				t.Fatalf("θ=0: energy of layer %d at step %d = %g, dense %g", l, s+1, zero.Energy[s][l], want.Energy[s][l])
			}
		}
	}
	if zero.Inference.SynapticOps > want.Inference.SynapticOps {
		t.Errorf("θ=0: %d synaptic operations, dense %d", zero.Inference.SynapticOps, want.Inference.SynapticOps)
	}

	mp := dense.mapping(t)
	cost := func(r *hwsim.BatchResult) hwsim.Cost {
		c, err := hwsim.Estimate(mp, r.Inference)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sd := newRigEnc(t, m, tinyNetwork(), "loihi2", B, ngc.Reconstruct, false, hwsim.EngineConfig{Jitter: 0.5, Seed: 2},
		neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.002}).run(t, x)
	d, s := want.Inference, sd.Inference
	t.Logf("θ=0.002: values %d (dense %d), messages %d (%d), synaptic ops %d (%d), energy %.3g J (%.3g), latency %.3g s (%.3g), MSE %.5f (%.5f)",
		s.Values, d.Values, s.Messages, d.Messages, s.SynapticOps, d.SynapticOps, cost(sd).Energy, cost(want).Energy,
		sd.InferenceEnd, want.InferenceEnd, mse(sd.Output), mse(want.Output))
	if s.Values >= d.Values || s.SynapticOps >= d.SynapticOps || s.NeuronUpdates != d.NeuronUpdates ||
		cost(sd).Energy >= cost(want).Energy || sd.InferenceEnd >= want.InferenceEnd {
		t.Errorf("θ=0.002 counts %+v, dense %+v", s, d)
	}
	if mse(sd.Output) > 1.1*mse(want.Output) {
		t.Errorf("θ=0.002: MSE %.5f, dense %.5f", mse(sd.Output), mse(want.Output))
	}

	async := newRigEnc(t, m, tinyNetwork(), "loihi", B, ngc.Reconstruct, false,
		hwsim.EngineConfig{Dynamics: hwsim.AsyncDynamics, MaxLag: 2, Jitter: 1, Seed: 4}, neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.002}).run(t, x)
	if e := mse(async.Output); e > 1.25*mse(want.Output) || math.IsNaN(e) {
		t.Errorf("async sigma-delta: MSE %.5f, sync dense %.5f", e, mse(want.Output))
	}

	_, err := hwsim.NewEngine(mp, dense.net(t, neuron.Encoding{Scheme: neuron.SigmaDelta}), hwsim.EngineConfig{ValueBits: 8})
	if !errors.Is(err, hwsim.ErrSim) {
		t.Errorf("quantised sigma-delta: %v", err)
	}
}
