package hwsim_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/graph"
)

// The tests drive the populations the circuit package builds (an external
// test package may import it; package hwsim itself does not).

func tinyConfig() ngc.Config {
	return ngc.Config{Channels: []int{3, 5, 4, 3}, ImageSize: 16, Steps: 8, Batch: 4, Seed: 5}
}

// tinyNetwork is tinyConfig's network for the mapping.
func tinyNetwork() *graph.Graph {
	g, _ := graph.Chain([]int{3, 5, 4, 3}, 16, 3, 2, false)
	return g
}

func images(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n*3*size*size)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

// smooth returns images of a few soft blobs: structure a small model can learn.
func smooth(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 4))
	x := make([]float32, n*3*size*size)
	for k := 0; k < n; k++ {
		cx, cy := r.Float64()*float64(size), r.Float64()*float64(size)
		rad := 2 + r.Float64()*float64(size)/3
		col := [3]float64{r.Float64(), r.Float64(), r.Float64()}
		for c := 0; c < 3; c++ {
			for y := 0; y < size; y++ {
				for xx := 0; xx < size; xx++ {
					d2 := (float64(xx)-cx)*(float64(xx)-cx) + (float64(y)-cy)*(float64(y)-cy)
					x[((k*3+c)*size+y)*size+xx] = float32(col[c] * math.Exp(-d2/(2*rad*rad)))
				}
			}
		}
	}
	return x
}

type rig struct {
	c     *circuit.Circuit
	eng   *hwsim.Engine
	mp    *hwsim.Mapping
	B     int
	T     int
	task  ngc.Task
	learn bool
	rng   *rand.Rand
	n     int
}

func (r *rig) mapping(t *testing.T) *hwsim.Mapping { return r.mp }

// net returns the rig's net with the populations built anew under enc.
func (r *rig) net(t *testing.T, enc neuron.Encoding) hwsim.Net {
	t.Helper()
	c := *r.c
	c.Encoding = enc
	refs, pops, err := c.Populations(r.B, r.task, r.learn)
	if err != nil {
		t.Fatal(err)
	}
	var sp []hwsim.SimPop
	for _, ref := range refs {
		sp = append(sp, pops[ref])
	}
	return hwsim.Net{Pops: sp, Batch: r.B, Steps: r.T, Denoise: r.task == ngc.Denoise, Learn: r.learn,
		Route: func(k neuron.Kind, from neuron.Ref) []neuron.Ref { return c.Receivers(k, from, r.task, r.learn) }}
}

func newRig(t *testing.T, m *ngc.Model, net *graph.Graph, arch string, B int, task ngc.Task, learn bool, cfg hwsim.EngineConfig) *rig {
	t.Helper()
	return newRigEnc(t, m, net, arch, B, task, learn, cfg, neuron.Encoding{})
}

