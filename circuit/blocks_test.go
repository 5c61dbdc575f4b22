package circuit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/graph"
	"github.com/convngc/convngc/ngc/optim"
)

// residualModel returns a small Conv-NGC whose stride-2 synapses are the
// paper's Appendix C blocks (width maps inside) with the given error
// pathway; with skip, a plain stride-4 synapse also joins the top to the
// image, so the image is predicted by a block and a plain synapse.
func residualModel(t *testing.T, pathway string, skip, untied bool) *ngc.Model {
	t.Helper()
	g, err := graph.Chain([]int{3, 5, 4, 3}, 16, 3, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	if skip {
		g.Synapses = append(g.Synapses, graph.Synapse{From: 3, To: 0, Kernel: 5, Stride: 8})
	}
	r, err := graph.Residual(g, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Synapses {
		if s.Block != nil {
			s.Block.Pathway = pathway
		}
	}
	m, err := ngc.New(ngc.Config{Graph: r, Steps: 8, Batch: 4, Seed: 5, Untied: untied})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSyncMatchesBatchedResidual: a residual-block Conv-NGC (Appendix C)
// runs on the sync actors, every block's intermediate maps a population,
// and gives the batched reference's outputs (1e-5) and energies (1e-4),
// for reconstruction and denoising, with the paper's error pathway and
// the exact one, and beside a plain skip synapse.
func TestSyncMatchesBatchedResidual(t *testing.T) {
	for _, tc := range []struct {
		pathway string
		skip    bool
	}{{graph.PathwayLRA, false}, {graph.PathwayExact, false}, {graph.PathwayLRA, true}} {
		m := residualModel(t, tc.pathway, tc.skip, false)
		c, err := FromModel(m)
		if err != nil {
			t.Fatal(err)
		}
		blocks := 0
		for _, r := range Populations(c.Graph) {
			if r.Role == neuron.BlockRole {
				blocks++
			}
		}
		if blocks != 3*(4+4+4)+(5+4+3) {
			t.Fatalf("%s skip=%v: %d block populations, want %d", tc.pathway, tc.skip, blocks, 3*12+12)
		}
		for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
			checkSyncInference(t, m, task, images(4, 16, 3))
		}
	}
}

// TestSyncTrainingMatchesBatchedResidual: training a residual-block
// Conv-NGC through the sync actors gives the batched update: every
// stage's W and E, the plain synapses' kernels and biases, and the Adam
// state the actors hand back (1e-6), tied and untied; a second session
// started from the trained model resumes its Adam state.
func TestSyncTrainingMatchesBatchedResidual(t *testing.T) {
	for _, tc := range []struct {
		pathway      string
		skip, untied bool
	}{{graph.PathwayLRA, false, false}, {graph.PathwayExact, true, true}, {graph.PathwayLRA, true, false}} {
		m := residualModel(t, tc.pathway, tc.skip, tc.untied)
		const B = 4
		ws, _ := m.NewWorkspace(B)
		rng := rand.New(rand.NewPCG(11, 1))
		batch := 0
		for phase, batches := range []int{2, 1} {
			c, err := FromModel(m)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Start(context.Background(), c, inproc(t), Learn(), Batch(B), TopSeed(11))
			if err != nil {
				t.Fatal(err)
			}
			if phase == 1 {
				rng = rand.New(rand.NewPCG(11, 1))
			}
			for range batches {
				x := images(B, 16, uint64(20+batch))
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
			what := fmt.Sprintf("%s skip=%v untied=%v phase %d", tc.pathway, tc.skip, tc.untied, phase)
			checkTrainedBlocks(t, what, c, m, p, batch)
		}
	}
}

// checkTrainedBlocks is checkTrained for a graph with residual blocks.
func checkTrainedBlocks(t *testing.T, what string, c *Circuit, m *ngc.Model, p *Params, steps int) {
	t.Helper()
	if p.Adam == nil || p.Adam.Steps != steps {
		t.Fatalf("%s: gathered Adam state %+v, want %d steps", what, p.Adam, steps)
	}
	type pair struct {
		name      string
		got, want []float32
	}
	var pairs []pair
	for si, syn := range c.Graph.Synapses {
		ms := m.Synapse(si)
		if syn.Block == nil {
			ow, ob, oe := m.SynapseOptimizers(si)
			aw := ow.(*optim.Adam)
			pairs = append(pairs, pair{"W", p.W[si], ms.W}, pair{"Adam m of W", p.Adam.MW[si], aw.M}, pair{"Adam v of W", p.Adam.VW[si], aw.V})
			if ms.Bias != nil {
				ab := ob.(*optim.Adam)
				pairs = append(pairs, pair{"bias", p.Bias[syn.To], ms.Bias}, pair{"Adam v of bias", p.Adam.VBias[syn.To], ab.V})
			}
			if ms.E != nil {
				ae := oe.(*optim.Adam)
				pairs = append(pairs, pair{"E", p.E[si], ms.E}, pair{"Adam v of E", p.Adam.VE[si], ae.V})
			}
			continue
		}
		off := 0
		for k, st := range ms.Stages {
			ow, oe := m.StageOptimizers(si, k)
			aw, ae := ow.(*optim.Adam), oe.(*optim.Adam)
			n := len(st.W)
			pairs = append(pairs,
				pair{fmt.Sprintf("synapse %d stage %d W", si, k+1), p.W[si][off : off+n], st.W},
				pair{fmt.Sprintf("synapse %d stage %d E", si, k+1), p.BlockE[si][off : off+n], st.E},
				pair{fmt.Sprintf("synapse %d stage %d Adam m of W", si, k+1), p.Adam.MW[si][off : off+n], aw.M},
				pair{fmt.Sprintf("synapse %d stage %d Adam v of E", si, k+1), p.Adam.VBlockE[si][off : off+n], ae.V})
			off += n
			if maxDiff(aw.M, make([]float32, n)) == 0 {
				t.Errorf("%s: synapse %d stage %d did not learn", what, si, k+1)
			}
		}
	}
	worst := 0.0
	for _, pr := range pairs {
		if len(pr.got) != len(pr.want) {
			t.Fatalf("%s: %s has %d values, want %d", what, pr.name, len(pr.got), len(pr.want))
		}
		d := maxDiff(pr.got, pr.want)
		if d > 1e-6 {
			t.Errorf("%s: %s differs by %g", what, pr.name, d)
		}
		worst = max(worst, d)
	}
	t.Logf("%s: parameters and Adam state within %g of batched", what, worst)
}

// TestResidualRefusedWhereNotRun: the asynchronous runtime and the
// sigma-delta encoding refuse a residual circuit with ErrBlocks.
func TestResidualRefusedWhereNotRun(t *testing.T) {
	c, err := FromModel(residualModel(t, graph.PathwayLRA, false, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), c, inproc(t), Async(AsyncConfig{})); !errors.Is(err, ErrBlocks) {
		t.Errorf("async start: %v, want ErrBlocks", err)
	}
	c.Encoding = neuron.Encoding{Scheme: neuron.SigmaDelta}
	if err := c.Validate(); !errors.Is(err, ErrBlocks) {
		t.Errorf("sigma-delta: %v, want ErrBlocks", err)
	}
}
