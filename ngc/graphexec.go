package ngc

import (
	"math/rand/v2"
	"slices"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/graph"
	"github.com/convngc/convngc/ngc/tensor"
)

// graphExec runs inference and learning on any graph: skip synapses,
// several parents per layer, residual blocks. It works on whole layers in
// the map-major layout with the kernels of package tensor and the update
// rules of package neuron, the same code the actors call; the tiled engine
// (engine.go) is the fast path for chains.
type graphExec struct {
	ws      *Workspace
	g       *graph.Graph
	specs   []tensor.ConvSpec // plain synapses' convolutions (zero for blocks)
	blocks  []*blockExec      // by synapse; nil for plain synapses
	energy  []int             // the layers that have errors (not tops), in index order
	tmp     [][]float32       // a layer-sized buffer per layer
	cols    []float32         // im2col scratch
	sums    []float64         // energies of the last prediction, by energy layer
	topDown []int
	noBias  []float32 // zeros, for layers only blocks predict
	// gradients, by synapse: plain W and bias; block stages' W
	gW, gB [][]float32
	gStage [][][]float32
}

// blockExec holds a residual block's activities and perturbations.
type blockExec struct {
	geo   []graph.StageGeom
	a, h  [][]float32 // by stage: before and after the pool and activation
	d     [][]float32 // by stage: the perturbation at a_k
	back  [][]float32 // by stage: E_k ∗ d_k, at h_{k−1}'s shape
	gated []float32   // a perturbation gated by a rectifier (exact pathway)
}

// newGraphExec allocates the buffers of ws for its model's graph.
func newGraphExec(ws *Workspace) *graphExec {
	m, b := ws.m, ws.B
	g := m.g
	gx := &graphExec{ws: ws, g: g, specs: make([]tensor.ConvSpec, len(g.Synapses)), blocks: make([]*blockExec, len(g.Synapses)),
		gW: make([][]float32, len(g.Synapses)), gB: make([][]float32, len(g.Synapses)), gStage: make([][][]float32, len(g.Synapses))}
	gx.topDown, _ = g.TopDown()
	maxCols := 0
	maxMaps := 0
	for l, ly := range g.Layers {
		maxMaps = max(maxMaps, ly.Maps)
		gx.tmp = append(gx.tmp, make([]float32, ly.Maps*b*ly.Size*ly.Size))
		if !g.Top(l) {
			gx.energy = append(gx.energy, l)
		}
	}
	for si, syn := range g.Synapses {
		if syn.Block == nil {
			s := g.Spec(si, b)
			gx.specs[si] = s
			maxCols = max(maxCols, s.ColsLen())
			gx.gW[si] = make([]float32, s.KernelLen())
			if m.syn[si].Bias != nil {
				gx.gB[si] = make([]float32, s.InC)
			}
			continue
		}
		geo, _ := syn.Block.Geometry(g.Layers[syn.From], g.Layers[syn.To], b)
		be := &blockExec{geo: geo}
		for _, sg := range geo {
			maxCols = max(maxCols, sg.Spec.ColsLen())
			be.a = append(be.a, make([]float32, sg.OutMaps*b*sg.OutSize*sg.OutSize))
			be.h = append(be.h, make([]float32, sg.OutMaps*b*sg.HSize*sg.HSize))
			be.d = append(be.d, make([]float32, sg.OutMaps*b*sg.OutSize*sg.OutSize))
			be.back = append(be.back, make([]float32, sg.InMaps*b*sg.InSize*sg.InSize))
			gx.gStage[si] = append(gx.gStage[si], make([]float32, sg.Spec.KernelLen()))
		}
		for _, h := range be.h {
			if len(h) > len(be.gated) {
				be.gated = make([]float32, len(h))
			}
		}
		gx.blocks[si] = be
	}
	gx.cols = make([]float32, maxCols)
	gx.noBias = make([]float32, maxMaps)
	gx.sums = make([]float64, len(gx.energy))
	return gx
}

// plane is B·H·W of layer l: the length of one of its maps.
func (gx *graphExec) plane(l int) int {
	s := gx.g.Layers[l].Size
	return gx.ws.B * s * s
}

