package circuit

import (
	"errors"
	"fmt"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/graph"
)

// Residual blocks (the paper's Appendix C; graph.Block) in the actor
// runtime. Every intermediate map of a block is a population of its own
// (neuron.BlockPop, named "h.<synapse>.<stage>.<map>"): map j of stage k
// holds the column W_k[·j] of its stage's prediction kernels and the row
// E_{k+1}[j·] of the next stage's error kernels, and publishes its activity
// h (KindHidden) down and its perturbation d (KindPerturb) up. The upper
// layer's state map i holds E_1[i·] and reads d of every first-stage map,
// as it reads the errors below a plain synapse; the error map j of the
// lower layer takes h of the last stage's map j, and, with the skip term,
// z of upper map j mod C_From, to which it sends its error back. The
// arithmetic is the batched reference's (package ngc), rule for rule.

// ErrBlocks reports a residual-block circuit asked to run where the actor
// runtime does not run blocks: asynchronously, or under the sigma-delta
// encoding. The synchronous dense runtime runs them.
var ErrBlocks = errors.New("circuit: residual blocks run in the synchronous runtime with the dense encoding only")

// hasBlocks reports whether g has a residual block.
func hasBlocks(g *Graph) bool {
	for _, s := range g.Synapses {
		if s.Block != nil {
			return true
		}
	}
	return false
}

// blockGeometry returns the stages' geometry of block synapse si for
// mini-batches of b images.
func blockGeometry(g *Graph, si, b int) []graph.StageGeom {
	s := g.Synapses[si]
	geo, _ := s.Block.Geometry(g.Layers[s.From], g.Layers[s.To], b)
	return geo
}

// kernelLen is the number of prediction kernel values of synapse si: a
// block's stages' together.
func kernelLen(g *Graph, si int) int {
	if g.Synapses[si].Block == nil {
		return g.Spec(si, 1).KernelLen()
	}
	n := 0
	for _, sg := range blockGeometry(g, si, 1) {
		n += sg.Spec.KernelLen()
	}
	return n
}

// stageOffset is where stage k (from 0) of block si starts in the
// concatenated kernels Params.W[si] and Params.BlockE[si].
func stageOffset(g *Graph, si, k int) int {
	off := 0
	for _, sg := range blockGeometry(g, si, 1)[:k] {
		off += sg.Spec.KernelLen()
	}
	return off
}

// blockRefs lists the maps of every block of g, synapse by synapse, stage
// by stage.
func blockRefs(g *Graph) []neuron.Ref {
	var out []neuron.Ref
	for si, s := range g.Synapses {
		if s.Block == nil {
			continue
		}
		for k, st := range s.Block.Stages {
			for j := 0; j < st.Maps; j++ {
				out = append(out, neuron.Ref{Role: neuron.BlockRole, Layer: si, Stage: k + 1, Index: j})
			}
		}
	}
	return out
}

// validBlockRef reports whether ref names a map of a block of g.
func validBlockRef(g *Graph, ref neuron.Ref) bool {
	if ref.Layer < 0 || ref.Layer >= len(g.Synapses) {
		return false
	}
	b := g.Synapses[ref.Layer].Block
	return b != nil && ref.Stage >= 1 && ref.Stage <= len(b.Stages) && ref.Index >= 0 && ref.Index < b.Stages[ref.Stage-1].Maps
}

// blockShares lists the runs of the parameters block map ref holds: its
// column W_k[·j] (one run per map above), then its row E_{k+1}[j·].
func (c *Circuit) blockShares(ref neuron.Ref) []share {
	g := c.Graph
	si, k, j := ref.Layer, ref.Stage-1, ref.Index
	geo := blockGeometry(g, si, 1)
	sg := geo[k]
	kk := sg.Spec.K * sg.Spec.K
	off := stageOffset(g, si, k)
	var out []share
	for i := 0; i < sg.InMaps; i++ {
		out = append(out, share{kind: shareW, index: si, at: off + (i*sg.OutMaps+j)*kk, n: kk, dendrite: 0})
	}
	if k+1 < len(geo) {
		nx := geo[k+1]
		n := nx.OutMaps * nx.Spec.K * nx.Spec.K
		out = append(out, share{kind: shareBlockE, index: si, at: stageOffset(g, si, k+1) + j*n, n: n, dendrite: 1})
	}
	return out
}

// blockFeedbackShare is the run E_1[i·] of block si that state map i of its
// upper layer holds.
func blockFeedbackShare(g *Graph, si, i, fi int) share {
	sg := blockGeometry(g, si, 1)[0]
	n := sg.OutMaps * sg.Spec.K * sg.Spec.K
	return share{kind: shareBlockE, index: si, at: i * n, n: n, dendrite: fi}
}

// blockPopulation builds block map ref with its own copy of its kernels.
func (c *Circuit) blockPopulation(ref neuron.Ref, set *neuron.Settings, shs []share) (*neuron.BlockPop, error) {
	g := c.Graph
	si, k := ref.Layer, ref.Stage-1
	syn := g.Synapses[si]
	geo := blockGeometry(g, si, set.Batch)
	st := syn.Block.Stages[k]
	in := geo[k].Spec
	in.InC = 1
	param := func(sh share) []float32 { return sh.of(c.Params) }
	cfg := neuron.BlockConfig{Upper: syn.From, Lower: syn.To, Stages: len(geo), In: in, W: gatherShares(ofDendrite(shs, 0), param),
		Pool: st.Pool, ReLU: st.ReLU, Exact: syn.Block.Pathway == graph.PathwayExact, Free: !g.Layers[syn.To].Image}
	if k+1 < len(geo) {
		cfg.Out = geo[k+1].Spec
		cfg.Out.OutC = 1
		cfg.E = gatherShares(ofDendrite(shs, 1), param)
	}
	return neuron.NewBlockPop(ref, set, cfg)
}

