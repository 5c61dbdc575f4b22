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
	shareW      shareKind = iota // W[·j] of an error map (or of a block's map)
	shareE                       // E[i·] of a state map (W[i·] when tied)
	shareBias                    // b_j of an error map
	shareBlockE                  // a residual block's error kernels (Params.BlockE)
)

// of returns the whole-layer tensor sh is a run of. A tied state map's
// feedback kernels are its copy of W.
func (sh share) of(p *Params) []float32 {
	switch {
	case sh.kind == shareBias:
		return p.Bias[sh.index]
	case sh.kind == shareBlockE:
		return p.BlockE[sh.index]
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
	case shareBlockE:
		return a.MBlockE[sh.index], a.VBlockE[sh.index]
	default:
		return a.MW[sh.index], a.VW[sh.index]
	}
}

// shares lists the runs population ref holds, in the order it holds them:
// an error map's kernels W[·j] dendrite by dendrite (one run per upper map;
// none for a residual block, whose maps hold its kernels) and then its bias
// (when a plain synapse predicts the layer); a state map's feedback
// kernels E[i·] synapse by synapse (a block's E_1[i·]); a block's map's
// (see blockShares).
func (c *Circuit) shares(ref neuron.Ref) []share {
	g := c.Graph
	var out []share
	if ref.Role == neuron.BlockRole {
		return c.blockShares(ref)
	}
	if ref.Role == neuron.ErrorRole {
		bias := false
		for di, si := range g.Above(ref.Layer) {
			if g.Synapses[si].Block != nil {
				continue
			}
			bias = true
			s := g.Spec(si, 1)
			k := s.K * s.K
			for i := 0; i < s.OutC; i++ {
				out = append(out, share{kind: shareW, index: si, at: (i*s.InC + ref.Index) * k, n: k, dendrite: di})
			}
		}
		if bias {
			out = append(out, share{kind: shareBias, index: ref.Layer, at: ref.Index, n: 1, dendrite: -1})
		}
		return out
	}
	for fi, si := range g.Below(ref.Layer) {
		if g.Synapses[si].Block != nil {
			out = append(out, blockFeedbackShare(g, si, ref.Index, fi))
			continue
		}
		s := g.Spec(si, 1)
		n := s.InC * s.K * s.K
		out = append(out, share{kind: shareE, index: si, at: ref.Index * n, n: n, dendrite: fi})
	}
	return out
}

// ownShares are the shares population ref learns itself, whose values
// (and optimiser state) it dumps: all of them but, in tied mode, a state
// map's copies of W.
func (c *Circuit) ownShares(ref neuron.Ref) []share {
	shs := c.shares(ref)
	if ref.Role != neuron.StateRole || !c.tied() {
		return shs
	}
	var out []share
	for _, sh := range shs {
		if sh.kind != shareE {
			out = append(out, sh)
		}
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

// held returns the parameters a population learns itself, concatenated in
// the order of its own shares (Circuit.ownShares), and their optimisers
// (one per dendrite or feedback synapse, then the bias's; a block's map's
// W, then E). A tied state map holds nothing of its own but its residual
// blocks' error kernels.
func held(pop population, tied bool) (params []float32, opts []optim.Optimizer) {
	switch p := pop.(type) {
	case *neuron.ErrorPop:
		for _, d := range p.Dendrites() {
			if d.Block != nil {
				continue
			}
			params = append(params, d.W...)
			opts = append(opts, d.Optimizer())
		}
		if p.HasBias() {
			params = append(params, p.Bias())
			opts = append(opts, p.BiasOptimizer())
		}
	case *neuron.StatePop:
		for _, f := range p.Feedback() {
			if tied && f.Block == nil {
				continue
			}
			params = append(params, f.E...)
			opts = append(opts, f.Optimizer())
		}
	case *neuron.BlockPop:
		w, e := p.Optimizers()
		params = append(params, p.W()...)
		opts = append(opts, w)
		if e != nil {
			params = append(params, p.E()...)
			opts = append(opts, e)
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
