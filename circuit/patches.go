package circuit

import (
	"sync"

	"github.com/convngc/convngc/ngc/tensor"
)

// patchCache shares the im2col patches of a layer's error maps among the
// state maps of one process that read them (every map of the layer above
// reads every error map below, so without sharing each would gather the
// same patches). In the synchronous dataflow no state map can reach step
// t+2 while another still reads step t's errors (it needs errors of step
// t+1, which need every upper map's step t+1 state), so two buffers per
// layer, alternating by step, are enough.
type patchCache struct {
	mu     sync.Mutex
	layers map[int]*[2]patchEntry
}

type patchEntry struct {
	once         *sync.Once
	batch, step  int
	cols         []float32
	specInC, len int
}

func newPatchCache() *patchCache { return &patchCache{layers: map[int]*[2]patchEntry{}} }

// Patches implements neuron.PatchSource.
func (c *patchCache) Patches(lower, batch, step int, x [][]float32, s tensor.ConvSpec, scratch []float32) []float32 {
	c.mu.Lock()
	ents := c.layers[lower]
	if ents == nil {
		ents = new([2]patchEntry)
		c.layers[lower] = ents
	}
	e := &ents[step&1]
	if e.once == nil || e.batch != batch || e.step != step || e.len != s.ColsLen() {
		if cap(e.cols) < s.ColsLen() {
			e.cols = make([]float32, s.ColsLen())
		}
		e.cols = e.cols[:s.ColsLen()]
		e.once, e.batch, e.step, e.len = new(sync.Once), batch, step, s.ColsLen()
	}
	once, cols := e.once, e.cols
	c.mu.Unlock()
	once.Do(func() { tensor.Im2ColMaps(cols, x, s) })
	return cols
}
