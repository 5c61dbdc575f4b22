package circuit

import (
	"slices"
	"sync"

	"github.com/convngc/convngc/ngc/tensor"
)

// messagePatches shares im2col patch matrices among the asynchronous state
// maps of one process (neuron.MessagePatchSource). The maps of a layer
// correct at their own times, each from the latest error messages it holds;
// when several hold the very same messages (the usual case: error maps fire
// far less often than their readers correct), the first to ask gathers the
// patches and the others reuse them. A matrix is named by the identity of
// the message slices it was gathered from, which the cache keeps referenced,
// so an address cannot be reused for other data while its entry lives.
//
// Each spec keeps its few most recent matrices. An evicted matrix's buffer
// is recycled once its last reader has released it.
type messagePatches struct {
	mu     sync.Mutex
	bySpec map[tensor.ConvSpec]*patchSet
}

// patchSet is the recent matrices of one spec, most recent first, and the
// buffers free for reuse.
type patchSet struct {
	recent []*patchMatrix
	free   [][]float32
}

// patchMatrix is one gathered matrix. refs counts the cache's own
// reference (while recent) and every reader that has not released it.
type patchMatrix struct {
	x    [][]float32
	once sync.Once
	cols []float32
	refs int
}

// recentPatches is how many matrices a spec keeps.
const recentPatches = 4

func newMessagePatches() *messagePatches {
	return &messagePatches{bySpec: map[tensor.ConvSpec]*patchSet{}}
}

// MessagePatches implements neuron.MessagePatchSource.
func (c *messagePatches) MessagePatches(x [][]float32, s tensor.ConvSpec) ([]float32, func()) {
	s.OutC = 1 // the patches do not depend on the number of output maps
	c.mu.Lock()
	set := c.bySpec[s]
	if set == nil {
		set = &patchSet{}
		c.bySpec[s] = set
	}
	var m *patchMatrix
	for _, r := range set.recent {
		if sameMaps(r.x, x) {
			m = r
			break
		}
	}
	if m == nil {
		m = &patchMatrix{x: slices.Clone(x), refs: 1}
		if n := len(set.free); n > 0 {
			m.cols, set.free = set.free[n-1], set.free[:n-1]
		} else {
			m.cols = make([]float32, s.ColsLen())
		}
		set.recent = append([]*patchMatrix{m}, set.recent...)
		if len(set.recent) > recentPatches {
			old := set.recent[recentPatches]
			set.recent = set.recent[:recentPatches]
			c.releaseLocked(set, old)
		}
	}
	m.refs++
	c.mu.Unlock()
	m.once.Do(func() { tensor.Im2ColMaps(m.cols, x, s) })
	var released bool
	return m.cols, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !released {
			released = true
			c.releaseLocked(set, m)
		}
	}
}

// releaseLocked drops one reference to m, recycling its buffer with the
// last one. c.mu is held.
func (c *messagePatches) releaseLocked(set *patchSet, m *patchMatrix) {
	m.refs--
	if m.refs == 0 {
		set.free = append(set.free, m.cols)
		m.cols, m.x = nil, nil
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
