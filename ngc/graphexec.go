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
	skip  []float32   // the skip term at the predicted layer's shape
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
		to := g.Layers[syn.To]
		be.skip = make([]float32, to.Maps*b*to.Size*to.Size)
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
				addTo(mu, be.skip)
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
		if st.Pool > 1 {
			maxPool(be.h[k], be.a[k], sg.OutMaps*ws.B, sg.OutSize, st.Pool)
		} else {
			copy(be.h[k], be.a[k])
		}
		if st.ReLU {
			tensor.ReLU.Apply(be.h[k], be.h[k])
		}
		in = be.h[k]
	}
	if syn.Block.Skip {
		from, to := g.Layers[syn.From], g.Layers[syn.To]
		upsampleMaps(be.skip, ws.Z[syn.From], from.Maps, to.Maps, ws.B, from.Size, to.Size/from.Size)
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
					from, to := g.Layers[syn.From], g.Layers[syn.To]
					addSkipAdjoint(fb, ws.E[syn.To], from.Maps, to.Maps, ws.B, from.Size, to.Size/from.Size)
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
		if exact && st.ReLU {
			gate(be.gated, src, be.h[k])
			src = be.gated[:len(be.h[k])]
		}
		switch {
		case st.Pool > 1 && exact:
			poolRoute(be.d[k], src, be.a[k], sg.OutMaps*ws.B, sg.OutSize, st.Pool)
		case st.Pool > 1:
			upsample(be.d[k], src, sg.OutMaps*ws.B, sg.HSize, st.Pool)
			scale(be.d[k], 1/float32(st.Pool*st.Pool))
		default:
			copy(be.d[k], src)
		}
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

// maxPool writes into dst the p×p max-pool (stride p) of n square planes
// of side size in src.
func maxPool(dst, src []float32, n, size, p int) {
	out := size / p
	for c := 0; c < n; c++ {
		s := src[c*size*size : (c+1)*size*size]
		d := dst[c*out*out : (c+1)*out*out]
		for y := 0; y < out; y++ {
			for x := 0; x < out; x++ {
				v := s[y*p*size+x*p]
				for dy := 0; dy < p; dy++ {
					row := s[(y*p+dy)*size+x*p:]
					for dx := 0; dx < p; dx++ {
						v = max(v, row[dx])
					}
				}
				d[y*out+x] = v
			}
		}
	}
}

// upsample writes into dst the nearest-neighbour upsampling by p of n
// square planes of side size in src.
func upsample(dst, src []float32, n, size, p int) {
	out := size * p
	for c := 0; c < n; c++ {
		s := src[c*size*size : (c+1)*size*size]
		d := dst[c*out*out : (c+1)*out*out]
		for y := 0; y < out; y++ {
			row := s[(y/p)*size:]
			for x := 0; x < out; x++ {
				d[y*out+x] = row[x/p]
			}
		}
	}
}

// upsampleMaps writes into dst (toMaps maps of b images of side size·p)
// map j mod fromMaps of src (fromMaps maps of b images of side size),
// upsampled by p: the skip term of a residual block.
func upsampleMaps(dst, src []float32, fromMaps, toMaps, b, size, p int) {
	in, out := b*size*size, b*size*size*p*p
	for j := 0; j < toMaps; j++ {
		i := j % fromMaps
		upsample(dst[j*out:(j+1)*out], src[i*in:(i+1)*in], b, size, p)
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

// scale multiplies v by a.
func scale(v []float32, a float32) {
	for i := range v {
		v[i] *= a
	}
}

// addSkipAdjoint adds into dst (fromMaps maps of b images of side size)
// the adjoint of upsampleMaps applied to src (toMaps maps of side size·p):
// every map j of src, summed over each p×p window, into map j mod
// fromMaps. It is the exact feedback of a block's skip term.
func addSkipAdjoint(dst, src []float32, fromMaps, toMaps, b, size, p int) {
	big := size * p
	in, out := b*size*size, b*big*big
	for j := 0; j < toMaps; j++ {
		d := dst[(j%fromMaps)*in : (j%fromMaps+1)*in]
		s := src[j*out : (j+1)*out]
		for img := 0; img < b; img++ {
			for y := 0; y < big; y++ {
				row := s[img*big*big+y*big:]
				drow := d[img*size*size+(y/p)*size:]
				for x := 0; x < big; x++ {
					drow[x/p] += row[x]
				}
			}
		}
	}
}

// gate writes src where h > 0 and 0 elsewhere: a perturbation through a
// rectifier's derivative.
func gate(dst, src, h []float32) {
	for i, v := range h {
		if v > 0 {
			dst[i] = src[i]
		} else {
			dst[i] = 0
		}
	}
}

// poolRoute is the adjoint of maxPool: each pooled unit's value of src
// goes to the unit of its p×p window in a (n planes of side size) that
// holds the window's maximum (the first, on ties); the rest of dst is 0.
func poolRoute(dst, src, a []float32, n, size, p int) {
	out := size / p
	clear(dst[:n*size*size])
	for c := 0; c < n; c++ {
		s := a[c*size*size : (c+1)*size*size]
		d := dst[c*size*size : (c+1)*size*size]
		v := src[c*out*out : (c+1)*out*out]
		for y := 0; y < out; y++ {
			for x := 0; x < out; x++ {
				best := (y*p)*size + x*p
				for dy := 0; dy < p; dy++ {
					for dx := 0; dx < p; dx++ {
						if i := (y*p+dy)*size + x*p + dx; s[i] > s[best] {
							best = i
						}
					}
				}
				d[best] = v[y*out+x]
			}
		}
	}
}
