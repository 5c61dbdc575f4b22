package circuit

import (
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/tensor"
)

// What another driver of the populations needs (hwsim's virtual clock, a
// test harness): the populations as the runners build them, the routing the
// runners' subscriptions implement, and the coordinator's start messages.
// The driver then plays the bus and the coordinator itself.

// Population is one population as the runners build it: a
// *neuron.StatePop or a *neuron.ErrorPop, driven by its synchronous
// dataflow (Handle) or wrapped by neuron.NewAsyncStatePop /
// neuron.NewAsyncErrorPop.
type Population interface {
	Ref() neuron.Ref
	Handle(m neuron.Msg, emit neuron.Emit) error
}

// Populations builds every population of the circuit for mini-batches of
// batch images, as a session's runners build them: the same settings, each
// population with its own copy of the kernels it holds. It returns the
// populations in Graph.Populations order (state maps layer by layer, then
// error maps) and by name. learn needs the reconstruction task.
func (c *Circuit) Populations(batch int, task ngc.Task, learn bool) ([]neuron.Ref, map[neuron.Ref]Population, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if batch < 1 {
		return nil, nil, fmt.Errorf("circuit: mini-batch of %d images", batch)
	}
	if learn && task != ngc.Reconstruct {
		return nil, nil, fmt.Errorf("circuit: learning runs the reconstruction task")
	}
	set, err := c.settings(batch, task == ngc.Denoise, learn)
	if err != nil {
		return nil, nil, err
	}
	refs := Populations(c.Graph)
	pops := make(map[neuron.Ref]Population, len(refs))
	for _, ref := range refs {
		p, err := c.population(ref, set)
		if err != nil {
			return nil, nil, err
		}
		pops[ref] = p
	}
	return refs, pops, nil
}

// Receivers lists, in Graph.Populations order, the populations that a
// message of kind k published by population from reaches under the given
// task and learning choice: the routing a session's subscriptions implement
// (every population listens to the subjects of its inputs). The
// coordinator's start messages (KindClamp, KindInit) name the state map they
// are for as from. Messages for the coordinator (KindOutput, KindProbe,
// KindDone) reach no population: the result is empty.
func (c *Circuit) Receivers(k neuron.Kind, from neuron.Ref, task ngc.Task, learn bool) []neuron.Ref {
	g := c.Graph
	switch {
	case from.Role == neuron.BlockRole:
		if !validBlockRef(g, from) {
			return nil
		}
	case from.Layer < 0 || from.Layer >= len(g.Layers) || from.Index < 0 || from.Index >= g.Layers[from.Layer].Maps:
		return nil
	}
	var out []neuron.Ref
	for _, to := range Populations(g) {
		if c.listens(to, k, from, task, learn) {
			out = append(out, to)
		}
	}
	return out
}

// listens reports whether population to subscribes to the subject of a
// message of kind k from population from (see Session.inputsOf).
func (c *Circuit) listens(to neuron.Ref, k neuron.Kind, from neuron.Ref, task ngc.Task, learn bool) bool {
	if yes, handled := c.blockListens(to, k, from); handled {
		return yes
	}
	g := c.Graph
	l := to.Layer
	same := from.Layer == to.Layer && from.Index == to.Index
	if to.Role == neuron.ErrorRole {
		switch k {
		case neuron.KindPhi:
			for _, si := range g.Above(l) {
				if g.Synapses[si].From == from.Layer {
					return true
				}
			}
		case neuron.KindState:
			return same
		}
		return false
	}
	switch k {
	case neuron.KindClamp:
		return same && g.Layers[l].Image
	case neuron.KindInit:
		return same && !g.Layers[l].Image && g.Top(l)
	case neuron.KindPred:
		return same && !g.Layers[l].Image && !g.Top(l)
	case neuron.KindError, neuron.KindWeights:
		if k == neuron.KindError && same && !g.Top(l) && (!g.Layers[l].Image || task == ngc.Denoise) {
			return true
		}
		if k == neuron.KindWeights && !(learn && c.tied()) {
			return false
		}
		for _, si := range g.Below(l) {
			if g.Synapses[si].To == from.Layer {
				return true
			}
		}
	}
	return false
}

// StartMessages returns what the coordinator publishes to start mini-batch
// number batch on x (image-major [B][C][H][W], values in [0,1]): the initial
// value of every top state map (KindInit, drawn from rng layer by layer and
// map by map, N(μ_z, σ_z²) per value) and every image map's input
// (KindClamp), each addressed by the state map it is for (Msg.From), in the
// order a session publishes them. With rng = rand.New(rand.NewPCG(s, 1)) the
// draws are those of a session started with TopSeed(s) and of the batched
// reference's Infer with that generator.
func (c *Circuit) StartMessages(x []float32, B, batch int, rng *rand.Rand) ([]neuron.Msg, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	g := c.Graph
	img := -1
	for l, ly := range g.Layers {
		if ly.Image {
			if img >= 0 {
				return nil, fmt.Errorf("circuit: the coordinator feeds one image layer, the graph has several")
			}
			img = l
		}
	}
	if B < 1 || batch < 0 || rng == nil {
		return nil, fmt.Errorf("circuit: start messages need B ≥ 1 (got %d), a batch number ≥ 0 (got %d) and a generator", B, batch)
	}
	iy := g.Layers[img]
	plane := iy.Size * iy.Size
	if len(x) != B*iy.Maps*plane {
		return nil, fmt.Errorf("circuit: batch has %d floats, want %d (%d images of %d×%d×%d)", len(x), B*iy.Maps*plane, B, iy.Maps, iy.Size, iy.Size)
	}
	rc, err := c.Config.Resolve()
	if err != nil {
		return nil, err
	}
	mu, sd := *rc.TopMean, *rc.TopStd
	var out []neuron.Msg
	for l, ly := range g.Layers {
		if !g.Top(l) || ly.Image {
			continue
		}
		n := B * ly.Size * ly.Size
		for i := 0; i < ly.Maps; i++ {
			z := make([]float32, n)
			for k := range z {
				if sd == 0 {
					z[k] = float32(mu)
				} else {
					z[k] = float32(mu + sd*rng.NormFloat64())
				}
			}
			out = append(out, neuron.Msg{Kind: neuron.KindInit, From: neuron.Ref{Role: neuron.StateRole, Layer: l, Index: i}, Batch: batch, Data: z})
		}
	}
	mm := make([]float32, len(x))
	tensor.ToMapMajor(mm, x, B, iy.Maps, plane)
	for ch := 0; ch < iy.Maps; ch++ {
		out = append(out, neuron.Msg{Kind: neuron.KindClamp, From: neuron.Ref{Role: neuron.StateRole, Layer: img, Index: ch}, Batch: batch,
			Data: mm[ch*B*plane : (ch+1)*B*plane]})
	}
	return out, nil
}