// newRigEnc is newRig with the populations' messages encoded by enc.
func newRigEnc(t *testing.T, m *ngc.Model, net *graph.Graph, arch string, B int, task ngc.Task, learn bool, cfg hwsim.EngineConfig, enc neuron.Encoding) *rig {
	t.Helper()
	c, err := circuit.FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	c.Encoding = enc
	mode := hwsim.Reconstruct
	if task == ngc.Denoise {
		mode = hwsim.Denoise
	}
	hc, err := hwsim.CircuitOf(net, mode, 32)
	if err != nil {
		t.Fatal(err)
	}
	a, err := hwsim.Load(arch)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := hwsim.Map(hc, a, hwsim.Options{IgnoreAxonLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	refs, pops, err := c.Populations(B, task, learn)
	if err != nil {
		t.Fatal(err)
	}
	var sp []hwsim.SimPop
	for _, r := range refs {
		sp = append(sp, pops[r])
	}
	T := m.Config().Steps
	eng, err := hwsim.NewEngine(mp, hwsim.Net{Pops: sp, Batch: B, Steps: T, Denoise: task == ngc.Denoise, Learn: learn,
		Route: func(k neuron.Kind, from neuron.Ref) []neuron.Ref { return c.Receivers(k, from, task, learn) }}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{c: c, eng: eng, mp: mp, B: B, T: T, task: task, learn: learn, rng: rand.New(rand.NewPCG(9, 1))}
}

func (r *rig) run(t *testing.T, x []float32) *hwsim.BatchResult {
	t.Helper()
	start, err := r.c.StartMessages(x, r.B, r.n, r.rng)
	if err != nil {
		t.Fatal(err)
	}
	r.n++
	res, err := r.eng.RunBatch(start)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sumLast(e [][]float64) float64 {
	s := 0.0
	for _, v := range e[len(e)-1] {
		s += v
	}
	return s
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestHwsimSyncMatchesReference: sync dynamics in virtual time give the
// batched reference's output (within 1e-5, float32 round-off: only the
// summation order may differ) and energies (relative 1e-4), for
// reconstruction and denoising, with and without jitter (the dataflow does
// not depend on timing) — and the goroutine runtime's output on the same
// batch.
func TestHwsimSyncMatchesReference(t *testing.T) {
	for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
		for _, jitter := range []float64{0, 0.5} {
			m, err := ngc.New(tinyConfig())
			if err != nil {
				t.Fatal(err)
			}
			const B = 4
			x := images(B, 16, 1)
			ws, _ := m.NewWorkspace(B)
			var tr ngc.Trace
			if err := m.Infer(ws, x, task, rand.New(rand.NewPCG(9, 1)), &tr); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(x))
			ws.Output(want)

			r := newRig(t, m, tinyNetwork(), "loihi2", B, task, false, hwsim.EngineConfig{Jitter: jitter, Seed: 3})
			res := r.run(t, x)
			if d := maxDiff(res.Output, want); d > 1e-5 {
				t.Errorf("%v jitter %g: virtual-time output differs from batched by %g", task, jitter, d)
			}
			if len(res.Energy) != len(tr.Steps)+1 {
				t.Fatalf("%v: %d energy rows, want %d", task, len(res.Energy), len(tr.Steps)+1)
			}
			for s := range tr.Steps {
				for l := range tr.Steps[s] {
					if math.Abs(res.Energy[s][l]-tr.Steps[s][l]) > 1e-4*(1+tr.Steps[s][l]) {
						t.Fatalf("%v: step %d layer %d energy %v, batched %v", task, s+1, l, res.Energy[s][l], tr.Steps[s][l])
					}
				}
			}
			for k := 1; k < len(res.Timeline); k++ {
				if res.Timeline[k].Time < res.Timeline[k-1].Time {
					t.Fatalf("%v: timeline not in time order at sample %d", task, k)
				}
			}
			if last := res.Timeline[len(res.Timeline)-1]; math.Abs(last.Discrepancy-sumLast(res.Energy)) > 1e-9*(1+last.Discrepancy) {
				t.Errorf("%v: timeline ends at discrepancy %v, final energies sum to %v", task, last.Discrepancy, sumLast(res.Energy))
			}
			if !(res.InferenceEnd > 0) || res.StepLatency() <= 0 || res.End < res.InferenceEnd {
				t.Errorf("%v: virtual times %v per step, inference %v, end %v", task, res.StepLatency(), res.InferenceEnd, res.End)
			}
			if task == ngc.Reconstruct && jitter == 0 {
				b, err := bus.NewInProc()
				if err != nil {
					t.Fatal(err)
				}
				s, err := circuit.Start(context.Background(), r.c, b, circuit.Batch(B), circuit.TopSeed(9))
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.RunBatch(context.Background(), x)
				s.Close()
				b.Close()
				if err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(res.Output, got.Output); d > 1e-5 {
					t.Errorf("virtual-time output differs from the goroutine runtime's by %g", d)
				}
			}
		}
	}
}

// TestHwsimSyncTrainingMatchesReference: three training batches in
// virtual time (tied and untied) leave outputs equal to the batched
// reference's on the next batch.
func TestHwsimSyncTrainingMatchesReference(t *testing.T) {
	for _, untied := range []bool{false, true} {
		cfg := tinyConfig()
		cfg.Untied = untied
		m, err := ngc.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		const B = 4
		r := newRig(t, m, tinyNetwork(), "loihi2", B, ngc.Reconstruct, true, hwsim.EngineConfig{})
		ws, _ := m.NewWorkspace(B)
		rng := rand.New(rand.NewPCG(9, 1))
		var last *hwsim.BatchResult
		for b := 0; b < 3; b++ {
			x := images(B, 16, uint64(b))
			if err := m.TrainBatch(ws, x, rng, nil); err != nil {
				t.Fatal(err)
			}
			last = r.run(t, x)
		}
		if last.Learn.WeightUpdates == 0 || last.Learn.SynapticOps == 0 {
			t.Errorf("untied=%v: learning counted %+v", untied, last.Learn)
		}
		if (last.Learn.WeightTransportMsgs > 0) == untied {
			t.Errorf("untied=%v: %d weight-transport messages", untied, last.Learn.WeightTransportMsgs)
		}
		x := images(B, 16, 7)
		if err := m.Infer(ws, x, ngc.Reconstruct, rng, nil); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(x))
		ws.Output(want)
		// The learning rig runs the next batch learning too; its output is
		// computed before the update.
		got := r.run(t, x)
		if d := maxDiff(got.Output, want); d > 1e-4 {
			t.Errorf("untied=%v: after training, virtual-time output differs from batched by %g", untied, d)
		}
	}
}

// TestHwsimCountsMatchPaperNetwork: on the paper's network (B = 2, T = 3)
// the counts taken while the populations run equal hwsim's analytic counts:
// the initialisation exactly; step 1 exactly; steps 2..T exactly but for
// the clamped image under reconstruction, which the runtime sends to its
// error maps once per window (they keep it) where the analytic step counts
// it every step; the tied learning phase exactly, but for the values of the
// weight-transport messages: an error map sends its whole W[·j] (C_ℓ·9
// values) to each of the C_ℓ state maps above, where the analytic count
// has each state map receive only its own 9.
func TestHwsimCountsMatchPaperNetwork(t *testing.T) {
	net := hwsim.PaperNetwork()
	const B, T = 2, 3
	for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
		learn := task == ngc.Reconstruct
		m, err := ngc.New(ngc.Config{Steps: T, Batch: B, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, m, net, "loihi", B, task, learn, hwsim.EngineConfig{})
		res := r.run(t, smooth(B, 32, 1))
		mode := hwsim.Reconstruct
		if task == ngc.Denoise {
			mode = hwsim.Denoise
		}
		ph, err := hwsim.PhasesOf(net, mode, B, true)
		if err != nil {
			t.Fatal(err)
		}
		strip := func(c hwsim.Counts) hwsim.Counts { c.Label = ""; return c }
		if got, want := strip(res.Init), strip(ph.Init.Scale(B)); got != want {
			t.Errorf("%v: initialisation counts\n got %+v\nwant %+v", task, got, want)
		}
		c0, a0 := int64(net.Layers[0].Maps), int64(net.Layers[0].Size*net.Layers[0].Size)
		for s := 1; s <= T; s++ {
			want := strip(ph.Step.Scale(B))
			if task == ngc.Reconstruct && s >= 2 {
				want.Messages -= B * c0
				want.Values -= B * c0 * a0
			}
			if task == ngc.Denoise && s == 1 {
				want.NeuronUpdates -= B * c0 * a0 // z[0] is clamped during step 1
			}
			if got := strip(res.Steps[s-1]); got != want {
				t.Errorf("%v: step %d counts\n got %+v\nwant %+v", task, s, got, want)
			}
		}
		if res.Steps[0].SynapticOps != B*1018800 {
			t.Errorf("%v: %d synaptic ops in step 1, want %d (paper network)", task, res.Steps[0].SynapticOps, B*1018800)
		}
		if res.Inference.Barriers != B*int64(T+len(net.Layers)-2+1) {
			t.Errorf("%v: %d barriers, want one per image per hardware step", task, res.Inference.Barriers)
		}
		if !learn {
			continue
		}
		want := strip(ph.Learn)
		var wtv int64
		for _, syn := range net.Synapses {
			up, lo := int64(net.Layers[syn.From].Maps), int64(net.Layers[syn.To].Maps)
			wtv += up * lo * up * 9
		}
		want.WeightTransportValues = wtv
		if got := strip(res.Learn); got != want {
			t.Errorf("learning counts\n got %+v\nwant %+v", got, want)
		}
	}
}

// TestHwsimDeterministic: the same seed gives bit-identical async runs
// (outputs, energies, timelines, counts, staleness, times); another seed
// changes the schedule.
func TestHwsimDeterministic(t *testing.T) {
	runOnce := func(seed uint64) *hwsim.BatchResult {
		m, err := ngc.New(tinyConfig())
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, m, tinyNetwork(), "loihi", 4, ngc.Reconstruct, true,
			hwsim.EngineConfig{Dynamics: hwsim.AsyncDynamics, Jitter: 1, JitterTime: 1e-6, Seed: seed})
		r.run(t, smooth(4, 16, 1))
		return r.run(t, smooth(4, 16, 2))
	}
	a, b, c := runOnce(11), runOnce(11), runOnce(12)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two async virtual-time runs with the same seed differ")
	}
	if reflect.DeepEqual(a.Timeline, c.Timeline) {
		t.Error("another seed gave the same timeline")
	}
	for k := 1; k < len(a.Timeline); k++ {
		if a.Timeline[k].Time < a.Timeline[k-1].Time || a.Timeline[k].Messages < a.Timeline[k-1].Messages {
			t.Fatalf("timeline not in time order at sample %d: %+v after %+v", k, a.Timeline[k], a.Timeline[k-1])
		}
	}
	if len(a.StateLag) == 0 || a.Total.Barriers != 0 || a.Total.Messages == 0 {
		t.Errorf("async run: lags %v, %d barriers, %d messages", a.StateLag, a.Total.Barriers, a.Total.Messages)
	}
}

