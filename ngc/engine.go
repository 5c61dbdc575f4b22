package ngc

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/convngc/convngc/ngc/tensor"
)

// The engine computes inference on tiles of tensor.TileImages images. A
// tile holds every layer in the layout [C][H][W][image] (tensor.TileGrid),
// so that each pixel of each map is one vector over the tile's images and
// the transposed convolutions (predictions) and strided convolutions
// (feedback) of the paper's small maps are dense products of kernel weights
// and such vectors (tensor.TileConv). Every output row is finished while it
// is in the first-level cache: the prediction's bias, error and energy, or
// the state correction and the next φ(z). Images do not interact during
// inference, so a tile runs all T steps while its states stay in the
// second-level cache, and the tiles are shared among GOMAXPROCS goroutines.
//
// The arithmetic is the contract's, in the order of the map-major kernels
// (package tensor's Conv and ConvT, and package neuron's rules, which the
// actors run): predictions, errors and corrections are the same float32
// operations; only the order of the terms of a transposed convolution and
// of the energy sums differ, within float32 rounding.

// engine is a Workspace's tile machinery.
type engine struct {
	ws    *Workspace
	tiles int
	pred  []*tensor.TileConv // pred[ℓ−1]: ConvT of φ(z[ℓ]) onto layer ℓ−1
	fb    []*tensor.TileConv // fb[ℓ−1]: Conv of e[ℓ−1] into layer ℓ
	zg    []tensor.TileGrid  // zg[ℓ]: the states of layer ℓ (no borders)
	work  []*tileScratch     // one per worker goroutine
	// tileEnergy[(i·rows + r)·L + ℓ]: energy of layer ℓ of tile i at row r
	// (step r+1 of Infer, T for the final prediction; row 0 otherwise).
	tileEnergy []float64
	rows       int
	sum        []float64 // summed energies of the last run, [rows][L]
	// tileGrad[i·gradLen …]: tile i's kernel and bias gradient sums (the
	// Hebbian correlations, not yet scaled), layer by layer: W[ℓ] at
	// gradOff[ℓ−1], then its biases.
	tileGrad []float64
	gradSum  []float64
	gradOff  []int
	gradLen  int
	spec     jobSpec
	next     atomic.Int64
	slope    float32 // φ(v) = max(v, slope·v) when leaky
	leaky    bool
}

// tileScratch is one worker's tile: every layer's states, errors and φ,
// and a row buffer.
type tileScratch struct {
	z, e, phi [][]float32
	row       []float32
	zero      []float32 // a zero row: the top's error, the image's feedback
	sink      []float32 // a row nobody reads (φ of the image layer)
	tmp       []float32 // a row for the generic rules
	acc       []float32 // lane-wise partial sums of a kernel gradient
}

type jobOp int

const (
	opInfer   jobOp = iota // Infer: initial states, T steps, final prediction
	opStep                 // one Predict and one Correct
	opPredict              // predictions and errors
	opCorrect              // corrections
	opGrad                 // the learning rule's correlations of ws.E and ws.Phi
)

// jobSpec says what a run computes.
type jobSpec struct {
	op         jobOp
	x          []float32 // opInfer: the images, image-major
	steps      int       // opInfer: T
	denoise    bool      // opInfer: free z[0] after step clamp
	clamp      int       // opInfer, denoise: steps z[0] stays clamped (at least 1)
	freeBottom bool      // opStep, opCorrect
	grad       bool      // opInfer: also the learning rule's correlations
}

func (en *engine) init(ws *Workspace) error {
	m := ws.m
	L := m.cfg.Layers()
	en.ws = ws
	en.tiles = (ws.B + tensor.TileImages - 1) / tensor.TileImages
	for l := 0; l <= L; l++ {
		s := m.cfg.SizeAt(l)
		en.zg = append(en.zg, tensor.TileGrid{C: m.cfg.ChannelsAt(l), H: s, W: s})
	}
	for l := 1; l <= L; l++ {
		p, err := tensor.NewTileConv(m.Spec(l, 1), true)
		if err != nil {
			return fmt.Errorf("ngc: %w", err)
		}
		f, err := tensor.NewTileConv(m.Spec(l, 1), false)
		if err != nil {
			return fmt.Errorf("ngc: %w", err)
		}
		en.pred = append(en.pred, p)
		en.fb = append(en.fb, f)
	}
	en.slope, en.leaky = tensor.LeakySlopeOf(m.phi)
	for l := 1; l <= L; l++ {
		en.gradOff = append(en.gradOff, en.gradLen)
		en.gradLen += en.fb[l-1].GradLen()/tensor.TileImages + m.cfg.ChannelsAt(l-1)
	}
	return nil
}