// blockEnd is the end of block si on error map j of its lower layer.
func blockEnd(g *Graph, si, j int) *neuron.BlockEnd {
	syn := g.Synapses[si]
	from, to := g.Layers[syn.From], g.Layers[syn.To]
	return &neuron.BlockEnd{Synapse: si, Stages: len(syn.Block.Stages), Skip: syn.Block.Skip, SkipMap: j % from.Maps,
		Size: from.Size, Factor: to.Size / from.Size}
}

// blockStart is block si as state map i of its upper layer holds it.
func blockStart(g *Graph, si, i int) *neuron.BlockStart {
	syn := g.Synapses[si]
	from, to := g.Layers[syn.From], g.Layers[syn.To]
	b := &neuron.BlockStart{Synapse: si, Skip: syn.Block.Skip, Size: from.Size, Factor: to.Size / from.Size}
	if b.Skip {
		for j := i; j < to.Maps; j += from.Maps {
			b.SkipMaps = append(b.SkipMaps, j)
		}
	}
	return b
}

// blockListens reports whether population to takes a message of kind k
// from from through a residual block (see Circuit.listens), and whether
// the question concerned a block at all (handled).
func (c *Circuit) blockListens(to neuron.Ref, k neuron.Kind, from neuron.Ref) (listens, handled bool) {
	g := c.Graph
	switch to.Role {
	case neuron.BlockRole:
		syn := g.Synapses[to.Layer]
		K := len(syn.Block.Stages)
		switch {
		case to.Stage == 1 && k == neuron.KindPhi:
			return from.Role == neuron.StateRole && from.Layer == syn.From, true
		case to.Stage > 1 && k == neuron.KindHidden:
			return from.Role == neuron.BlockRole && from.Layer == to.Layer && from.Stage == to.Stage-1, true
		case to.Stage < K && k == neuron.KindPerturb:
			return from.Role == neuron.BlockRole && from.Layer == to.Layer && from.Stage == to.Stage+1, true
		case to.Stage == K && k == neuron.KindError:
			return from.Role == neuron.ErrorRole && from.Layer == syn.To && from.Index == to.Index, true
		}
		return false, true
	case neuron.ErrorRole:
		for _, si := range g.Above(to.Layer) {
			syn := g.Synapses[si]
			if syn.Block == nil {
				continue
			}
			if k == neuron.KindHidden && from == (neuron.Ref{Role: neuron.BlockRole, Layer: si, Stage: len(syn.Block.Stages), Index: to.Index}) {
				return true, true
			}
			if k == neuron.KindState && syn.Block.Skip && from == (neuron.Ref{Role: neuron.StateRole, Layer: syn.From, Index: to.Index % g.Layers[syn.From].Maps}) {
				return true, true
			}
			if k == neuron.KindPhi && from.Layer == syn.From {
				return false, true // the block's first stage takes φ(z)
			}
		}
	case neuron.StateRole:
		for _, si := range g.Below(to.Layer) {
			syn := g.Synapses[si]
			if syn.Block == nil {
				continue
			}
			if k == neuron.KindPerturb && from.Role == neuron.BlockRole && from.Layer == si {
				return from.Stage == 1, true
			}
			if (k == neuron.KindError || k == neuron.KindWeights) && from.Role == neuron.ErrorRole && from.Layer == syn.To {
				return k == neuron.KindError && syn.Block.Skip && from.Index%g.Layers[to.Layer].Maps == to.Index, true
			}
		}
		if k == neuron.KindPerturb {
			return false, true
		}
	}
	return false, false
}

// blockSubjects lists the subjects population ref listens to through the
// residual blocks it takes part in, and whether ref is a block's map (whose
// subjects they are all).
func (c *Circuit) blockSubjects(run string, ref neuron.Ref) (out []string, isBlock bool) {
	g := c.Graph
	sub := func(kind string, tokens ...any) string {
		s := run + "." + kind
		for _, t := range tokens {
			s += fmt.Sprintf(".%v", t)
		}
		return s
	}
	switch ref.Role {
	case neuron.BlockRole:
		syn := g.Synapses[ref.Layer]
		K := len(syn.Block.Stages)
		if ref.Stage == 1 {
			out = append(out, sub("phi", syn.From, "*"))
		} else {
			out = append(out, sub("h", ref.Layer, ref.Stage-1, "*"))
		}
		if ref.Stage == K {
			out = append(out, sub("e", syn.To, ref.Index))
		} else {
			out = append(out, sub("d", ref.Layer, ref.Stage+1, "*"))
		}
		return out, true
	case neuron.ErrorRole:
		for _, si := range g.Above(ref.Layer) {
			syn := g.Synapses[si]
			if syn.Block == nil {
				continue
			}
			out = append(out, sub("h", si, len(syn.Block.Stages), ref.Index))
			if syn.Block.Skip {
				out = append(out, sub("z", syn.From, ref.Index%g.Layers[syn.From].Maps))
			}
		}
	case neuron.StateRole:
		for _, si := range g.Below(ref.Layer) {
			syn := g.Synapses[si]
			if syn.Block == nil {
				continue
			}
			out = append(out, sub("d", si, 1, "*"))
			for _, j := range blockStart(g, si, ref.Index).SkipMaps {
				out = append(out, sub("e", syn.To, j))
			}
		}
	}
	return out, false
}