// run does what engine.run does for opInfer: the initial states, steps
// steps, the final prediction; it records the energies of every step.
func (gx *graphExec) run(x []float32, task Task, rng *rand.Rand, steps, clamp int, trace *Trace) {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	for _, l := range gx.topDown {
		switch {
		case g.Layers[l].Image:
			ly := g.Layers[l]
			tensor.ToMapMajor(ws.Z[l], x, ws.B, ly.Maps, ly.Size*ly.Size)
		case g.Top(l):
			m.InitTop(ws.Z[l], rng)
			m.phi.Apply(ws.Phi[l], ws.Z[l])
		default: // ancestral: the layers above are set
			gx.predictLayer(l)
			copy(ws.Z[l], ws.Mu[l])
			m.phi.Apply(ws.Phi[l], ws.Z[l])
		}
	}
	if trace != nil {
		trace.Steps = trace.Steps[:0]
	}
	for t := 1; t <= steps; t++ {
		gx.predict()
		if trace != nil {
			trace.Steps = append(trace.Steps, slices.Clone(gx.sums))
		}
		gx.correct(task == Denoise && t > clamp)
	}
	gx.predict()
	if trace != nil {
		trace.Final = slices.Clone(gx.sums)
	}
}

// predict computes φ(z) of every non-image layer, then the prediction and
// error of every layer that has one, and their energies per image.
func (gx *graphExec) predict() {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	for l := range g.Layers {
		if !g.Layers[l].Image {
			m.phi.Apply(ws.Phi[l], ws.Z[l])
		}
	}
	for i, l := range gx.energy {
		gx.predictLayer(l)
		gx.sums[i] = neuron.Error(ws.E[l], ws.Z[l], ws.Mu[l]) / float64(ws.B)
	}
}

// predictLayer computes mu[l] from φ of the layers above.
func (gx *graphExec) predictLayer(l int) {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	mu := ws.Mu[l]
	clear(mu)
	var bias []float32
	for _, si := range g.Above(l) {
		syn := g.Synapses[si]
		if be := gx.blocks[si]; be != nil {
			gx.blockForward(si, be)
			addTo(mu, be.h[len(be.h)-1])
			if syn.Block.Skip {
				gx.addSkip(mu, si)
			}
			continue
		}
		tensor.ConvT(gx.tmp[l], ws.Phi[syn.From], m.syn[si].W, gx.cols[:gx.specs[si].ColsLen()], gx.specs[si])
		addTo(mu, gx.tmp[l])
		if m.syn[si].Bias != nil {
			bias = m.syn[si].Bias
		}
	}
	if bias == nil {
		bias = gx.noBias[:g.Layers[l].Maps] // no plain synapse: no bias
	}
	out := tensor.Identity
	if g.Layers[l].Output == "sigmoid" {
		out = tensor.Sigmoid
	}
	neuron.Predict(mu, bias, gx.plane(l), out)
}

// blockForward runs a residual block from φ of its upper layer: every
// stage's a_k and h_k, and the skip term.
func (gx *graphExec) blockForward(si int, be *blockExec) {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	syn := g.Synapses[si]
	in := ws.Phi[syn.From]
	for k, sg := range be.geo {
		st := syn.Block.Stages[k]
		tensor.ConvT(be.a[k], in, m.syn[si].Stages[k].W, gx.cols[:sg.Spec.ColsLen()], sg.Spec)
		neuron.StageActivity(be.h[k], be.a[k], sg.OutMaps*ws.B, sg.OutSize, st.Pool, st.ReLU)
		in = be.h[k]
	}
}

// addSkip adds a residual block's skip term into mu, the prediction of its
// lower layer: map j takes z of upper map j mod C_From, upsampled by
// nearest neighbour.
func (gx *graphExec) addSkip(mu []float32, si int) {
	ws, g := gx.ws, gx.g
	syn := g.Synapses[si]
	from, to := g.Layers[syn.From], g.Layers[syn.To]
	in, out := ws.B*from.Size*from.Size, ws.B*to.Size*to.Size
	for j := 0; j < to.Maps; j++ {
		i := j % from.Maps
		neuron.AddUpsampled(mu[j*out:(j+1)*out], ws.Z[syn.From][i*in:(i+1)*in], ws.B, from.Size, to.Size/from.Size)
	}
}

// addSkipFeedback adds into fb, the feedback of a block's upper layer, the
// adjoint of its skip term applied to the lower layer's error: map j's
// error, summed over each window, into upper map j mod C_From.
func (gx *graphExec) addSkipFeedback(fb []float32, si int) {
	ws, g := gx.ws, gx.g
	syn := g.Synapses[si]
	from, to := g.Layers[syn.From], g.Layers[syn.To]
	in, out := ws.B*from.Size*from.Size, ws.B*to.Size*to.Size
	for j := 0; j < to.Maps; j++ {
		i := j % from.Maps
		neuron.AddSkipAdjoint(fb[i*in:(i+1)*in], ws.E[syn.To][j*out:(j+1)*out], ws.B, from.Size, to.Size/from.Size)
	}
}

