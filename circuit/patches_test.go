package circuit

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// TestSharedFeedbackSplitPlacement: with the state maps of each layer split
// between two nodes in one process (each session shares the feedback of the
// maps it hosts only), training batches still leave the batched reference's
// weights, tied and untied, and the outputs agree.
func TestSharedFeedbackSplitPlacement(t *testing.T) {
	for _, untied := range []bool{false, true} {
		m := smallModel(t, func(c *ngc.Config) { c.Untied = untied })
		c, err := FromModel(m)
		if err != nil {
			t.Fatal(err)
		}
		p := &Placement{Nodes: map[string][]string{
			"a": {"z.0.*", "e.*.*", "z.1.0", "z.1.2", "z.2.1", "z.3.0"},
			"b": {"z.1.1", "z.1.3", "z.2.0", "z.2.2", "z.2.3", "z.2.4", "z.3.1", "z.3.2"},
		}}
		const B = 4
		b := inproc(t)
		w, err := Start(context.Background(), c, b, Batch(B), Placed(p, "b"), Worker(), Learn(), TopSeed(13))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		s, err := Start(context.Background(), c, b, Batch(B), Placed(p, "a"), Learn(), TopSeed(13))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ws, _ := m.NewWorkspace(B)
		rng := rand.New(rand.NewPCG(13, 1))
		for batch := 0; batch < 3; batch++ {
			x := images(B, 16, uint64(batch+20))
			if err := m.TrainBatch(ws, x, rng, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RunBatch(context.Background(), x); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Params(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for si, syn := range c.Graph.Synapses {
			ms := m.Synapses(syn.From)
			if d := maxDiff(got.W[si], ms.W); d > 1e-6 {
				t.Errorf("untied=%v synapse %d: W differs by %g", untied, si, d)
			}
			if untied {
				if d := maxDiff(got.E[si], ms.E); d > 1e-6 {
					t.Errorf("synapse %d: E differs by %g", si, d)
				}
			}
		}
	}
}

// TestSharedFeedbackSkipSynapse: on a circuit where one layer predicts two
// layers below (a skip synapse of another geometry onto the image layer),
// a session, whose state maps share patches and feedback products per
// synapse, gives the outputs of the same populations driven one message at
// a time with nothing shared.
func TestSharedFeedbackSkipSynapse(t *testing.T) {
	g := &Graph{
		Layers: []Layer{{Maps: 3, Size: 16, Image: true}, {Maps: 4, Size: 8}, {Maps: 2, Size: 4}},
		Synapses: []Synapse{{From: 1, To: 0, Kernel: 3, Stride: 2}, {From: 2, To: 1, Kernel: 3, Stride: 2},
			{From: 2, To: 0, Kernel: 5, Stride: 4}},
	}
	c, err := New(g, ngc.Config{Channels: []int{2, 4, 3}, ImageSize: 16, Steps: 6, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	const B = 3
	x := images(B, 16, 4)
	// Direct drive: populations built without a shared patch source.
	_, pops, err := c.Populations(B, ngc.Reconstruct, false)
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.StartMessages(x, B, 0, rand.New(rand.NewPCG(5, 1)))
	if err != nil {
		t.Fatal(err)
	}
	type delivery struct {
		to neuron.Ref
		m  neuron.Msg
	}
	var queue []delivery
	for _, m := range q {
		queue = append(queue, delivery{m.From, m})
	}
	plane := 16 * 16
	want := make([]float32, len(x))
	emit := func(m neuron.Msg) error {
		if m.Kind == neuron.KindOutput {
			copy(want[m.From.Index*B*plane:], m.Data)
		}
		for _, to := range c.Receivers(m.Kind, m.From, ngc.Reconstruct, false) {
			queue = append(queue, delivery{to, neuron.Msg{Kind: m.Kind, From: m.From, Batch: m.Batch, Step: m.Step, Data: slices.Clone(m.Data)}})
		}
		return nil
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if err := pops[d.to].Handle(d.m, emit); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Start(context.Background(), c, inproc(t), Batch(B), TopSeed(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	mm := make([]float32, len(x))
	copy(mm, want)
	wantImg := make([]float32, len(x))
	for b := 0; b < B; b++ { // map-major → image-major
		for ch := 0; ch < 3; ch++ {
			copy(wantImg[(b*3+ch)*plane:(b*3+ch+1)*plane], mm[(ch*B+b)*plane:(ch*B+b+1)*plane])
		}
	}
	if d := maxDiff(res.Output, wantImg); d > 1e-5 {
		t.Errorf("shared session differs from unshared populations by %g", d)
	}
}
