package circuit

import (
	"slices"
	"sync"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// messageConvs groups the convolutions of the asynchronous populations of
// one process (neuron.MessageConvSharer): the feedback of the state maps of
// a layer, which all read the error maps of the layer below, and the
// predictions of the error maps of a layer, which all read φ(z) of the
// layer above. Populations fire at their own times, each from the latest
// messages it holds. When one asks for messages no member of its group has
// asked for, the output of every member is computed from them in one
// convolution (tensor.MapConv with an output map per member: the messages
// are read once, not once per member); members that later hold the very
// same messages (the usual case: a layer's populations receive the same
// messages) copy their result. A result set is named by the identity of the
// message slices it was computed from, which the group keeps referenced, so
// an address cannot be reused for other data while its entry lives.
//
// Each group keeps its few most recent result sets; an evicted set's
// buffers are recycled once its last reader has released them, and the
// plans (with their scratch) are reused. A member changes its kernel only
// through Update, under the lock the products gather the kernels under, and
// Update drops the group's results.
type messageConvs struct {
	mu      sync.Mutex
	groups  map[msgKey]*msgGroup
	started bool // a product was computed: the groups are closed
}

// msgKey names a group: the populations of one role and layer whose
// synapse with layer other has the same geometry.
type msgKey struct {
	role         neuron.Role
	layer, other int
	spec         tensor.ConvSpec
}

// msgGroup is the members of one group hosted in this process.
type msgGroup struct {
	key     msgKey
	kernels [][]float32 // each member's live kernel
	plane   int         // floats of one member's output
	recent  []*msgResult
	free    [][][]float32 // result buffers free for reuse
	plans   []*groupPlan  // plans free for use
}

// groupPlan is one convolution of the whole group and the buffer its
// members' kernels are gathered into.
type groupPlan struct {
	mc     *tensor.MapConv
	kernel []float32
}

// msgResult is the output of every member from one set of messages. refs
// counts the group's own reference (while recent) and every reader that
// has not released it.
type msgResult struct {
	x    [][]float32
	once sync.Once
	out  [][]float32 // [member]
	refs int
}

// recentResults is how many result sets a group keeps.
const recentResults = 4

func newMessageConvs() *messageConvs {
	return &messageConvs{groups: map[msgKey]*msgGroup{}}
}

// sharedConv is one member's handle (neuron.SharedConv).
type sharedConv struct {
	c      *messageConvs
	g      *msgGroup
	member int
}

// Conv implements neuron.SharedConv.
func (h *sharedConv) Conv(x [][]float32, dst []float32) { h.c.conv(h.g, h.member, x, dst) }

// Update implements neuron.SharedConv.
func (h *sharedConv) Update(f func()) {
	c, g := h.c, h.g
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
	for _, r := range g.recent {
		g.releaseLocked(r)
	}
	g.recent = nil
}

// ShareMessageConv implements neuron.MessageConvSharer. Every population
// enrols while the session is built, before any product; one that comes
// later computes alone.
func (c *messageConvs) ShareMessageConv(ref neuron.Ref, other int, s tensor.ConvSpec, kernel []float32) neuron.SharedConv {
	state := ref.Role == neuron.StateRole
	if s.Validate() != nil || len(kernel) != s.KernelLen() || (state && s.OutC != 1) || (!state && s.InC != 1) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	k := msgKey{role: ref.Role, layer: ref.Layer, other: other, spec: s}
	g := c.groups[k]
	if g == nil {
		g = &msgGroup{key: k, plane: s.OutLen()}
		if !state {
			g.plane = s.InLen()
		}
		c.groups[k] = g
	}
	g.kernels = append(g.kernels, kernel)
	return &sharedConv{c: c, g: g, member: len(g.kernels) - 1}
}

// conv copies member's output from the messages x into dst, computing the
// whole group's first if no member has asked for x yet.
func (c *messageConvs) conv(g *msgGroup, member int, x [][]float32, dst []float32) {
	c.mu.Lock()
	c.started = true
	var r *msgResult
	for _, e := range g.recent {
		if sameMaps(e.x, x) {
			r = e
			break
		}
	}
	if r == nil {
		r = &msgResult{x: slices.Clone(x), refs: 1}
		if n := len(g.free); n > 0 {
			r.out, g.free = g.free[n-1], g.free[:n-1]
		} else {
			r.out = tensor.Maps(make([]float32, len(g.kernels)*g.plane), len(g.kernels))
		}
		g.recent = append([]*msgResult{r}, g.recent...)
		if len(g.recent) > recentResults {
			old := g.recent[recentResults]
			g.recent = g.recent[:recentResults]
			g.releaseLocked(old)
		}
	}
	r.refs++
	c.mu.Unlock()
	r.once.Do(func() { c.compute(g, r) })
	copy(dst, r.out[member])
	c.mu.Lock()
	g.releaseLocked(r)
	c.mu.Unlock()
}

// compute fills r.out with the output of every member from r.x, on a plan
// no other goroutine is using, with the kernels gathered under the lock
// Update holds.
func (c *messageConvs) compute(g *msgGroup, r *msgResult) {
	c.mu.Lock()
	p := g.planLocked()
	c.mu.Unlock()
	p.mc.Do(r.out, r.x, p.kernel)
	c.mu.Lock()
	g.plans = append(g.plans, p)
	c.mu.Unlock()
}

// planLocked takes a free plan (or makes one) and gathers every member's
// kernel into it. The session's mutex is held.
func (g *msgGroup) planLocked() *groupPlan {
	var p *groupPlan
	if n := len(g.plans); n > 0 {
		p, g.plans = g.plans[n-1], g.plans[:n-1]
	} else {
		s := g.key.spec
		m := len(g.kernels)
		transposed := g.key.role == neuron.ErrorRole
		if transposed {
			s.InC = m
		} else {
			s.OutC = m
		}
		mc, err := tensor.NewMapConv(s, transposed)
		if err != nil {
			// Every member's spec was validated when it enrolled, and the
			// group's differs only in its positive number of maps.
			panic("circuit: group convolution: " + err.Error())
		}
		p = &groupPlan{mc: mc, kernel: make([]float32, s.KernelLen())}
	}
	s, m := g.key.spec, len(g.kernels)
	if g.key.role == neuron.StateRole {
		// [member][InC][K][K]: the members' kernels one after the other.
		kc := s.KernelLen()
		for i, k := range g.kernels {
			copy(p.kernel[i*kc:(i+1)*kc], k)
		}
		return p
	}
	// [OutC][member][K][K] from every member's [OutC][1][K][K].
	kk := s.K * s.K
	for i, k := range g.kernels {
		for o := 0; o < s.OutC; o++ {
			copy(p.kernel[(o*m+i)*kk:(o*m+i+1)*kk], k[o*kk:(o+1)*kk])
		}
	}
	return p
}

// releaseLocked drops one reference to r, recycling its buffers with the
// last one. The session's mutex is held.
func (g *msgGroup) releaseLocked(r *msgResult) {
	r.refs--
	if r.refs == 0 {
		g.free = append(g.free, r.out)
		r.out, r.x = nil, nil
	}
}

// sameMaps reports whether a and b are the very same map slices.
func sameMaps(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || (len(a[i]) > 0 && &a[i][0] != &b[i][0]) {
			return false
		}
	}
	return true
}