// trainedTiny returns the tiny network (T=20, deterministic top states)
// trained on 60 batches of smooth images, a batch of 8 unseen images and
// the reconstruction MSE against them.
func trainedTiny(t *testing.T) (*ngc.Model, []float32, func([]float32) float64) {
	t.Helper()
	cfg := tinyConfig()
	cfg.Steps = 20
	cfg.TopStd = ngc.Float(0)
	m, err := ngc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := m.NewWorkspace(8)
	rng := rand.New(rand.NewPCG(1, 1))
	for b := 0; b < 60; b++ {
		if err := m.TrainBatch(ws, smooth(8, 16, uint64(b)), rng, nil); err != nil {
			t.Fatal(err)
		}
	}
	x := smooth(8, 16, 1000)
	mse := func(y []float32) float64 {
		s := 0.0
		for i := range x {
			d := float64(x[i] - y[i])
			s += d * d
		}
		return s / float64(len(x))
	}
	return m, x, mse
}

// TestHwsimAsyncCloseToSync: on a small model trained (batched) on soft
// blobs, asynchronous dynamics in virtual time with jittered latencies and a
// staleness bound of 2 versions reconstruct within 25% (relative MSE) of the
// synchronous dynamics under either firing rule of the state maps; firing on
// arrival uses stale inputs; and the rule is applied (the two runs differ:
// on this chain, a state map that waits for its own error keeps lock-step).
func TestHwsimAsyncCloseToSync(t *testing.T) {
	m, x, mse := trainedTiny(t)
	sync := newRig(t, m, tinyNetwork(), "loihi2", 8, ngc.Reconstruct, false, hwsim.EngineConfig{}).run(t, x)
	ms := mse(sync.Output)
	var lags []map[int]int
	for _, onArrival := range []bool{false, true} {
		async := newRig(t, m, tinyNetwork(), "loihi2", 8, ngc.Reconstruct, false,
			hwsim.EngineConfig{Dynamics: hwsim.AsyncDynamics, MaxLag: 2, FireOnArrival: onArrival, Jitter: 1, Seed: 4}).run(t, x)
		lags = append(lags, async.StateLag)
		ma := mse(async.Output)
		t.Logf("fire on arrival %v: reconstruction MSE sync %.5f, async %.5f; async state lags %v", onArrival, ms, ma, async.StateLag)
		if math.Abs(ma-ms) > 0.25*ms {
			t.Errorf("fire on arrival %v: async MSE %.5f is not within 25%% of sync %.5f", onArrival, ma, ms)
		}
		stale := 0
		for l, n := range async.StateLag {
			if l > 2 {
				t.Errorf("fire on arrival %v: %d inputs used %d versions old, bound 2", onArrival, n, l)
			}
			if l > 0 {
				stale += n
			}
		}
		if onArrival && stale == 0 {
			t.Error("fire on arrival: the jittered async run used no stale input")
		}
		last := async.Timeline[len(async.Timeline)-1]
		if math.Abs(last.ReconMSE-ma) > 1e-4*(1+ma) {
			t.Errorf("fire on arrival %v: timeline's final reconstruction MSE %g, output's %g", onArrival, last.ReconMSE, ma)
		}
	}
	if reflect.DeepEqual(lags[0], lags[1]) {
		t.Errorf("the two firing rules used inputs of the same staleness %v: the rule is not applied", lags[0])
	}
}

