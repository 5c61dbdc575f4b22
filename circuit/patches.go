package circuit

import (
	"sync"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// patchCache shares work among the state maps of one process in the
// synchronous dataflow:
//
//   - the im2col patches of a layer's error maps (every map of the layer
//     above reads every error map below, so without sharing each would
//     gather the same patches), and
//   - the feedback products themselves (neuron.FeedbackSharer): the state
//     maps of one layer hosted here are computed in one matrix product over
//     those patches, each map's kernels read where the map keeps them.
//     Without it every map runs its own matrix–vector product, which reads
//     the whole patch matrix once per map and is bound by memory bandwidth.
//
// In the synchronous dataflow no state map can reach step t+1 while another
// still reads step t's patches or feedback: the errors of step t+1 need
// every upper map's φ(z) of step t+1, which a map sends only after its
// correction of step t. Two buffers per layer, alternating by step, are
// therefore more than enough for the patches; each map's feedback result
// lives in the map's own buffer.
type patchCache struct {
	mu      sync.Mutex
	layers  map[tensor.ConvSpec]*[2]patchEntry
	shared  map[feedbackKey]*feedbackGroup
	started bool // a step was computed: the groups are closed
}

type patchEntry struct {
	once        *sync.Once
	batch, step int
	cols        []float32
}

// feedbackKey names a group of state maps whose feedback is one product:
// same upper and lower layer, same geometry.
type feedbackKey struct {
	upper, lower int
	spec         tensor.ConvSpec
}

// feedbackGroup is the state maps of one layer hosted in this process that
// read the same errors below.
type feedbackGroup struct {
	key     feedbackKey
	kernels [][]float32 // each map's live kernels E[i·]
	dsts    [][]float32 // each map's own result buffer
	steps   [2]patchEntry
}

func newPatchCache() *patchCache {
	return &patchCache{layers: map[tensor.ConvSpec]*[2]patchEntry{}, shared: map[feedbackKey]*feedbackGroup{}}
}

// Patches implements neuron.PatchSource. Patches are keyed by the spec as
// well as the layer, so synapses of different geometry onto one layer do
// not share a matrix.
func (c *patchCache) Patches(lower, batch, step int, x [][]float32, s tensor.ConvSpec, _ []float32) []float32 {
	s.OutC = 1 // the patches do not depend on the number of output maps
	c.mu.Lock()
	ents := c.layers[s]
	if ents == nil {
		ents = new([2]patchEntry)
		c.layers[s] = ents
	}
	e := &ents[step&1]
	if e.once == nil || e.batch != batch || e.step != step {
		if cap(e.cols) < s.ColsLen() {
			e.cols = make([]float32, s.ColsLen())
		}
		e.cols = e.cols[:s.ColsLen()]
		e.once, e.batch, e.step = new(sync.Once), batch, step
	}
	once, cols := e.once, e.cols
	c.mu.Unlock()
	once.Do(func() { tensor.Im2ColMaps(cols, x, s) })
	return cols
}

// ShareFeedback implements neuron.FeedbackSharer. Every state map enrols
// while the session is built, before any step runs; a map that comes later
// computes alone.
func (c *patchCache) ShareFeedback(ref neuron.Ref, lower int, s tensor.ConvSpec, kernel, dst []float32) func(batch, step int, x [][]float32) {
	if s.OutC != 1 || len(kernel) != s.KernelLen() || len(dst) != s.Batch*s.OutH*s.OutW {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	k := feedbackKey{upper: ref.Layer, lower: lower, spec: s}
	g := c.shared[k]
	if g == nil {
		g = &feedbackGroup{key: k}
		c.shared[k] = g
	}
	g.kernels = append(g.kernels, kernel)
	g.dsts = append(g.dsts, dst)
	return func(batch, step int, x [][]float32) { c.feedback(g, batch, step, x) }
}

// feedback computes the feedback of every map of g at (batch, step) once,
// on the goroutine of the first map that asks, and makes the others wait
// for it.
func (c *patchCache) feedback(g *feedbackGroup, batch, step int, x [][]float32) {
	c.mu.Lock()
	c.started = true
	e := &g.steps[step&1]
	if e.once == nil || e.batch != batch || e.step != step {
		e.once, e.batch, e.step = new(sync.Once), batch, step
	}
	once := e.once
	c.mu.Unlock()
	once.Do(func() {
		s := g.key.spec
		cols := c.Patches(g.key.lower, batch, step, x, s, nil)
		s.OutC = len(g.kernels)
		tensor.ConvColsKernels(g.dsts, cols, g.kernels, s)
	})
}
