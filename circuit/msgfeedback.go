package circuit

import (
	"slices"
	"sync"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// messageFeedback groups the feedback of the asynchronous state maps of
// one process (neuron.MessageFeedbackSharer). The maps of a layer correct
// at their own times, each from the latest error messages it holds. When a
// map asks for the feedback of messages no map of its group has asked for,
// the feedback of every map of the group is computed from them in one
// convolution (tensor.MapConv with an output map per member: the messages
// are read once, not once per map); maps that later hold the very same
// messages (the usual case: error maps fire less often than their readers
// correct) copy their result. A result set is named by the identity of the
// message slices it was computed from, which the group keeps referenced, so
// an address cannot be reused for other data while its entry lives.
//
// Each group keeps its few most recent result sets; an evicted set's
// buffers are recycled once its last reader has released them, and the
// plans (with their scratch) are reused, so a window in the steady state
// allocates only the entries' small bookkeeping.
type messageFeedback struct {
	mu      sync.Mutex
	groups  map[feedbackKey]*msgGroup
	started bool // a feedback was computed: the groups are closed
}

// msgGroup is the state maps of one layer hosted in this process whose
// feedback reads the same errors below.
type msgGroup struct {
	key     feedbackKey
	kernels [][]float32 // each member's live kernels E[i·]
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

// msgResult is the feedback of every member from one set of messages.
// refs counts the group's own reference (while recent) and every reader
// that has not released it.
type msgResult struct {
	x    [][]float32
	once sync.Once
	out  [][]float32 // [member]: Batch·OutH·OutW floats
	refs int
}

// recentResults is how many result sets a group keeps.
const recentResults = 4

func newMessageFeedback() *messageFeedback {
	return &messageFeedback{groups: map[feedbackKey]*msgGroup{}}
}

// ShareMessageFeedback implements neuron.MessageFeedbackSharer. Every state
// map enrols while the session is built, before any map corrects; a map
// that comes later computes alone.
func (c *messageFeedback) ShareMessageFeedback(ref neuron.Ref, lower int, s tensor.ConvSpec, kernel []float32) func(x [][]float32, dst []float32) {
	if s.Validate() != nil || s.OutC != 1 || len(kernel) != s.KernelLen() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	k := feedbackKey{upper: ref.Layer, lower: lower, spec: s}
	g := c.groups[k]
	if g == nil {
		g = &msgGroup{key: k}
		c.groups[k] = g
	}
	member := len(g.kernels)
	g.kernels = append(g.kernels, kernel)
	return func(x [][]float32, dst []float32) { c.feedback(g, member, x, dst) }
}

// feedback copies member's feedback from the messages x into dst,
// computing the whole group's first if no member has asked for x yet.
func (c *messageFeedback) feedback(g *msgGroup, member int, x [][]float32, dst []float32) {
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
			s := g.key.spec
			r.out = tensor.Maps(make([]float32, len(g.kernels)*s.OutLen()), len(g.kernels))
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

// compute fills r.out with the feedback of every member from r.x, on a
// plan no other goroutine is using.
func (c *messageFeedback) compute(g *msgGroup, r *msgResult) {
	c.mu.Lock()
	var p *groupPlan
	if n := len(g.plans); n > 0 {
		p, g.plans = g.plans[n-1], g.plans[:n-1]
	}
	c.mu.Unlock()
	if p == nil {
		s := g.key.spec
		s.OutC = len(g.kernels)
		mc, err := tensor.NewMapConv(s, false)
		if err != nil {
			// Every member's spec was validated when it enrolled, and the
			// group's differs only in its positive number of maps.
			panic("circuit: group feedback: " + err.Error())
		}
		p = &groupPlan{mc: mc, kernel: make([]float32, s.KernelLen())}
	}
	kc := len(g.kernels[0])
	for i, k := range g.kernels {
		copy(p.kernel[i*kc:(i+1)*kc], k)
	}
	p.mc.Do(r.out, r.x, p.kernel)
	c.mu.Lock()
	g.plans = append(g.plans, p)
	c.mu.Unlock()
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