// eGrid is the layout of e[ℓ] (ℓ < L): the input of the feedback into ℓ+1.
func (en *engine) eGrid(l int) tensor.TileGrid { return en.fb[l].In() }

// phiGrid is the layout of φ(z[ℓ]) (ℓ ≥ 1): the input of the prediction of ℓ−1.
func (en *engine) phiGrid(l int) tensor.TileGrid { return en.pred[l-1].In() }

func (en *engine) newScratch() *tileScratch {
	L := len(en.pred)
	sc := &tileScratch{z: make([][]float32, L+1), e: make([][]float32, L+1), phi: make([][]float32, L+1)}
	rowLen, width := 0, 0
	for l := 0; l <= L; l++ {
		sc.z[l] = make([]float32, en.zg[l].Len())
		if l < L {
			sc.e[l] = make([]float32, en.eGrid(l).Len())
		}
		if l > 0 {
			sc.phi[l] = make([]float32, en.phiGrid(l).Len())
			rowLen = max(rowLen, en.pred[l-1].RowLen(), en.fb[l-1].RowLen())
		}
		width = max(width, en.zg[l].W*tensor.TileImages)
	}
	sc.row = make([]float32, rowLen)
	sc.zero = make([]float32, width)
	sc.sink = make([]float32, width)
	sc.tmp = make([]float32, width)
	for _, f := range en.fb {
		if len(sc.acc) < f.GradLen() {
			sc.acc = make([]float32, f.GradLen())
		}
	}
	return sc
}

// run computes spec on every tile, on up to GOMAXPROCS goroutines, and
// sums the energies (and the gradients) of the tiles in tile order, so
// that the result does not depend on the number of goroutines.
func (en *engine) run(spec jobSpec) {
	m := en.ws.m
	L := m.cfg.Layers()
	for l := 1; l <= L; l++ {
		en.pred[l-1].SetKernel(m.syn[l-1].W)
		en.fb[l-1].SetKernel(m.feedback(l))
	}
	rows := 1
	switch spec.op {
	case opInfer:
		rows = spec.steps + 1
	case opGrad:
		rows = 0
	}
	if n := en.tiles * rows * L; cap(en.tileEnergy) < n {
		en.tileEnergy = make([]float64, n)
		en.sum = make([]float64, rows*L)
	}
	en.rows = rows
	en.tileEnergy = en.tileEnergy[:en.tiles*rows*L]
	grad := spec.grad || spec.op == opGrad
	if grad && en.tileGrad == nil {
		en.tileGrad = make([]float64, en.tiles*en.gradLen)
		en.gradSum = make([]float64, en.gradLen)
	}
	workers := min(runtime.GOMAXPROCS(0), en.tiles)
	for len(en.work) < workers {
		en.work = append(en.work, en.newScratch())
	}
	en.spec = spec
	en.next.Store(0)
	tensor.RunJob(en, workers)
	en.spec.x = nil
	if grad {
		en.finishGradients()
	}
	if rows == 0 {
		return
	}
	en.sum = en.sum[:rows*L]
	clear(en.sum)
	for i := 0; i < en.tiles; i++ {
		for j, v := range en.tileEnergy[i*rows*L : (i+1)*rows*L] {
			en.sum[j] += v
		}
	}
	for j := range en.sum {
		en.sum[j] /= float64(en.ws.B)
	}
}