// TestHwsimBadInput: errors, not panics.
func TestHwsimBadInput(t *testing.T) {
	m, err := ngc.New(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, m, tinyNetwork(), "cpu", 4, ngc.Reconstruct, false, hwsim.EngineConfig{})
	if _, err := r.eng.RunBatch(nil); !errors.Is(err, hwsim.ErrSim) {
		t.Errorf("no start messages: %v", err)
	}
	bad := []neuron.Msg{{Kind: neuron.KindPhi, From: neuron.Ref{Role: neuron.StateRole, Layer: 1}}}
	if _, err := r.eng.RunBatch(bad); !errors.Is(err, hwsim.ErrSim) {
		t.Errorf("a φ(z) as start message: %v", err)
	}
	// A start without the top states' initial values ends with nothing to do.
	start, err := r.c.StartMessages(images(4, 16, 1), 4, 0, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var clampsOnly []neuron.Msg
	for _, s := range start {
		if s.Kind == neuron.KindClamp {
			clampsOnly = append(clampsOnly, s)
		}
	}
	if _, err := r.eng.RunBatch(clampsOnly); !errors.Is(err, hwsim.ErrSim) {
		t.Errorf("a batch without initial values: %v", err)
	}
	a, _ := hwsim.Load("cpu")
	small, _ := graph.Chain([]int{3, 3}, 16, 3, 2, false)
	hc, _ := hwsim.CircuitOf(small, hwsim.Reconstruct, 32)
	mp, err := hwsim.Map(hc, a, hwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, pops, _ := r.c.Populations(4, ngc.Reconstruct, false)
	var sp []hwsim.SimPop
	for _, p := range pops {
		sp = append(sp, p)
	}
	route := func(neuron.Kind, neuron.Ref) []neuron.Ref { return nil }
	for name, c := range map[string]struct {
		m   *hwsim.Mapping
		net hwsim.Net
		cfg hwsim.EngineConfig
	}{
		"nil mapping":     {nil, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{}},
		"unmapped pops":   {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{}},
		"no route":        {mp, hwsim.Net{Pops: sp, Batch: 4, Steps: 8}, hwsim.EngineConfig{}},
		"negative jitter": {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{Jitter: -1}},
		"NaN jitter":      {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{JitterTime: math.NaN()}},
		"bad dynamics":    {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{Dynamics: 7}},
		"1-bit values":    {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{ValueBits: 1}},
		"33-bit values":   {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{ValueBits: 33}},
		"learn denoise":   {mp, hwsim.Net{Pops: sp, Route: route, Batch: 4, Steps: 8, Learn: true, Denoise: true}, hwsim.EngineConfig{}},
		"nil population":  {mp, hwsim.Net{Pops: []hwsim.SimPop{nil}, Route: route, Batch: 4, Steps: 8}, hwsim.EngineConfig{}},
	} {
		if _, err := hwsim.NewEngine(c.m, c.net, c.cfg); !errors.Is(err, hwsim.ErrSim) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// ExampleEngine runs a small circuit's populations in virtual time on
// Loihi 2: the synchronous dataflow, then the asynchronous dynamics with a
// staleness bound, on the same images.
func ExampleEngine() {
	m, _ := ngc.New(ngc.Config{Channels: []int{3, 5, 4, 3}, ImageSize: 16, Steps: 8, Batch: 2, Seed: 5})
	c, _ := circuit.FromModel(m)
	g, _ := graph.Chain([]int{3, 5, 4, 3}, 16, 3, 2, false)
	hc, _ := hwsim.CircuitOf(g, hwsim.Reconstruct, 32)
	arch, _ := hwsim.Load("loihi2")
	mp, _ := hwsim.Map(hc, arch, hwsim.Options{})
	x := smooth(2, 16, 1)
	for _, cfg := range []hwsim.EngineConfig{{}, {Dynamics: hwsim.AsyncDynamics, MaxLag: 1, Jitter: 0.5, Seed: 7}} {
		refs, pops, _ := c.Populations(2, ngc.Reconstruct, false)
		var sp []hwsim.SimPop
		for _, r := range refs {
			sp = append(sp, pops[r])
		}
		route := func(k neuron.Kind, from neuron.Ref) []neuron.Ref { return c.Receivers(k, from, ngc.Reconstruct, false) }
		eng, err := hwsim.NewEngine(mp, hwsim.Net{Pops: sp, Route: route, Batch: 2, Steps: 8}, cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		start, _ := c.StartMessages(x, 2, 0, rand.New(rand.NewPCG(1, 1)))
		res, err := eng.RunBatch(start)
		if err != nil {
			fmt.Println(err)
			return
		}
		last := res.Timeline[len(res.Timeline)-1]
		fmt.Printf("%v: %d synaptic ops and %d messages per image, %.1f µs per image, reconstruction MSE %.4f\n",
			cfg.Dynamics, res.Inference.SynapticOps/2, res.Inference.Messages/2, res.InferenceEnd*1e6, last.ReconMSE)
	}
	// Output:
	// sync: 179064 synaptic ops and 999 messages per image, 745.8 µs per image, reconstruction MSE 0.0553
	// async: 179604 synaptic ops and 984 messages per image, 923.0 µs per image, reconstruction MSE 0.0553
}

// TestHwsimQuantizedMessages: quantising the map messages to the hardware's
// width changes the reconstruction by an amount that shrinks with the width:
// 32 bits is exact, 16 bits indistinguishable, 8 bits close, 3 bits worse;
// and the run stays deterministic.
func TestHwsimQuantizedMessages(t *testing.T) {
	m, x, mse := trainedTiny(t)
	run := func(bits int) []float32 {
		return newRig(t, m, tinyNetwork(), "loihi2", 8, ngc.Reconstruct, false, hwsim.EngineConfig{ValueBits: bits}).run(t, x).Output
	}
	exact := run(0)
	if !reflect.DeepEqual(run(32), exact) {
		t.Error("32-bit messages differ from exact ones")
	}
	e0 := mse(exact)
	got := map[int]float64{}
	for _, bits := range []int{16, 8, 3} {
		got[bits] = mse(run(bits))
	}
	t.Logf("reconstruction MSE: exact %.6f, 16 bits %.6f, 8 bits %.6f, 3 bits %.6f", e0, got[16], got[8], got[3])
	if math.Abs(got[16]-e0) > 0.01*e0 {
		t.Errorf("16-bit messages moved the MSE from %.6f to %.6f", e0, got[16])
	}
	if math.Abs(got[8]-e0) > 0.25*e0 {
		t.Errorf("8-bit messages moved the MSE from %.6f to %.6f", e0, got[8])
	}
	if got[3] <= got[8] || math.IsNaN(got[3]) {
		t.Errorf("3-bit messages (MSE %.6f) are not worse than 8-bit ones (%.6f)", got[3], got[8])
	}
	if !reflect.DeepEqual(run(8), run(8)) {
		t.Error("quantised runs are not deterministic")
	}
}

// TestHwsimResidualMatchesReference: a residual-block Conv-NGC (Appendix
// C) runs in virtual time, every intermediate map a population of the
// mapping, and gives the batched reference's output (1e-5); every step's
// synaptic operations and neuron updates equal hwsim's analytic counts of
// the same circuit, and learning runs to the end of the batch. The
// asynchronous dynamics refuse it.
func TestHwsimResidualMatchesReference(t *testing.T) {
	net, err := graph.Residual(tinyNetwork(), 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
		cfg := tinyConfig()
		cfg.Channels, cfg.Graph = nil, net
		m, err := ngc.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		const B = 4
		x := images(B, 16, 2)
		ws, _ := m.NewWorkspace(B)
		if err := m.Infer(ws, x, task, rand.New(rand.NewPCG(9, 1)), nil); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(x))
		ws.Output(want)
		learn := task == ngc.Reconstruct
		r := newRig(t, m, net, "loihi2", B, task, learn, hwsim.EngineConfig{})
		res := r.run(t, x)
		d := maxDiff(res.Output, want)
		if d > 1e-5 {
			t.Errorf("%v: virtual-time output of the residual net differs from batched by %g", task, d)
		}
		t.Logf("%v: virtual-time output within %g of batched", task, d)
		mode := hwsim.Reconstruct
		if task == ngc.Denoise {
			mode = hwsim.Denoise
		}
		ph, err := hwsim.PhasesOf(net, mode, B, true)
		if err != nil {
			t.Fatal(err)
		}
		for s := 2; s <= len(res.Steps); s++ {
			got, want := res.Steps[s-1], ph.Step.Scale(B)
			if got.SynapticOps != want.SynapticOps || got.NeuronUpdates != want.NeuronUpdates {
				t.Errorf("%v: step %d: %d synaptic ops and %d neuron updates, analytic %d and %d",
					task, s, got.SynapticOps, got.NeuronUpdates, want.SynapticOps, want.NeuronUpdates)
			}
		}
		if learn && (res.Learn.WeightUpdates == 0 || res.Learn.SynapticOps == 0) {
			t.Errorf("learning counted %+v", res.Learn)
		}
	}
	cfg := tinyConfig()
	cfg.Channels, cfg.Graph = nil, net
	m, _ := ngc.New(cfg)
	c, err := circuit.FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := hwsim.CircuitOf(net, hwsim.Reconstruct, 32)
	a, _ := hwsim.Load("loihi2")
	mp, err := hwsim.Map(hc, a, hwsim.Options{IgnoreAxonLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	refs, pops, _ := c.Populations(4, ngc.Reconstruct, false)
	var sp []hwsim.SimPop
	for _, r := range refs {
		sp = append(sp, pops[r])
	}
	_, err = hwsim.NewEngine(mp, hwsim.Net{Pops: sp, Batch: 4, Steps: 8,
		Route: func(k neuron.Kind, from neuron.Ref) []neuron.Ref { return c.Receivers(k, from, ngc.Reconstruct, false) }},
		hwsim.EngineConfig{Dynamics: hwsim.AsyncDynamics})
	if !errors.Is(err, hwsim.ErrSim) {
		t.Errorf("async engine on a residual net: %v, want ErrSim", err)
	}
}
