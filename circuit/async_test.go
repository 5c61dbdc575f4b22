package circuit

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// smoothImages are images a small model can learn: sums of a few smooth
// colour gradients and blobs.
func smoothImages(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*3*size*size)
	for i := 0; i < n; i++ {
		cx, cy := r.Float64()*float64(size), r.Float64()*float64(size)
		w := 2 + 3*r.Float64()
		for c := 0; c < 3; c++ {
			a, g := r.Float64(), r.Float64()*0.5
			for y := 0; y < size; y++ {
				for xx := 0; xx < size; xx++ {
					d := (float64(xx)-cx)*(float64(xx)-cx) + (float64(y)-cy)*(float64(y)-cy)
					v := 0.2 + g*float64(y)/float64(size) + 0.6*a*math.Exp(-d/(2*w*w))
					x[((i*3+c)*size+y)*size+xx] = float32(min(1, v))
				}
			}
		}
	}
	return x
}

// trainedModel returns a small model trained by the batched reference on
// smooth images, and a held-out batch.
func trainedModel(t *testing.T, mod func(*ngc.Config)) (*ngc.Model, []float32) {
	t.Helper()
	m := smallModel(t, func(c *ngc.Config) {
		c.Steps = 20
		c.Batch = 8
		c.LearningRate = 0.01
		if mod != nil {
			mod(c)
		}
	})
	ws, _ := m.NewWorkspace(8)
	rng := rand.New(rand.NewPCG(1, 1))
	for b := 0; b < 40; b++ {
		if err := m.TrainBatch(ws, smoothImages(8, 16, uint64(b)), rng, nil); err != nil {
			t.Fatal(err)
		}
	}
	return m, smoothImages(8, 16, 999)
}

func mse(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return s / float64(len(a))
}

// syncOutput runs the batched reference: the sync runtime reproduces it
// (TestSyncMatchesBatched).
func syncOutput(t *testing.T, m *ngc.Model, x []float32, task ngc.Task, seed uint64) []float32 {
	t.Helper()
	ws, _ := m.NewWorkspace(8)
	if err := m.Infer(ws, x, task, rand.New(rand.NewPCG(seed, 1)), nil); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(x))
	ws.Output(out)
	return out
}

// TestAsyncReconstructs: on a trained model, the asynchronous runtime with
// bounded staleness reconstructs as well as the synchronous one (unbounded
// staleness is measured, not bounded: a state map may spend its budget on
// stale errors); every state map spends exactly its budget, the lag bound
// holds, and the report accounts for every actor.
func TestAsyncReconstructs(t *testing.T) {
	for _, lag := range []int{2, 0} {
		asyncReconstructs(t, lag)
	}
}