// correct computes the bottom-up feedback of every non-image layer and
// moves every free state one step.
func (gx *graphExec) correct(freeBottom bool) {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	gx.feedback()
	p := m.stateParams()
	for l, ly := range g.Layers {
		if ly.Image && !freeBottom {
			continue
		}
		var e, fb []float32
		if !g.Top(l) {
			e = ws.E[l]
		}
		if !ly.Image {
			fb = ws.Fb[l]
		}
		neuron.Correct(ws.Z[l], e, fb, p)
	}
}

// feedback fills ws.Fb[l] = Σ E ∗ e over the plain synapses from l, plus
// E_1 ∗ d_1 over the blocks from l, running every block's error pathway.
func (gx *graphExec) feedback() {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	for l, ly := range g.Layers {
		if ly.Image {
			continue
		}
		fb := ws.Fb[l]
		clear(fb)
		for _, si := range g.Below(l) {
			syn := g.Synapses[si]
			if be := gx.blocks[si]; be != nil {
				gx.blockBackward(si, be)
				addTo(fb, be.back[0])
				if syn.Block.Skip {
					gx.addSkipFeedback(fb, si)
				}
				continue
			}
			k := m.syn[si].E
			if k == nil {
				k = m.syn[si].W
			}
			tensor.Conv(gx.tmp[l], ws.E[syn.To], k, gx.cols[:gx.specs[si].ColsLen()], gx.specs[si])
			addTo(fb, gx.tmp[l])
		}
	}
}

// blockBackward runs a block's error pathway (Eq. 8-11) from the predicted
// layer's error: d_K = e (upsampled by stage K's pool), back_k = E_k ∗ d_k,
// d_{k−1} = back_k upsampled by stage k−1's pool.
func (gx *graphExec) blockBackward(si int, be *blockExec) {
	ws, m, g := gx.ws, gx.ws.m, gx.g
	syn := g.Synapses[si]
	K := len(be.geo)
	src := ws.E[syn.To]
	exact := syn.Block.Pathway == graph.PathwayExact
	for k := K - 1; k >= 0; k-- {
		sg, st := be.geo[k], syn.Block.Stages[k]
		neuron.StagePerturbation(be.d[k], src, be.a[k], be.h[k], be.gated, sg.OutMaps*ws.B, sg.OutSize, st.Pool, st.ReLU, exact)
		tensor.Conv(be.back[k], be.d[k], m.syn[si].Stages[k].E, gx.cols[:sg.Spec.ColsLen()], sg.Spec)
		src = be.back[k]
	}
}

// gradients computes, from the last predict and feedback, the negative of
// every synapse's update: plain synapses' e ⋆ φ(z) and Σ e, and every block
// stage's d_k ⋆ h_{k−1}, each averaged over the mini-batch.
func (gx *graphExec) gradients() {
	ws, g := gx.ws, gx.g
	alpha := -1 / float32(ws.B)
	for si, syn := range g.Synapses {
		if be := gx.blocks[si]; be != nil {
			in := ws.Phi[syn.From]
			for k, sg := range be.geo {
				tensor.ConvKernelGrad(gx.gStage[si][k], be.d[k], in, gx.cols[:sg.Spec.ColsLen()], sg.Spec, alpha, 0)
				in = be.h[k]
			}
			continue
		}
		tensor.ConvKernelGrad(gx.gW[si], ws.E[syn.To], ws.Phi[syn.From], gx.cols[:gx.specs[si].ColsLen()], gx.specs[si], alpha, 0)
		if gx.gB[si] != nil {
			neuron.BiasGrad(gx.gB[si], ws.E[syn.To], gx.plane(syn.To), alpha)
		}
	}
}

// addTo adds src into dst.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// newGraphWorkspace allocates a workspace of b images for a graph that is
// not a chain: per layer the states, and the predictions and errors of the
// layers below a top, φ and the feedback of the layers above the image.
func (m *Model) newGraphWorkspace(b int) *Workspace {
	g := m.g
	n := len(g.Layers)
	ws := &Workspace{B: b, m: m, Z: make([][]float32, n), Mu: make([][]float32, n), E: make([][]float32, n),
		Phi: make([][]float32, n), Fb: make([][]float32, n)}
	for l, ly := range g.Layers {
		size := ly.Maps * b * ly.Size * ly.Size
		ws.Z[l] = make([]float32, size)
		if !g.Top(l) {
			ws.Mu[l], ws.E[l] = make([]float32, size), make([]float32, size)
		}
		if !ly.Image {
			ws.Phi[l], ws.Fb[l] = make([]float32, size), make([]float32, size)
		}
	}
	ws.gx = newGraphExec(ws)
	return ws
}
