package circuit

import (
	"sync"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// patchCache shares work among the populations of one process in the
// synchronous dataflow, where every population of a layer reads, at a
// given (batch, step), the same values:
//
//   - the feedback of the state maps of a layer (neuron.FeedbackSharer):
//     they all read the error maps below, and the maps hosted here are
//     computed in one convolution with an output map per member
//     (tensor.MapConv, the batched engine's micro-kernels, tiles shared
//     between the cores), each map's kernels gathered from where the map
//     keeps them and its result written into the map's own buffer;
//   - the predictions of the error maps of a layer (neuron.PredictionSharer):
//     they all read φ(z) of the layer above, and one transposed convolution
//     computes every member's prediction, which each member copies out;
//   - the im2col patches of a layer's error maps (neuron.PatchSource), for
//     a state map whose feedback no group computes.
//
// In the synchronous dataflow no state map can reach step t+1 while another
// still reads step t's feedback: the errors of step t+1 need every upper
// map's φ(z) of step t+1, which a map sends only after its correction of
// step t. A prediction result set is recycled only once every member has
// copied its part, so it does not rest on that argument.
type patchCache struct {
	mu      sync.Mutex
	layers  map[tensor.ConvSpec]*[2]patchEntry
	shared  map[feedbackKey]*feedbackGroup
	preds   map[feedbackKey]*predGroup
	started bool // a step was computed: the groups are closed
}

type patchEntry struct {
	once        *sync.Once
	batch, step int
	cols        []float32
}

// feedbackKey names a group of populations whose products are one: same
// upper and lower layer, same geometry.
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
	conv    groupConv
}

// predGroup is the error maps of one layer hosted in this process that
// read the same φ(z) above.
type predGroup struct {
	key     feedbackKey
	kernels [][]float32 // each map's live kernels W[·j]
	plane   int         // floats of one member's prediction
	results []*predResult
	conv    groupConv
}

// predResult is every member's prediction at one (batch, step). left
// counts the members that have not copied theirs; a result with none left
// is free for another step.
type predResult struct {
	batch, step int
	once        *sync.Once
	out         [][]float32 // [member]
	left        int
}

// groupConv is the convolution of a whole group: a MapConv with one output
// map per member, planned on first use (when the group is closed), and the
// buffer the members' kernels are gathered into. Its mutex keeps two
// products of one group from sharing the plan.
type groupConv struct {
	mu     sync.Mutex
	mc     *tensor.MapConv
	kernel []float32
}

func newPatchCache() *patchCache {
	return &patchCache{layers: map[tensor.ConvSpec]*[2]patchEntry{},
		shared: map[feedbackKey]*feedbackGroup{}, preds: map[feedbackKey]*predGroup{}}
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
	if s.Validate() != nil || s.OutC != 1 || len(kernel) != s.KernelLen() || len(dst) != s.OutLen() {
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
	once.Do(func() { g.conv.do(g.key.spec, false, g.kernels, g.dsts, x) })
}

// SharePrediction implements neuron.PredictionSharer. Every error map
// enrols while the session is built, before any step runs; a map that
// comes later computes alone.
func (c *patchCache) SharePrediction(ref neuron.Ref, upper int, s tensor.ConvSpec, kernel []float32) func(batch, step int, x [][]float32, dst []float32) {
	if s.Validate() != nil || s.InC != 1 || len(kernel) != s.KernelLen() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	k := feedbackKey{upper: upper, lower: ref.Layer, spec: s}
	g := c.preds[k]
	if g == nil {
		g = &predGroup{key: k, plane: s.InLen()}
		c.preds[k] = g
	}
	g.kernels = append(g.kernels, kernel)
	member := len(g.kernels) - 1
	return func(batch, step int, x [][]float32, dst []float32) { c.predict(g, member, batch, step, x, dst) }
}

// predict copies member's prediction at (batch, step) into dst, computing
// every member's from x first if no member has asked for that step yet.
func (c *patchCache) predict(g *predGroup, member, batch, step int, x [][]float32, dst []float32) {
	c.mu.Lock()
	c.started = true
	var r, free *predResult
	for _, e := range g.results {
		if e.left > 0 && e.batch == batch && e.step == step {
			r = e
			break
		}
		if e.left == 0 && free == nil {
			free = e
		}
	}
	if r == nil {
		r = free
		if r == nil {
			r = &predResult{out: tensor.Maps(make([]float32, len(g.kernels)*g.plane), len(g.kernels))}
			g.results = append(g.results, r)
		}
		r.batch, r.step, r.once, r.left = batch, step, new(sync.Once), len(g.kernels)
	}
	once := r.once
	c.mu.Unlock()
	once.Do(func() { g.conv.do(g.key.spec, true, g.kernels, r.out, x) })
	copy(dst, r.out[member])
	c.mu.Lock()
	r.left--
	c.mu.Unlock()
}

// do computes the group's product y from x: the feedback (Conv, y one map
// per member) or the predictions (ConvT, transposed, y one map per member)
// with every member's live kernels, gathered now.
func (gc *groupConv) do(s tensor.ConvSpec, transposed bool, kernels, y, x [][]float32) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	m := len(kernels)
	if gc.mc == nil {
		gs := s
		if transposed {
			gs.InC = m
		} else {
			gs.OutC = m
		}
		mc, err := tensor.NewMapConv(gs, transposed)
		if err != nil {
			// Every member's spec was validated when it enrolled, and the
			// group's differs only in its positive number of maps.
			panic("circuit: group convolution: " + err.Error())
		}
		mc.SetWorkers(2)
		gc.mc, gc.kernel = mc, make([]float32, mc.Spec().KernelLen())
	}
	if !transposed {
		// [member][InC][K][K]: the members' kernels one after the other.
		kc := s.KernelLen()
		for i, k := range kernels {
			copy(gc.kernel[i*kc:(i+1)*kc], k)
		}
	} else {
		// [OutC][member][K][K] from every member's [OutC][1][K][K].
		kk := s.K * s.K
		for i, k := range kernels {
			for o := 0; o < s.OutC; o++ {
				copy(gc.kernel[(o*m+i)*kk:(o*m+i+1)*kk], k[o*kk:(o+1)*kk])
			}
		}
	}
	gc.mc.Do(y, x, gc.kernel)
}