// finishGradients sums the tiles' correlations in tile order and writes
// the gradient of the energy (the negative Hebbian update, averaged over
// the batch) into ws.gW and ws.gB.
func (en *engine) finishGradients() {
	ws := en.ws
	clear(en.gradSum)
	for i := 0; i < en.tiles; i++ {
		for j, v := range en.tileGrad[i*en.gradLen : (i+1)*en.gradLen] {
			en.gradSum[j] += v
		}
	}
	alpha := -1 / float32(ws.B)
	for l := range en.fb {
		w := en.gradSum[en.gradOff[l]:]
		for j := range ws.gW[l] {
			ws.gW[l][j] = alpha * float32(w[j])
		}
		b := w[len(ws.gW[l]):]
		for j := range ws.gB[l] {
			ws.gB[l][j] = alpha * float32(b[j])
		}
	}
}

// gradTile adds the tile's correlations e[ℓ−1] ⋆ φ(z[ℓ]) (kernels) and
// Σ e[ℓ−1] (biases) over its n images into grad.
func (en *engine) gradTile(sc *tileScratch, n int, grad []float64) {
	clear(grad)
	for l := 1; l <= len(en.pred); l++ {
		f := en.fb[l-1]
		acc := sc.acc[:f.GradLen()]
		clear(acc)
		f.KernelGrad(acc, sc.e[l-1], sc.phi[l], en.phiGrid(l))
		g := grad[en.gradOff[l-1]:]
		kw := f.GradLen() / tensor.TileImages
		tensor.SumLanes(g[:kw], acc, n)
		eg, zg := en.eGrid(l-1), en.zg[l-1]
		for c := 0; c < zg.C; c++ {
			var s float64
			for y := 0; y < zg.H; y++ {
				row := eg.Row(sc.e[l-1], c, y)
				for x := 0; x < len(row); x += tensor.TileImages {
					for _, v := range row[x : x+n] {
						s += float64(v)
					}
				}
			}
			g[kw+c] = s
		}
	}
}

// energies returns the summed energies of row r of the last run, per image.
func (en *engine) energies(r int) []float64 {
	L := len(en.pred)
	return en.sum[r*L : (r+1)*L : (r+1)*L]
}

// Run is worker w's part of a run: it takes tiles until none is left.
func (en *engine) Run(w int) {
	sc := en.work[w]
	for {
		i := int(en.next.Add(1) - 1)
		if i >= en.tiles {
			return
		}
		b0 := i * tensor.TileImages
		n := min(tensor.TileImages, en.ws.B-b0)
		L := len(en.pred)
		en.tile(sc, b0, n, en.tileEnergy[i*en.rows*L:(i+1)*en.rows*L])
		if en.spec.grad || en.spec.op == opGrad {
			en.gradTile(sc, n, en.tileGrad[i*en.gradLen:(i+1)*en.gradLen])
		}
	}
}

// tile runs the job on images b0 … b0+n−1; en holds its energies by row.
func (en *engine) tile(sc *tileScratch, b0, n int, energy []float64) {
	ws := en.ws
	L := len(en.pred)
	switch spec := en.spec; spec.op {
	case opInfer:
		en.zg[L].LoadMapMajor(sc.z[L], ws.Z[L], ws.B, b0, n)
		en.phiRows(sc, L)
		for l := L; l >= 2; l-- {
			en.ancestral(sc, l)
		}
		en.zg[0].LoadImageMajor(sc.z[0], spec.x, ws.B, b0, n)
		for t := 1; t <= spec.steps; t++ {
			en.predict(sc, b0, n, energy[(t-1)*L:t*L], false)
			en.correct(sc, b0, n, spec.denoise && t > spec.clamp, t == spec.steps)
		}
		en.predict(sc, b0, n, energy[spec.steps*L:], true)
		en.store(sc, b0, n, true, true, true)
	case opStep:
		en.load(sc, b0, n, false)
		for l := 1; l <= L; l++ {
			en.phiRows(sc, l)
		}
		en.predict(sc, b0, n, energy, true)
		en.store(sc, b0, n, false, true, true)
		en.correct(sc, b0, n, spec.freeBottom, true)
		en.store(sc, b0, n, true, false, false)
	case opPredict:
		en.load(sc, b0, n, false)
		for l := 1; l <= L; l++ {
			en.phiRows(sc, l)
		}
		en.predict(sc, b0, n, energy, true)
		en.store(sc, b0, n, false, true, true)
	case opCorrect:
		en.load(sc, b0, n, true)
		en.correct(sc, b0, n, spec.freeBottom, true)
		en.store(sc, b0, n, true, false, false)
	case opGrad:
		L := len(en.pred)
		for l := 0; l <= L; l++ {
			if l < L {
				en.eGrid(l).LoadMapMajor(sc.e[l], ws.E[l], ws.B, b0, n)
			}
			if l > 0 {
				en.phiGrid(l).LoadMapMajor(sc.phi[l], ws.Phi[l], ws.B, b0, n)
			}
		}
	}
}

