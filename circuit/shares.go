package circuit

import (
	"fmt"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/optim"
)

// share is one contiguous run of a whole-layer parameter tensor that one
// population holds: values [at, at+n) of W[index] or E[index] (kernels of
// synapse index) or of Bias[index] (biases of layer index). The runtime
// hands a population its shares when it starts and gathers them back
// (Session.Params) in the same order: both directions and the optimiser's
// moments use this one mapping.
type share struct {
	kind     shareKind
	index    int
	at, n    int
	dendrite int // the dendrite or feedback synapse (in the population's order) it belongs to; −1 for a bias
}

type shareKind int

const (
	shareW    shareKind = iota // W[·j] of an error map
	shareE                     // E[i·] of a state map (W[i·] when tied)
	shareBias                  // b_j of an error map
)

// of returns the whole-layer tensor sh is a run of. A tied state map's
// feedback kernels are its copy of W.
func (sh share) of(p *Params) []float32 {
	switch {
	case sh.kind == shareBias:
		return p.Bias[sh.index]
	case sh.kind == shareE && p.E != nil:
		return p.E[sh.index]
	default:
		return p.W[sh.index]
	}
}

// moments returns the Adam moments laid out like sh.of.
func (sh share) moments(a *AdamState) (m, v []float32) {
	switch sh.kind {
	case shareBias:
		return a.MBias[sh.index], a.VBias[sh.index]
	case shareE:
		return a.ME[sh.index], a.VE[sh.index]
	default:
		return a.MW[sh.index], a.VW[sh.index]
	}
}

// shares lists the runs population ref holds, in the order it holds them:
// an error map's kernels W[·j] dendrite by dendrite (one run per upper map)
// and then its bias; a state map's feedback kernels E[i·] synapse by
// synapse.
func (c *Circuit) shares(ref neuron.Ref) []share {
	g := c.Graph
	var out []share
	if ref.Role == neuron.ErrorRole {
		for di, si := range g.Above(ref.Layer) {
			s := g.Spec(si, 1)
			k := s.K * s.K
			for i := 0; i < s.OutC; i++ {
				out = append(out, share{kind: shareW, index: si, at: (i*s.InC + ref.Index) * k, n: k, dendrite: di})
			}
		}
		return append(out, share{kind: shareBias, index: ref.Layer, at: ref.Index, n: 1, dendrite: -1})
	}
	for fi, si := range g.Below(ref.Layer) {
		s := g.Spec(si, 1)
		n := s.InC * s.K * s.K
		out = append(out, share{kind: shareE, index: si, at: ref.Index * n, n: n, dendrite: fi})
	}
	return out
}

// gatherShares concatenates the runs of shs, each taken from the tensor
// tensor returns for it.
func gatherShares(shs []share, tensor func(share) []float32) []float32 {
	var out []float32
	for _, sh := range shs {
		out = append(out, tensor(sh)[sh.at:sh.at+sh.n]...)
	}
	return out
}

// placeShares is the inverse of gatherShares: it copies data, the runs of
// shs concatenated, into the tensors tensor returns.
func placeShares(shs []share, tensor func(share) []float32, data []float32) {
	off := 0
	for _, sh := range shs {
		copy(tensor(sh)[sh.at:sh.at+sh.n], data[off:off+sh.n])
		off += sh.n
	}
}

// sharesLen is the number of values shs hold.
func sharesLen(shs []share) int {
	n := 0
	for _, sh := range shs {
		n += sh.n
	}
	return n
}

// ofDendrite returns the shares of dendrite (or feedback synapse) d.
func ofDendrite(shs []share, d int) []share {
	var out []share
	for _, sh := range shs {
		if sh.dendrite == d {
			out = append(out, sh)
		}
	}
	return out
}

// held returns the parameters a population holds, concatenated in the
// order of its shares, and their optimisers (one per dendrite or feedback
// synapse, then the bias's). A tied state map holds nothing of its own.
func held(pop population, tied bool) (params []float32, opts []optim.Optimizer) {
	switch p := pop.(type) {
	case *neuron.ErrorPop:
		for _, d := range p.Dendrites() {
			params = append(params, d.W...)
			opts = append(opts, d.Optimizer())
		}
		params = append(params, p.Bias())
		opts = append(opts, p.BiasOptimizer())
	case *neuron.StatePop:
		if tied {
			return nil, nil
		}
		for _, f := range p.Feedback() {
			params = append(params, f.E...)
			opts = append(opts, f.Optimizer())
		}
	}
	return params, opts
}

// adamMoments concatenates the first moments of every optimiser, then the
// second moments; ok is false unless all of them are Adam.
func adamMoments(opts []optim.Optimizer) (moments []float32, steps int, ok bool) {
	var m, v []float32
	for _, o := range opts {
		a, isAdam := adam(o)
		if !isAdam {
			return nil, 0, false
		}
		m, v, steps = append(m, a.M...), append(v, a.V...), a.T
	}
	return append(m, v...), steps, len(opts) > 0
}

// setAdamMoments is the inverse of adamMoments: it hands the optimisers
// their moments and step count from m and v (concatenated in opts' order).
// Optimisers that are not Adam are left alone.
func setAdamMoments(opts []optim.Optimizer, m, v []float32, steps int) error {
	off := 0
	for _, o := range opts {
		a, ok := adam(o)
		if !ok {
			return nil
		}
		if off+len(a.M) > len(m) {
			return fmt.Errorf("%w: %d Adam moments for optimisers of more", ErrGraph, len(m))
		}
		copy(a.M, m[off:off+len(a.M)])
		copy(a.V, v[off:off+len(a.V)])
		a.T = steps
		off += len(a.M)
	}
	if off != len(m) {
		return fmt.Errorf("%w: %d Adam moments for optimisers of %d", ErrGraph, len(m), off)
	}
	return nil
}
