package circuit

import (
	"context"
	"errors"
	"fmt"
	"github.com/convngc/convngc/ngc/optim"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

func smallModel(t *testing.T, mod func(*ngc.Config)) *ngc.Model {
	t.Helper()
	c := ngc.Config{Channels: []int{3, 5, 4, 3}, ImageSize: 16, Steps: 8, Batch: 4, Seed: 5}
	if mod != nil {
		mod(&c)
	}
	m, err := ngc.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func images(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n*3*size*size)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func inproc(t *testing.T) bus.Bus {
	t.Helper()
	b, err := bus.NewInProc()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestSyncMatchesBatched: reconstruction and denoising through the actors
// give the batched reference's outputs and energies.
func TestSyncMatchesBatched(t *testing.T) {
	for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
		checkSyncInference(t, smallModel(t, nil), task, images(4, 16, 1))
	}
}

// checkSyncInference runs one batch x through the sync actors of m's
// circuit and through the batched reference, from the same top states,
// and compares the outputs (1e-5) and every step's energies (1e-4).
func checkSyncInference(t *testing.T, m *ngc.Model, task ngc.Task, x []float32) {
	t.Helper()
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	B := len(x) / (3 * 16 * 16)
	ws, _ := m.NewWorkspace(B)
	var tr ngc.Trace
	if err := m.Infer(ws, x, task, rand.New(rand.NewPCG(9, 1)), &tr); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(x))
	ws.Output(want)
	s, err := Start(context.Background(), c, inproc(t), Task(task), Batch(B), TopSeed(9))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RunBatch(context.Background(), x)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(res.Output, want); d > 1e-5 {
		t.Errorf("%v: actor output differs from batched by %g", task, d)
	}
	got := res.Trace()
	for step := range tr.Steps {
		for l := range tr.Steps[step] {
			if math.Abs(got.Steps[step][l]-tr.Steps[step][l]) > 1e-4*(1+tr.Steps[step][l]) {
				t.Fatalf("%v: step %d layer %d energy %v, batched %v", task, step+1, l, got.Steps[step][l], tr.Steps[step][l])
			}
		}
	}
}

// TestSyncTrainingMatchesBatched: tied and untied training through the sync
// actors equals batched training: kernels, biases, E and the Adam state the
// actors hand back (1e-6). A second session started from the trained model
// resumes its Adam state, so two more batches still match (as `ngc run
// --learn` continuing a checkpoint must).
func TestSyncTrainingMatchesBatched(t *testing.T) {
	for _, untied := range []bool{false, true} {
		m := smallModel(t, func(c *ngc.Config) { c.Untied = untied })
		const B = 4
		ws, _ := m.NewWorkspace(B)
		rng := rand.New(rand.NewPCG(11, 1))
		batch := 0
		for phase, batches := range []int{3, 2} {
			c, err := FromModel(m)
			if err != nil {
				t.Fatal(err)
			}
			if (phase == 0) != (c.Params.Adam == nil) {
				t.Fatalf("phase %d: circuit Adam state %v", phase, c.Params.Adam != nil)
			}
			s, err := Start(context.Background(), c, inproc(t), Learn(), Batch(B), TopSeed(11))
			if err != nil {
				t.Fatal(err)
			}
			if phase == 1 {
				// The session's top-state stream restarts; align the
				// batched one with it.
				rng = rand.New(rand.NewPCG(11, 1))
			}
			for range batches {
				x := images(B, 16, uint64(batch))
				batch++
				if err := m.TrainBatch(ws, x, rng, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := s.RunBatch(context.Background(), x); err != nil {
					t.Fatal(err)
				}
			}
			p, err := s.Params(context.Background())
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkTrained(t, fmt.Sprintf("untied=%v phase %d", untied, phase), c, m, p, batch)
		}
	}
}

// checkTrained compares gathered parameters and Adam state with a model's.
func checkTrained(t *testing.T, what string, c *Circuit, m *ngc.Model, p *Params, steps int) {
	t.Helper()
	if p.Adam == nil {
		t.Fatalf("%s: no Adam state gathered", what)
	}
	if p.Adam.Steps != steps {
		t.Errorf("%s: gathered Adam state after %d steps, want %d", what, p.Adam.Steps, steps)
	}
	for si, syn := range c.Graph.Synapses {
		ms := m.Synapse(si)
		ow, ob, oe := m.SynapseOptimizers(si)
		aw := ow.(*optim.Adam)
		pairs := []struct {
			name      string
			got, want []float32
		}{
			{"W", p.W[si], ms.W}, {"Adam m of W", p.Adam.MW[si], aw.M}, {"Adam v of W", p.Adam.VW[si], aw.V},
		}
		if ms.Bias != nil { // the synapse that holds its layer's biases
			ab := ob.(*optim.Adam)
			pairs = append(pairs, []struct {
				name      string
				got, want []float32
			}{{"bias", p.Bias[syn.To], ms.Bias}, {"Adam m of bias", p.Adam.MBias[syn.To], ab.M}, {"Adam v of bias", p.Adam.VBias[syn.To], ab.V}}...)
		}
		if ms.E != nil {
			ae := oe.(*optim.Adam)
			pairs = append(pairs, struct {
				name      string
				got, want []float32
			}{"E", p.E[si], ms.E}, struct {
				name      string
				got, want []float32
			}{"Adam m of E", p.Adam.ME[si], ae.M}, struct {
				name      string
				got, want []float32
			}{"Adam v of E", p.Adam.VE[si], ae.V})
		}
		for _, pr := range pairs {
			if len(pr.got) != len(pr.want) {
				t.Fatalf("%s synapse %d: %s has %d values, want %d", what, si, pr.name, len(pr.got), len(pr.want))
			}
			if d := maxDiff(pr.got, pr.want); d > 1e-6 {
				t.Errorf("%s synapse %d: %s differs by %g", what, si, pr.name, d)
			}
		}
	}
}

// TestSyncOverNATSMatchesBatched runs reconstruction through an embedded
// NATS server (frames encoded, checksummed and decoded on every hop).
func TestSyncOverNATSMatchesBatched(t *testing.T) {
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
	m := smallModel(t, nil)
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	const B = 4
	ws, _ := m.NewWorkspace(B)
	x := images(B, 16, 2)
	if err := m.Infer(ws, x, ngc.Reconstruct, rand.New(rand.NewPCG(3, 1)), nil); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(x))
	ws.Output(want)
	s, err := Start(context.Background(), c, nb, Batch(B), TopSeed(3), RunID("natstest"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(res.Output, want); d > 1e-5 {
		t.Errorf("NATS actor output differs from batched by %g", d)
	}
}

// TestMissingNodeIsNamed: a placement whose node never joins fails within
// the timeout with an error naming the node, instead of hanging.
func TestMissingNodeIsNamed(t *testing.T) {
	m := smallModel(t, nil)
	c, _ := FromModel(m)
	p := &Placement{Nodes: map[string][]string{"here": {"z.*.*"}, "far-away": {"e.*.*"}}}
	_, err := Start(context.Background(), c, inproc(t), Batch(4), Placed(p, "here"), Timeout(300*time.Millisecond))
	if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "far-away") {
		t.Fatalf("got %v, want ErrLost naming far-away", err)
	}
}

// TestScatterAdamSteps: dumps carrying Adam moments must agree on the step
// count, and a dump of the wrong length is refused.
func TestScatterAdamSteps(t *testing.T) {
	m := smallModel(t, nil)
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	p := &Params{Bias: make([][]float32, len(c.Graph.Layers))}
	for si := range c.Graph.Synapses {
		p.W = append(p.W, make([]float32, c.Graph.Spec(si, 1).KernelLen()))
	}
	for l := range c.Graph.Layers {
		if !c.Graph.Top(l) {
			p.Bias[l] = make([]float32, c.Graph.Layers[l].Maps)
		}
	}
	p.Adam = newAdamState(p)
	p.Adam.Steps = -1
	dump := func(idx, steps int) []float32 {
		n := 1
		for _, si := range c.Graph.Above(0) {
			s := c.Graph.Spec(si, 1)
			n += s.OutC * s.K * s.K
		}
		d := make([]float32, 3*n+1)
		d[3*n] = math.Float32frombits(uint32(steps))
		return d
	}
	ref := func(i int) neuron.Ref { return neuron.Ref{Role: neuron.ErrorRole, Layer: 0, Index: i} }
	if moments, err := c.scatter(p, ref(0), dump(0, 3)); err != nil || !moments || p.Adam.Steps != 3 {
		t.Fatalf("first dump: moments %v, steps %d, %v", moments, p.Adam.Steps, err)
	}
	if _, err := c.scatter(p, ref(1), dump(1, 4)); !errors.Is(err, neuron.ErrProtocol) {
		t.Errorf("disagreeing step counts: %v", err)
	}
	if _, err := c.scatter(p, ref(1), make([]float32, 5)); !errors.Is(err, neuron.ErrProtocol) {
		t.Errorf("a dump of the wrong length: %v", err)
	}
}

// TestSyncMatchesBatchedOnSkipGraph: on a graph that is not a chain (a skip
// synapse from the top straight to the image, so the image is predicted by
// two layers), the sync actors reproduce the batched reference's outputs
// and energies, for reconstruction and denoising, and one training batch
// through the actors gives the batched update.
func TestSyncMatchesBatchedOnSkipGraph(t *testing.T) {
	g := &Graph{
		Layers: []Layer{{Maps: 3, Size: 16, Image: true}, {Maps: 4, Size: 8}, {Maps: 5, Size: 4}},
		Synapses: []Synapse{
			{From: 1, To: 0, Kernel: 3, Stride: 2},
			{From: 2, To: 1, Kernel: 3, Stride: 2},
			{From: 2, To: 0, Kernel: 5, Stride: 4},
		},
	}
	const B = 4
	x := images(B, 16, 2)
	for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
		m, err := ngc.New(ngc.Config{Graph: g, Steps: 8, Batch: B, Seed: 6})
		if err != nil {
			t.Fatal(err)
		}
		if m.Config().Chain() {
			t.Fatal("the skip graph resolved as a chain")
		}
		checkSyncInference(t, m, task, x)
	}

	m, err := ngc.New(ngc.Config{Graph: g, Steps: 8, Batch: B, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), c, inproc(t), Learn(), Batch(B), TopSeed(11))
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := m.NewWorkspace(B)
	rng := rand.New(rand.NewPCG(11, 1))
	for i := range 2 {
		x := images(B, 16, uint64(10+i))
		if err := m.TrainBatch(ws, x, rng, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunBatch(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Params(context.Background())
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	checkTrained(t, "skip graph", c, m, p, 2)
}