// load copies the tile's states (and errors) from the workspace.
func (en *engine) load(sc *tileScratch, b0, n int, errors bool) {
	ws := en.ws
	for l := range en.zg {
		en.zg[l].LoadMapMajor(sc.z[l], ws.Z[l], ws.B, b0, n)
		if errors && l < len(en.pred) {
			en.eGrid(l).LoadMapMajor(sc.e[l], ws.E[l], ws.B, b0, n)
		}
	}
}

// store copies the tile's states, errors or φ into the workspace.
func (en *engine) store(sc *tileScratch, b0, n int, states, errors, phi bool) {
	ws := en.ws
	L := len(en.pred)
	for l := 0; l <= L; l++ {
		if states {
			en.zg[l].StoreMapMajor(ws.Z[l], sc.z[l], ws.B, b0, n)
		}
		if errors && l < L {
			en.eGrid(l).StoreMapMajor(ws.E[l], sc.e[l], ws.B, b0, n)
		}
		if phi && l > 0 {
			en.phiGrid(l).StoreMapMajor(ws.Phi[l], sc.phi[l], ws.B, b0, n)
		}
	}
}

// phiRows computes φ(z[ℓ]) of the tile.
func (en *engine) phiRows(sc *tileScratch, l int) {
	g, pg := en.zg[l], en.phiGrid(l)
	for c := 0; c < g.C; c++ {
		for y := 0; y < g.H; y++ {
			en.phi(pg.Row(sc.phi[l], c, y), g.Row(sc.z[l], c, y))
		}
	}
}

func (en *engine) phi(dst, src []float32) {
	if en.leaky {
		tensor.Leaky(dst, src, en.slope)
	} else {
		en.ws.m.phi.ApplySerial(dst, src)
	}
}

// ancestral sets z[ℓ−1] = mu[ℓ−1] (and its φ) from φ(z[ℓ]), for ℓ ≥ 2
// (where the prediction is linear: g is the identity above the image).
func (en *engine) ancestral(sc *tileScratch, l int) {
	p, g := en.pred[l-1], en.zg[l-1]
	pg := en.phiGrid(l - 1)
	bias := en.ws.m.syn[l-1].Bias
	row := sc.row[:p.RowLen()]
	w := p.Width() * tensor.TileImages
	for y := 0; y < p.Height(); y++ {
		p.Row(row, sc.phi[l], y)
		for c := 0; c < p.Maps(); c++ {
			mu, z := row[c*w:(c+1)*w], g.Row(sc.z[l-1], c, y)
			b := bias[c]
			for i, v := range mu {
				z[i] = v + b
			}
			en.phi(pg.Row(sc.phi[l-1], c, y), z)
		}
	}
}

// predict computes mu[ℓ−1] and e[ℓ−1] for ℓ = L … 1 from φ(z) and z, and
// ½Σe² of each layer over the tile's n images into energy[ℓ−1]. With
// storeMu the predictions are copied into ws.Mu.
func (en *engine) predict(sc *tileScratch, b0, n int, energy []float64, storeMu bool) {
	ws := en.ws
	m := ws.m
	for l := len(en.pred); l >= 1; l-- {
		p, g, eg := en.pred[l-1], en.zg[l-1], en.eGrid(l-1)
		bias := m.syn[l-1].Bias
		sigmoid := l == 1 && m.cfg.BottomSigmoid
		row := sc.row[:p.RowLen()]
		w := p.Width() * tensor.TileImages
		var s float64
		for y := 0; y < p.Height(); y++ {
			p.Row(row, sc.phi[l], y)
			var r float32
			if !sigmoid {
				r = tensor.BiasErrorMaps(p.OutRows(row), eg.Rows(sc.e[l-1], y), g.Rows(sc.z[l-1], y), bias)
			}
			for c := 0; c < p.Maps(); c++ {
				mu, e := row[c*w:(c+1)*w], eg.Row(sc.e[l-1], c, y)
				if sigmoid {
					r += biasSigmoidError(mu, e, g.Row(sc.z[l-1], c, y), bias[c])
				}
				if storeMu {
					g.StoreRow(ws.Mu[l-1], mu, ws.B, b0, n, c, y)
				}
			}
			if n < tensor.TileImages { // only the images the tile holds
				r = 0
				for c := 0; c < p.Maps(); c++ {
					r += laneEnergy(eg.Row(sc.e[l-1], c, y), n)
				}
			}
			s += float64(r)
		}
		energy[l-1] = s / 2
	}
}