func asyncReconstructs(t *testing.T, maxLag int) {
	m, x := trainedModel(t, nil)
	want := syncOutput(t, m, x, ngc.Reconstruct, 4)
	syncErr := mse(want, x)
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), c, inproc(t), Batch(8), TopSeed(4), Async(AsyncConfig{MaxLag: maxLag}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for b := 0; b < 2; b++ { // the second batch checks that windows reset
		res, err := s.RunBatch(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		mean, mx := LagSummary(res.Async.StateLag)
		asyncErr := mse(res.Output, x)
		t.Logf("max lag %d, batch %d: reconstruction MSE sync %.5f async %.5f; state lag mean %.2f max %d", maxLag, b, syncErr, asyncErr, mean, mx)
		if maxLag > 0 && (asyncErr > 1.25*syncErr || mx > maxLag) {
			t.Errorf("max lag %d: async reconstruction MSE %.5f (sync %.5f), largest lag %d", maxLag, asyncErr, syncErr, mx)
		}
		if math.IsNaN(asyncErr) {
			t.Errorf("max lag %d: NaN output", maxLag)
		}
		rep := res.Async
		if rep == nil || len(rep.Actors) != len(Populations(c.Graph)) {
			t.Fatalf("report covers %d actors, want %d", len(rep.Actors), len(Populations(c.Graph)))
		}
		for _, a := range rep.Actors {
			if a.Ref.Role == neuron.StateRole && !c.Graph.Layers[a.Ref.Layer].Image && a.Updates != 20 {
				t.Errorf("%s made %d corrections, budget 20", a.Actor, a.Updates)
			}
			if a.Sent == 0 || a.Bytes == 0 || a.Received == 0 {
				t.Errorf("%s: no traffic counted: %+v", a.Actor, a)
			}
		}
		if len(rep.StateLag) == 0 || len(rep.ErrorLag) == 0 || len(rep.Timeline) == 0 {
			t.Errorf("empty staleness or timeline: %+v", rep)
		}
		if len(res.Energy) != 21 || res.Energy[20][0] <= 0 {
			t.Errorf("energy by version: %d entries, final image energy %v", len(res.Energy), res.Energy[len(res.Energy)-1])
		}
	}
}

// TestAsyncLinkDelay: a delay injected on the links into the top layer
// paces the run. With lag bound s the top maps can get at most s versions
// ahead of the errors they have seen, so a window of budget U lasts at least
// (U/s − 1) delays; the bound is never exceeded.
func TestAsyncLinkDelay(t *testing.T) {
	m, x := trainedModel(t, nil)
	c, _ := FromModel(m)
	top := len(c.Graph.Layers) - 1
	const U, lag, d = 20, 5, 20 * time.Millisecond
	delay := func(from, to neuron.Ref) time.Duration {
		if to.Role == neuron.StateRole && to.Layer == top {
			return d
		}
		return 0
	}
	s, err := Start(context.Background(), c, inproc(t), Batch(8), TopSeed(4), Async(AsyncConfig{Budget: U, MaxLag: lag, Delay: delay}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if e := mse(res.Output, x); math.IsNaN(e) || e > 0.02 {
		t.Errorf("delayed run: MSE %v", e)
	}
	if min := float64(U/lag-1) * d.Seconds(); res.Async.Seconds < min {
		t.Errorf("window took %.3f s, the delays allow no less than %.3f s", res.Async.Seconds, min)
	}
	for _, a := range res.Async.Actors {
		if a.Ref.Role == neuron.StateRole && a.MaxLag > lag {
			t.Errorf("%s corrected with an input %d versions old, bound %d", a.Actor, a.MaxLag, lag)
		}
	}
}

// TestAsyncWallClock: a wall-clock bound ends a window whose budget is far
// too large, and the run still reconstructs. The window is stale-synchronous
// (MaxLag 2): unbounded staleness on a loaded machine can diverge, which is
// the dynamics under study, not what this test is about.
func TestAsyncWallClock(t *testing.T) {
	m, x := trainedModel(t, nil)
	c, _ := FromModel(m)
	s, err := Start(context.Background(), c, inproc(t), Batch(8), TopSeed(4),
		Async(AsyncConfig{Budget: 1 << 20, MaxLag: 2, WallClock: 150 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Async.Stopped {
		t.Error("the wall-clock bound did not stop the window")
	}
	if e := mse(res.Output, x); math.IsNaN(e) || e > 0.1 {
		t.Errorf("stopped run: MSE %v", e)
	}
}

// TestAsyncDenoise: denoising runs asynchronously (bounded staleness) and
// ends as close to the clean images as the sync runtime.
func TestAsyncDenoise(t *testing.T) {
	m, x := trainedModel(t, nil)
	want := syncOutput(t, m, x, ngc.Denoise, 4)
	c, _ := FromModel(m)
	s, err := Start(context.Background(), c, inproc(t), Batch(8), TopSeed(4), Task(ngc.Denoise), Async(AsyncConfig{MaxLag: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	syncErr, asyncErr := mse(want, x), mse(res.Output, x)
	t.Logf("denoising MSE sync %.5f async %.5f", syncErr, asyncErr)
	if asyncErr > 1.25*syncErr {
		t.Errorf("async denoising MSE %.5f, sync %.5f", asyncErr, syncErr)
	}
}

// TestAsyncLearning: tied and untied learning in asynchronous actors lower
// the energy over batches; tied learning keeps every state map's feedback
// equal to the error maps' kernels (weight transport), untied learns E.
// Staleness is bounded (MaxLag 2) so that the outcome does not depend on how
// the scheduler of a loaded machine orders the actors.
func TestAsyncLearning(t *testing.T) {
	for _, untied := range []bool{false, true} {
		m := smallModel(t, func(c *ngc.Config) {
			c.Steps, c.Batch, c.LearningRate, c.Untied = 20, 8, 0.01, untied
		})
		c, _ := FromModel(m)
		before := append([]float32(nil), c.Params.W[0]...)
		s, err := Start(context.Background(), c, inproc(t), Batch(8), TopSeed(4), Learn(), Async(AsyncConfig{MaxLag: 2}))
		if err != nil {
			t.Fatal(err)
		}
		var first, last float64
		for b := 0; b < 30; b++ {
			res, err := s.RunBatch(context.Background(), smoothImages(8, 16, uint64(b)))
			if err != nil {
				t.Fatal(err)
			}
			e := 0.0
			for _, v := range res.Energy[len(res.Energy)-1] {
				e += v
			}
			if b < 3 {
				first += e / 3
			}
			if b >= 27 {
				last += e / 3
			}
		}
		p, err := s.Params(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		t.Logf("untied=%v: final energy %.4f over the first 3 batches, %.4f over the last 3", untied, first, last)
		if !(last < first) {
			t.Errorf("untied=%v: energy did not fall: %.4f → %.4f", untied, first, last)
		}
		if maxDiff(p.W[0], before) == 0 {
			t.Errorf("untied=%v: kernels did not change", untied)
		}
		if untied && maxDiff(p.E[0], before) == 0 {
			t.Error("untied E did not change")
		}
	}
}

// TestAsyncTiedTransportKeepsFeedback: after asynchronous tied learning
// every state map's feedback kernels equal the error maps' W (the weight
// transport messages arrived and were adopted).
func TestAsyncTiedTransportKeepsFeedback(t *testing.T) {
	m := smallModel(t, func(c *ngc.Config) { c.Steps, c.Batch, c.LearningRate = 10, 8, 0.01 })
	c, _ := FromModel(m)
	s, err := Start(context.Background(), c, inproc(t), Batch(8), TopSeed(4), Learn(), Async(AsyncConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for b := 0; b < 3; b++ {
		if _, err := s.RunBatch(context.Background(), smoothImages(8, 16, uint64(b))); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Params(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.actors {
		sp, ok := a.pop.(*neuron.StatePop)
		if !ok {
			continue
		}
		ref := sp.Ref()
		for fi, f := range sp.Feedback() {
			si := c.Graph.Below(ref.Layer)[fi]
			n := len(f.E)
			if d := maxDiff(f.E, p.W[si][ref.Index*n:(ref.Index+1)*n]); d != 0 {
				t.Errorf("%v: feedback differs from W by %g after tied learning", ref, d)
			}
		}
	}
}

// TestAsyncOverNATS: the asynchronous runtime over an embedded NATS server
// reconstructs as well as in process.
func TestAsyncOverNATS(t *testing.T) {
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
	m, x := trainedModel(t, nil)
	syncErr := mse(syncOutput(t, m, x, ngc.Reconstruct, 4), x)
	c, _ := FromModel(m)
	s, err := Start(context.Background(), c, nb, Batch(8), TopSeed(4), RunID("asyncnats"), Async(AsyncConfig{MaxLag: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	mean, mx := LagSummary(res.Async.StateLag)
	em, emx := LagSummary(res.Async.ErrorLag)
	t.Logf("NATS: state lag mean %.2f max %d; error lag mean %.2f max %d; %.3f s", mean, mx, em, emx, res.Async.Seconds)
	if e := mse(res.Output, x); e > 1.25*syncErr {
		t.Errorf("async over NATS: MSE %.5f, sync %.5f", e, syncErr)
	}
}

func TestLinkDelayIsDeterministic(t *testing.T) {
	a, b := neuron.Ref{Role: neuron.ErrorRole, Layer: 1, Index: 2}, neuron.Ref{Role: neuron.StateRole, Layer: 2, Index: 0}
	d1 := LinkDelay(time.Millisecond, 4*time.Millisecond, 7)
	d2 := LinkDelay(time.Millisecond, 4*time.Millisecond, 7)
	if d1(a, b) != d2(a, b) {
		t.Error("same seed, different delays")
	}
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		d := d1(a, neuron.Ref{Role: neuron.StateRole, Layer: 2, Index: i})
		if d < time.Millisecond || d > 5*time.Millisecond {
			t.Fatalf("delay %v outside [1ms, 5ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct delays over 20 links", len(seen))
	}
}
