package circuit

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// runEncoded runs batches mini-batches of x (the same images each time)
// through a session of c under enc, and returns every batch's result, the
// parameters when learning, the bytes its bus sent and the synaptic
// operations its populations made.
func runEncoded(t *testing.T, c *Circuit, b bus.Bus, enc neuron.Encoding, x []float32, batches int, opts ...Option) ([]*Result, *Params, uint64, int64) {
	t.Helper()
	cc := *c
	cc.Encoding = enc
	before := b.Stats().Sent.Bytes
	s, err := Start(context.Background(), &cc, b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []*Result
	for range batches {
		res, err := s.RunBatch(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res)
	}
	var p *Params
	if s.o.learn {
		if p, err = s.Params(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return out, p, b.Stats().Sent.Bytes - before, s.SynapticOps()
}

// sameResult requires bit-identical outputs and energies.
func sameResult(t *testing.T, what string, got, want *Result) {
	t.Helper()
	for i := range want.Output {
		if math.Float32bits(got.Output[i]) != math.Float32bits(want.Output[i]) {
			t.Fatalf("%s: output[%d] = %g, dense %g", what, i, got.Output[i], want.Output[i])
		}
	}
	for st := range want.Energy {
		for l := range want.Energy[st] {
			if got.Energy[st][l] != want.Energy[st][l] {
				t.Fatalf("%s: energy of layer %d at step %d = %g, dense %g", what, l, st+1, got.Energy[st][l], want.Energy[st][l])
			}
		}
	}
}

// TestSigmaDeltaZeroIsDense: with θ = 0 the synchronous runtime computes
// bit for bit what it computes with dense messages — outputs, energies at
// every step and, when learning (tied and untied), every parameter — on
// the layered chain and on a graph with a skip synapse, over two
// mini-batches (windows start from zero) and with re-bases. It makes at
// most the dense synaptic operations: it skips sums whose inputs did not
// change at all.
func TestSigmaDeltaZeroIsDense(t *testing.T) {
	skip := &Graph{
		Layers: []Layer{{Maps: 3, Size: 16, Image: true}, {Maps: 4, Size: 8}, {Maps: 5, Size: 4}},
		Synapses: []Synapse{
			{From: 1, To: 0, Kernel: 3, Stride: 2}, {From: 2, To: 1, Kernel: 3, Stride: 2}, {From: 2, To: 0, Kernel: 5, Stride: 4},
		},
	}
	const B = 4
	x := images(B, 16, 3)
	cases := []struct {
		name  string
		cfg   func(*ngc.Config)
		opts  []Option
		learn bool
	}{
		{"chain recon", nil, nil, false},
		{"chain denoise", nil, []Option{Task(ngc.Denoise)}, false},
		{"skip recon", func(c *ngc.Config) { c.Graph = skip }, nil, false},
		{"skip denoise", func(c *ngc.Config) { c.Graph = skip }, []Option{Task(ngc.Denoise)}, false},
		{"chain learn tied", nil, []Option{Learn()}, true},
		{"chain learn untied", func(c *ngc.Config) { c.Untied = true }, []Option{Learn()}, true},
		{"skip learn untied", func(c *ngc.Config) { c.Graph = skip; c.Untied = true }, []Option{Learn()}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromModel(smallModel(t, tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			opts := append([]Option{Batch(B), TopSeed(9)}, tc.opts...)
			want, wp, dense, dops := runEncoded(t, c, inproc(t), neuron.Encoding{}, x, 2, opts...)
			for _, rebase := range []int{0, 3} {
				got, gp, sd, sops := runEncoded(t, c, inproc(t), neuron.Encoding{Scheme: neuron.SigmaDelta, Rebase: rebase}, x, 2, opts...)
				for k := range want {
					sameResult(t, tc.name, got[k], want[k])
				}
				// A sum whose inputs did not change at all (φ(z) of step 1
				// is that of step 0) is not recomputed: at most the dense
				// count.
				if sops > dops || 10*sops < 9*dops {
					t.Errorf("rebase %d: %d synaptic operations, dense %d", rebase, sops, dops)
				}
				if tc.learn {
					for si := range wp.W {
						for i := range wp.W[si] {
							if math.Float32bits(gp.W[si][i]) != math.Float32bits(wp.W[si][i]) {
								t.Fatalf("W[%d][%d] = %g after learning, dense %g", si, i, gp.W[si][i], wp.W[si][i])
							}
						}
					}
					for si := range wp.E {
						for i := range wp.E[si] {
							if math.Float32bits(gp.E[si][i]) != math.Float32bits(wp.E[si][i]) {
								t.Fatalf("E[%d][%d] = %g after learning, dense %g", si, i, gp.E[si][i], wp.E[si][i])
							}
						}
					}
				}
				t.Logf("rebase %d: %d bytes, dense %d", rebase, sd, dense)
			}
		})
	}
}

// TestSigmaDeltaSavesTraffic: on a trained model a threshold sends fewer
// bytes and makes fewer synaptic operations at about the dense
// reconstruction error; incremental sums agree with sums re-based at every
// step; the same run over NATS (frames encoded, compressed, decoded)
// computes bit for bit what it computes in process; and the asynchronous
// runtime runs on sigma-delta messages too.
func TestSigmaDeltaSavesTraffic(t *testing.T) {
	m, x := trainedModel(t, nil)
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	opts := []Option{Batch(8), TopSeed(4)}
	want, _, dense, dops := runEncoded(t, c, inproc(t), neuron.Encoding{}, x, 1, opts...)
	denseErr := mse(want[0].Output, x)
	enc := neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.003}
	got, _, sd, sops := runEncoded(t, c, inproc(t), enc, x, 1, opts...)
	sdErr := mse(got[0].Output, x)
	t.Logf("θ=%g: bytes %d (dense %d), synaptic ops %d (dense %d), MSE %.6f (dense %.6f)", enc.Threshold, sd, dense, sops, dops, sdErr, denseErr)
	if sd >= dense || sops >= dops || sdErr > 1.1*denseErr {
		t.Errorf("θ=%g: bytes %d (dense %d), synaptic ops %d (dense %d), MSE %.6f (dense %.6f)", enc.Threshold, sd, dense, sops, dops, sdErr, denseErr)
	}

	rebased := enc
	rebased.Rebase = 1
	whole, _, _, wops := runEncoded(t, c, inproc(t), rebased, x, 1, opts...)
	if d := maxDiff(whole[0].Output, got[0].Output); d > 1e-4 || wops <= sops {
		t.Errorf("re-based at every step: output differs by %g, %d synaptic operations (incremental %d)", d, wops, sops)
	}

	srv, err := bus.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nb, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	overNATS, _, _, _ := runEncoded(t, c, nb, enc, x, 1, append(opts, RunID("sdnats"))...)
	sameResult(t, "over NATS", overNATS[0], got[0])
	if st := nb.Stats(); st.Rejected != 0 || st.Sent.WireBytes >= st.Sent.Bytes {
		t.Errorf("over NATS: %d frames rejected, %d bytes on the wire for %d", st.Rejected, st.Sent.WireBytes, st.Sent.Bytes)
	}

	for _, lag := range []int{2, 0} {
		ares, _, abytes, aops := runEncoded(t, c, inproc(t), enc, x, 2, append(opts, Async(AsyncConfig{MaxLag: lag}))...)
		for _, r := range ares {
			if e := mse(r.Output, x); lag > 0 && e > 1.25*denseErr || math.IsNaN(e) {
				t.Errorf("async max lag %d: MSE %.6f (sync dense %.6f)", lag, e, denseErr)
			}
		}
		t.Logf("async max lag %d: MSE %.6f, %d bytes, %d synaptic operations", lag, mse(ares[1].Output, x), abytes, aops)
	}
}

// TestSigmaDeltaLossRepaired: a lost sigma-delta frame is repaired by the
// resend round (the receiver takes the resent frame in order, ignores the
// ones it has) and the run ends bit for bit as without loss.
func TestSigmaDeltaLossRepaired(t *testing.T) {
	m := smallModel(t, nil)
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	const B = 4
	x := images(B, 16, 1)
	enc := neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.01}
	opts := []Option{Batch(B), TopSeed(9), Timeout(2 * time.Second)}
	want, _, _, _ := runEncoded(t, c, inproc(t), enc, x, 2, opts...)
	for _, subject := range []string{"run.e.0.1", "run.phi.2.0", "run.z.1.3"} {
		once := true
		lb := &lossyBus{Bus: inproc(t), drop: func(s string, batch, step int, resent bool) bool {
			if s == subject && batch == 1 && step == 3 && !resent && once {
				once = false
				return true
			}
			return false
		}}
		got, _, _, _ := runEncoded(t, c, lb, enc, x, 2, opts...)
		if len(lb.dropped) != 1 {
			t.Fatalf("%s: dropped %v", subject, lb.dropped)
		}
		for k := range want {
			sameResult(t, "repaired "+subject, got[k], want[k])
		}
	}
}

// TestSigmaDeltaMismatchRefused: a dense frame where a sigma-delta one is
// expected (nodes of another encoding) fails the run naming the sender.
func TestSigmaDeltaMismatchRefused(t *testing.T) {
	c, err := FromModel(smallModel(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	c.Encoding = neuron.Encoding{Scheme: neuron.SigmaDelta}
	b := inproc(t)
	s, err := Start(context.Background(), c, b, Batch(4), TopSeed(1), Timeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := &bus.Frame{Run: "run", Sender: "e.0.1", Kind: bus.KindError, Step: tag(0, 1), Shape: []int{4 * 16 * 16}, Payload: make([]float32, 4*16*16)}
	if err := b.Publish(context.Background(), "run.e.0.1", f); err != nil {
		t.Fatal(err)
	}
	_, err = s.RunBatch(context.Background(), images(4, 16, 1))
	if err == nil || !strings.Contains(err.Error(), "e.0.1") || !strings.Contains(err.Error(), "dense message in a sigma-delta run") {
		t.Fatalf("err = %v", err)
	}
}