// biasSigmoidError is tensor.BiasError with mu = sigmoid(mu + b).
func biasSigmoidError(mu, e, z []float32, b float32) float32 {
	for i := range mu {
		mu[i] += b
	}
	tensor.Sigmoid.ApplySerial(mu, mu)
	var s float32
	for i, v := range z {
		d := v - mu[i]
		e[i] = d
		s += d * d
	}
	return s
}

// laneEnergy is Σe² over the first n images of a row.
func laneEnergy(e []float32, n int) float32 {
	var s float32
	for x := 0; x < len(e); x += tensor.TileImages {
		for _, v := range e[x : x+n] {
			s += v * v
		}
	}
	return s
}

// correct moves the states of layers 1 … L (and the image layer with
// freeBottom) and refreshes their φ; with storeFb the feedback terms are
// copied into ws.Fb.
func (en *engine) correct(sc *tileScratch, b0, n int, freeBottom, storeFb bool) {
	ws := en.ws
	m := ws.m
	L := len(en.pred)
	keep, beta := 1-float32(*m.cfg.Gamma), float32(m.cfg.Beta)
	fast := en.leaky && !m.cfg.PCN
	for l := 1; l <= L; l++ {
		p, g, pg := en.fb[l-1], en.zg[l], en.phiGrid(l)
		row := sc.row[:p.RowLen()]
		w := p.Width() * tensor.TileImages
		for y := 0; y < p.Height(); y++ {
			p.Row(row, sc.e[l-1], y)
			if storeFb {
				for c := 0; c < p.Maps(); c++ {
					g.StoreRow(ws.Fb[l], row[c*w:(c+1)*w], ws.B, b0, n, c, y)
				}
			}
			e := tensor.MapRows{Buf: sc.zero[:w], Len: w, Maps: p.Maps()} // the top has no error
			if l < L {
				e = en.eGrid(l).Rows(sc.e[l], y)
			}
			if fast {
				tensor.CorrectLeakyMaps(g.Rows(sc.z[l], y), e, p.OutRows(row), pg.Rows(sc.phi[l], y), keep, beta, en.slope)
				continue
			}
			for c := 0; c < p.Maps(); c++ {
				z := g.Row(sc.z[l], c, y)
				en.correctGeneric(sc, z, e.Row(c), row[c*w:(c+1)*w], keep, beta)
				en.phi(pg.Row(sc.phi[l], c, y), z)
			}
		}
	}
	if freeBottom {
		g, eg := en.zg[0], en.eGrid(0)
		w := g.W * tensor.TileImages
		none := tensor.MapRows{Len: w, Maps: g.C}
		zero, sink := none, none
		zero.Buf, sink.Buf = sc.zero[:w], sc.sink[:w]
		for y := 0; y < g.H; y++ {
			tensor.CorrectLeakyMaps(g.Rows(sc.z[0], y), eg.Rows(sc.e[0], y), zero, sink, keep, beta, 1)
		}
	}
}

// correctGeneric is the state correction of package neuron for any φ and
// the PCN variant: z ← keep·z + β·(fb·φ'(z) − e).
func (en *engine) correctGeneric(sc *tileScratch, z, e, fb []float32, keep, beta float32) {
	m := en.ws.m
	d := sc.tmp[:len(z)]
	if m.cfg.PCN {
		m.phi.Deriv(d, z)
		for i := range d {
			d[i] *= fb[i]
		}
	} else {
		copy(d, fb)
	}
	for i, v := range z {
		z[i] = keep*v + beta*(d[i]-e[i])
	}
}
