package circuit

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/tensor"
)

// TestReceiversAgreeWithSubscriptions: for every population, every kind and
// every sender, Receivers says a message arrives exactly when one of the
// subject patterns the session subscribes the population to matches the
// message's subject — on the Conv-NGC stack and on a graph with a skip
// synapse, for both tasks, with and without (tied and untied) learning.
func TestReceiversAgreeWithSubscriptions(t *testing.T) {
	skip := &Graph{
		Layers: []Layer{{Maps: 3, Size: 16, Image: true}, {Maps: 4, Size: 8}, {Maps: 2, Size: 4}},
		Synapses: []Synapse{{From: 1, To: 0, Kernel: 3, Stride: 2}, {From: 2, To: 1, Kernel: 3, Stride: 2},
			{From: 2, To: 0, Kernel: 5, Stride: 4}},
	}
	var circuits []*Circuit
	for _, untied := range []bool{false, true} {
		c, err := FromModel(smallModel(t, func(c *ngc.Config) { c.Untied = untied }))
		if err != nil {
			t.Fatal(err)
		}
		circuits = append(circuits, c)
		cs, err := New(skip, ngc.Config{Channels: []int{2, 4, 3}, ImageSize: 16, Untied: untied})
		if err != nil {
			t.Fatal(err)
		}
		circuits = append(circuits, cs)
	}
	kinds := []neuron.Kind{neuron.KindState, neuron.KindPhi, neuron.KindError, neuron.KindPred, neuron.KindWeights,
		neuron.KindClamp, neuron.KindInit, neuron.KindOutput, neuron.KindProbe, neuron.KindDone}
	for ci, c := range circuits {
		for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
			for _, learn := range []bool{false, true} {
				if learn && task == ngc.Denoise {
					continue
				}
				s := &Session{c: c, o: options{run: "sim", task: task, learn: learn}}
				subs := map[neuron.Ref][]string{}
				all := Populations(c.Graph)
				for _, to := range all {
					subs[to] = s.inputsOf(to)
				}
				for _, k := range kinds {
					for _, from := range all {
						subject := subjectOf("sim", k, from)
						var want []neuron.Ref
						for _, to := range all {
							if slices.ContainsFunc(subs[to], func(p string) bool { return bus.Match(p, subject) }) {
								want = append(want, to)
							}
						}
						if got := c.Receivers(k, from, task, learn); !slices.Equal(got, want) {
							t.Errorf("circuit %d %v learn=%v: %v from %v reaches %v, subscriptions say %v", ci, task, learn, k, from, got, want)
						}
					}
				}
			}
		}
	}
}

// TestPopulationsDrivenDirectly: the populations, the routing and the start
// messages, driven by a plain first-in-first-out loop instead of a bus and a
// coordinator, reproduce the batched reference (float32 round-off).
func TestPopulationsDrivenDirectly(t *testing.T) {
	for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
		m := smallModel(t, nil)
		c, err := FromModel(m)
		if err != nil {
			t.Fatal(err)
		}
		const B = 4
		x := images(B, 16, 2)
		ws, _ := m.NewWorkspace(B)
		if err := m.Infer(ws, x, task, rand.New(rand.NewPCG(7, 1)), nil); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(x))
		ws.Output(want)

		_, pops, err := c.Populations(B, task, false)
		if err != nil {
			t.Fatal(err)
		}
		queue, err := c.StartMessages(x, B, 0, rand.New(rand.NewPCG(7, 1)))
		if err != nil {
			t.Fatal(err)
		}
		type delivery struct {
			to neuron.Ref
			m  neuron.Msg
		}
		var q []delivery
		for _, m := range queue {
			q = append(q, delivery{m.From, m})
		}
		out := make([]float32, len(x))
		plane := 16 * 16
		emit := func(m neuron.Msg) error {
			if m.Kind == neuron.KindOutput {
				copy(out[m.From.Index*B*plane:], m.Data)
			}
			for _, to := range c.Receivers(m.Kind, m.From, task, false) {
				q = append(q, delivery{to, neuron.Msg{Kind: m.Kind, From: m.From, Batch: m.Batch, Step: m.Step, Data: slices.Clone(m.Data)}})
			}
			return nil
		}
		for len(q) > 0 {
			d := q[0]
			q = q[1:]
			if err := pops[d.to].Handle(d.m, emit); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]float32, len(x))
		tensor.FromMapMajor(got, out, B, 3, plane)
		if d := maxDiff(got, want); d > 1e-5 {
			t.Errorf("%v: driven populations differ from batched by %g", task, d)
		}
	}
	if _, _, err := (&Circuit{Graph: &Graph{}}).Populations(1, ngc.Reconstruct, false); err == nil {
		t.Error("an empty circuit built populations")
	}
}
