package tensor

import "fmt"

//go:generate go run gen_tile.go

// TileImages is the number of images a tile holds side by side: the
// innermost dimension of every tile buffer (one 512-bit vector of float32,
// or two 256-bit ones).
const TileImages = 16

// TileGrid is the layout of C maps of H×W pixels of one tile of TileImages
// images: [C][Top+H+Bottom][Left+W+Right][TileImages], row-major. Interior
// pixel (y, x) of map c sits at row Top+y, column Left+x; the borders are
// zero and are what convolutions read as padding, so no kernel tests an
// index. Keep them zero: write interior rows only (see Row).
//
// With the images innermost, one pixel of one map for the whole tile is a
// vector, and every convolution of the paper's small maps (2×2 to 32×32) is
// a dense product of kernel weights and such vectors, whatever the map size.
type TileGrid struct {
	C, H, W                  int
	Top, Left, Bottom, Right int
}

// rowLen is the length of one padded row.
func (g TileGrid) rowLen() int { return (g.Left + g.W + g.Right) * TileImages }

// planeLen is the length of one padded map.
func (g TileGrid) planeLen() int { return (g.Top + g.H + g.Bottom) * g.rowLen() }

// Len is the number of floats of a buffer with this layout.
func (g TileGrid) Len() int { return g.C * g.planeLen() }

// RowOffset is the offset of interior row y of map c in a buffer with this
// layout; the row holds W·TileImages floats.
func (g TileGrid) RowOffset(c, y int) int {
	return c*g.planeLen() + (g.Top+y)*g.rowLen() + g.Left*TileImages
}

// Row returns interior row y of map c of buf: W·TileImages floats, pixel x
// of image i at x·TileImages + i.
func (g TileGrid) Row(buf []float32, c, y int) []float32 {
	off := g.RowOffset(c, y)
	n := g.W * TileImages
	return buf[off : off+n : off+n]
}

// LoadMapMajor copies images b0 … b0+n−1 (n ≤ TileImages) of the map-major
// slice src ([C][batch][H][W]) into the interior of the tile buffer dst and
// zeroes the interior lanes of the images the tile does not hold.
func (g TileGrid) LoadMapMajor(dst, src []float32, batch, b0, n int) {
	checkLen("TileGrid.LoadMapMajor dst", dst, g.Len())
	checkLen("TileGrid.LoadMapMajor src", src, g.C*batch*g.H*g.W)
	g.checkImages(batch, b0, n)
	plane := g.H * g.W
	for c := 0; c < g.C; c++ {
		for y := 0; y < g.H; y++ {
			g.loadRow(g.Row(dst, c, y), src[(c*batch+b0)*plane+y*g.W:], plane, n)
		}
	}
}

// loadRow fills a tile row from n image rows of W floats, stride floats
// apart in src, and zeroes the other lanes.
func (g TileGrid) loadRow(row, src []float32, stride, n int) {
	_ = src[(n-1)*stride+g.W-1] // bounds
	if tileISA == "avx512" {
		rowToLanesZ(&row[0], &src[0], stride, g.W, n)
		return
	}
	for i := 0; i < TileImages; i++ {
		if i >= n {
			for x := 0; x < g.W; x++ {
				row[x*TileImages+i] = 0
			}
			continue
		}
		for x, v := range src[i*stride:][:g.W] {
			row[x*TileImages+i] = v
		}
	}
}

// StoreMapMajor is the inverse of LoadMapMajor: it copies the n images of
// the tile into images b0 … b0+n−1 of dst ([C][batch][H][W]).
func (g TileGrid) StoreMapMajor(dst, src []float32, batch, b0, n int) {
	checkLen("TileGrid.StoreMapMajor src", src, g.Len())
	checkLen("TileGrid.StoreMapMajor dst", dst, g.C*batch*g.H*g.W)
	g.checkImages(batch, b0, n)
	for c := 0; c < g.C; c++ {
		for y := 0; y < g.H; y++ {
			g.StoreRow(dst, g.Row(src, c, y), batch, b0, n, c, y)
		}
	}
}

// StoreRow copies one interior row (W·TileImages floats, as Row returns)
// of map c into row y of images b0 … b0+n−1 of the map-major slice dst.
func (g TileGrid) StoreRow(dst, row []float32, batch, b0, n, c, y int) {
	checkLen("TileGrid.StoreRow row", row, g.W*TileImages)
	plane := g.H * g.W
	for i := 0; i < n; i++ {
		d := dst[(c*batch+b0+i)*plane+y*g.W:][:g.W]
		if tileISA == "avx512" {
			lanesToRowZ(&d[0], &row[i], g.W)
			continue
		}
		for x := range d {
			d[x] = row[x*TileImages+i]
		}
	}
}

// LoadImageMajor copies images b0 … b0+n−1 of the image-major slice src
// ([batch][C][H][W]) into the interior of dst, zeroing the unused lanes.
func (g TileGrid) LoadImageMajor(dst, src []float32, batch, b0, n int) {
	checkLen("TileGrid.LoadImageMajor dst", dst, g.Len())
	checkLen("TileGrid.LoadImageMajor src", src, g.C*batch*g.H*g.W)
	g.checkImages(batch, b0, n)
	plane := g.H * g.W
	for c := 0; c < g.C; c++ {
		for y := 0; y < g.H; y++ {
			g.loadRow(g.Row(dst, c, y), src[(b0*g.C+c)*plane+y*g.W:], g.C*plane, n)
		}
	}
}

func (g TileGrid) checkImages(batch, b0, n int) {
	if n < 1 || n > TileImages || b0 < 0 || b0+n > batch {
		panic(fmt.Sprintf("tensor: tile of images %d…%d of a batch of %d", b0, b0+n-1, batch))
	}
}

// tileKernel is the signature of the generated micro-kernels: for r < mr
// and q < p,
//
//	out[r·ostrR + q·ostrP : +16] = Σ_kk a[kk·mr + r] · in[q·istr + rel[kk] : +16]
//
// with every stride and offset in bytes.
type tileKernel func(k int, a *float32, rel *int, in *float32, istr int, out *float32, ostrR, ostrP int)

// tileISA selects the micro-kernels: "avx512", "avx2" or "go".
var tileISA = defaultTileISA()

func defaultTileISA() string {
	switch {
	case hasAVX512Peak && hasKernel:
		return "avx512"
	case hasKernel:
		return "avx2"
	}
	return "go"
}

// TileKernels names the micro-kernels the tile convolutions and the row
// operations use: "avx512", "avx2" or "go" (portable).
func TileKernels() string { return tileISA }

// TileKernelSets lists the micro-kernel sets this machine can run, the
// default (fastest) first.
func TileKernelSets() []string {
	var sets []string
	if hasKernel && hasAVX512Peak {
		sets = append(sets, "avx512")
	}
	if hasKernel {
		sets = append(sets, "avx2")
	}
	return append(sets, "go")
}

// UseTileKernels switches the tile convolutions and row operations to the
// micro-kernel set name (one of TileKernelSets) and returns the set in use
// before, for tests and benchmarks that compare them. Do not call it while
// kernels run.
func UseTileKernels(name string) (previous string, err error) {
	for _, s := range TileKernelSets() {
		if s == name {
			previous, tileISA = tileISA, name
			return previous, nil
		}
	}
	return tileISA, fmt.Errorf("tensor: tile kernels %q are not available here (have %v)", name, TileKernelSets())
}

// tilePhase is one set of output positions that share their terms: the
// only one of a convolution, or one of the S×S output residues of a
// transposed convolution.
type tilePhase struct {
	rel  []int // byte offset of every term from the position's base
	pack []int // packed weight offsets of the terms: kernel index per term
	a    []float32
}

// TileConv is one strided convolution (Conv) or transposed convolution
// (ConvT) of a ConvSpec over a tile of images, computed one output row at a
// time by register-blocked micro-kernels. The spec's Batch is ignored.
//
// Its input is a TileGrid (In) whose borders hold the padding, and one
// output row of every output map is written to a row buffer laid out
// [M][width][TileImages] (RowLen floats), so that the caller finishes it
// (bias, error, state update) while it is in the first-level cache. The
// terms of every output are summed in the order of Conv's patch rows
// (input map, then kernel taps), one fused multiply-add each, so the result
// equals Conv or ConvT up to float32 rounding.
type TileConv struct {
	s          ConvSpec
	transposed bool
	in         TileGrid
	m, w       int // output maps and width of an output row
	phases     []tilePhase
	panels     [][2]int // output map ranges [r0, r0+mr)
	kernel     []float32
	// gradO and gradK split the maps and the terms of KernelGrad into
	// register blocks: [0] for AVX-512 and Go, [1] for AVX2.
	gradO, gradK [2][][2]int
}

// NewTileConv plans Conv (transposed false: large side in, small side out)
// or ConvT (transposed true: small side in, large side out) of spec s over
// tiles. The input grid gets the smallest borders the padding needs.
func NewTileConv(s ConvSpec, transposed bool) (*TileConv, error) {
	s.Batch = 1
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p := &TileConv{s: s, transposed: transposed}
	if transposed {
		p.in = TileGrid{C: s.OutC, H: s.OutH, W: s.OutW}
		p.m, p.w = s.InC, s.InW
	} else {
		p.in = TileGrid{C: s.InC, H: s.InH, W: s.InW}
		p.m, p.w = s.OutC, s.OutW
	}
	// Borders: the extreme input rows and columns any output reads.
	p.in.Top, p.in.Bottom = p.borders(s.InH, s.OutH, s.PadTop)
	p.in.Left, p.in.Right = p.borders(s.InW, s.OutW, s.PadLeft)
	nPhase := 1
	if transposed {
		nPhase = s.Stride * s.Stride
	}
	p.phases = make([]tilePhase, nPhase)
	for ph := range p.phases {
		p.phases[ph] = p.terms(ph)
	}
	// Panels of at most 6 maps, as even as possible (25 → 5×5, 3 → 3).
	p.panels = evenBlocks(p.m, 6)
	if !transposed {
		k := len(p.phases[0].rel)
		p.gradO = [2][][2]int{evenBlocks(s.OutC, 4), evenBlocks(s.OutC, 2)}
		p.gradK = [2][][2]int{evenBlocks(k, 6), evenBlocks(k, 3)}
	}
	return p, nil
}

// borders returns the rows before and after the input that some output
// reads, for an axis with in (large) and out (small) pixels.
func (p *TileConv) borders(in, out, pad int) (before, after int) {
	s := p.s
	lo, hi := 0, 0
	if !p.transposed {
		// Output o reads input o·S + t − pad, t in [0, K).
		lo, hi = -pad, (out-1)*s.Stride+s.K-1-pad
		return max(0, -lo), max(0, hi-(in-1))
	}
	// Output i (large) reads small o = (i + pad − t)/S for t ≡ i + pad.
	lo, hi = out, -1
	for i := 0; i < in; i++ {
		for t := 0; t < s.K; t++ {
			if (i+pad-t)%s.Stride == 0 {
				o := floorDiv(i+pad-t, s.Stride)
				lo, hi = min(lo, o), max(hi, o)
			}
		}
	}
	return max(0, -lo), max(0, hi-(out-1))
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// tap returns the kernel index (ty, tx) stored for the geometric tap
// (ry, rx): the same, or rotated by 180° with Flip.
func (p *TileConv) tap(ry, rx int) (int, int) {
	if p.s.Flip {
		return p.s.K - 1 - ry, p.s.K - 1 - rx
	}
	return ry, rx
}

// terms lists the terms of phase ph: their input offsets and kernel
// indices, in the order Conv sums them.
func (p *TileConv) terms(ph int) tilePhase {
	s, in := p.s, p.in
	var t tilePhase
	plane, row := in.planeLen(), in.rowLen()
	if !p.transposed {
		// Output (o, oy, ox) = Σ_c,ty,tx K[o][c][ty][tx] · x[c][oy·S + ry − PT][ox·S + rx − PL].
		for c := 0; c < s.InC; c++ {
			for ty := 0; ty < s.K; ty++ {
				for tx := 0; tx < s.K; tx++ {
					ry, rx := p.tap(ty, tx)
					off := c*plane + (ry-s.PadTop)*row + (rx-s.PadLeft)*TileImages
					t.rel = append(t.rel, 4*off)
					t.pack = append(t.pack, (c*s.K+ty)*s.K+tx) // + o·InC·K·K
				}
			}
		}
		return t
	}
	// Output (c, iy, ix) with (iy + PT) mod S = py, (ix + PL) mod S = px:
	// Σ_o,ry≡py,rx≡px K[o][c][ty][tx] · y[o][qy − (ry−py)/S][qx − (rx−px)/S]
	// where qy = (iy + PT − py)/S.
	py, px := ph/s.Stride, ph%s.Stride
	for o := 0; o < s.OutC; o++ {
		for ty := 0; ty < s.K; ty++ {
			for tx := 0; tx < s.K; tx++ {
				ry, rx := p.tap(ty, tx)
				if ry%s.Stride != py || rx%s.Stride != px {
					continue
				}
				dy, dx := (ry-py)/s.Stride, (rx-px)/s.Stride
				off := o*plane - dy*row - dx*TileImages
				t.rel = append(t.rel, 4*off)
				t.pack = append(t.pack, (o*s.InC*s.K+ty)*s.K+tx) // + c·K·K
			}
		}
	}
	return t
}

// In is the layout of the input buffers Row reads.
func (p *TileConv) In() TileGrid { return p.in }

// Maps is the number of output maps M.
func (p *TileConv) Maps() int { return p.m }

// Width is the number of pixels of an output row.
func (p *TileConv) Width() int { return p.w }

// Height is the number of output rows.
func (p *TileConv) Height() int {
	if p.transposed {
		return p.s.InH
	}
	return p.s.OutH
}

// RowLen is the length of an output row buffer: M·Width·TileImages.
func (p *TileConv) RowLen() int { return p.m * p.w * TileImages }

// SetKernel packs the kernel weights ([OutC][InC][K][K], as Conv and ConvT
// take them) for the micro-kernels. Call it again whenever they change.
func (p *TileConv) SetKernel(kernel []float32) {
	checkLen("TileConv.SetKernel", kernel, p.s.KernelLen())
	s := p.s
	kk := s.K * s.K
	for ph := range p.phases {
		t := &p.phases[ph]
		k := len(t.rel)
		if cap(t.a) < k*p.m {
			t.a = make([]float32, k*p.m)
		}
		t.a = t.a[:k*p.m]
		for _, pn := range p.panels {
			r0, mr := pn[0], pn[1]
			a := t.a[r0*k : (r0+mr)*k]
			for j, idx := range t.pack {
				for r := 0; r < mr; r++ {
					var w float32
					if p.transposed {
						w = kernel[idx+(r0+r)*kk] // K[o][c][ty][tx], c = r0+r
					} else {
						w = kernel[idx+(r0+r)*s.InC*kk] // K[o][c][ty][tx], o = r0+r
					}
					a[j*mr+r] = w
				}
			}
		}
	}
	p.kernel = kernel
}

// Row computes output row y of every output map from the tile buffer src
// (layout In) into dst ([M][Width][TileImages]). SetKernel must have been
// called.
func (p *TileConv) Row(dst, src []float32, y int) {
	checkLen("TileConv.Row src", src, p.in.Len())
	checkLen("TileConv.Row dst", dst, p.RowLen())
	if p.kernel == nil {
		panic("tensor: TileConv.Row before SetKernel")
	}
	if y < 0 || y >= p.Height() {
		panic(fmt.Sprintf("tensor: TileConv.Row %d of %d", y, p.Height()))
	}
	s, in := p.s, p.in
	row := in.rowLen()
	ostrR := p.w * TileImages
	if !p.transposed {
		base := (in.Top+y*s.Stride)*row + in.Left*TileImages
		p.run(&p.phases[0], dst, src, base, s.Stride*TileImages, 0, TileImages, ostrR, p.w)
		return
	}
	py := (y + s.PadTop) % s.Stride
	qy := (y + s.PadTop - py) / s.Stride
	for px := 0; px < s.Stride; px++ {
		x0 := ((px-s.PadLeft)%s.Stride + s.Stride) % s.Stride // first output column of this residue
		if x0 >= p.w {
			continue
		}
		n := (p.w - x0 + s.Stride - 1) / s.Stride
		qx := (x0 + s.PadLeft - px) / s.Stride
		base := (in.Top+qy)*row + (in.Left+qx)*TileImages
		p.run(&p.phases[py*s.Stride+px], dst, src, base, TileImages, x0*TileImages, s.Stride*TileImages, ostrR, n)
	}
}

// run computes n positions of one phase for every panel: position j reads
// at src[base + j·istr + rel] and writes dst[dbase + j·ostrP + r·ostrR].
func (p *TileConv) run(t *tilePhase, dst, src []float32, base, istr, dbase, ostrP, ostrR, n int) {
	k := len(t.rel)
	for _, pn := range p.panels {
		r0, mr := pn[0], pn[1]
		if k == 0 {
			for r := 0; r < mr; r++ {
				for j := 0; j < n; j++ {
					clear(dst[dbase+(r0+r)*ostrR+j*ostrP:][:TileImages])
				}
			}
			continue
		}
		a := t.a[r0*k : (r0+mr)*k]
		for j := 0; j < n; {
			q := tileBlock(mr, n-j)
			d := dbase + r0*ostrR + j*ostrP
			b := base + j*istr
			switch tileISA {
			case "avx512":
				tileKernelsZ[mr][q](k, &a[0], &t.rel[0], &src[b], 4*istr, &dst[d], 4*ostrR, 4*ostrP)
			case "avx2":
				if q = 1; mr <= 2 && n-j >= 2 {
					q = 2
				}
				tileKernelsY[mr][q](k, &a[0], &t.rel[0], &src[b], 4*istr, &dst[d], 4*ostrR, 4*ostrP)
			default:
				tileKernelGo(k, mr, q, a, t.rel, src, b, istr, dst, d, ostrR, ostrP)
			}
			j += q
		}
	}
}

// tileBlock is the number of positions one AVX-512 micro-kernel call
// computes (the generated shapes: mr ≤ 6 with p ≤ 4, mr ≤ 3 with p = 8).
func tileBlock(mr, left int) int {
	switch {
	case mr <= 3 && left >= 8:
		return 8
	case left >= 4:
		return 4
	case left >= 2:
		return 2
	}
	return 1
}

// tileKernelGo is the portable micro-kernel (offsets in floats; rel in
// bytes, as the assembly takes them): each input vector is loaded once for
// the mr maps, and fixed-size array views spare the bounds checks.
func tileKernelGo(k, mr, p int, a []float32, rel []int, src []float32, base, istr int, dst []float32, d, ostrR, ostrP int) {
	var acc [6][TileImages]float32
	for q := 0; q < p; q++ {
		acc = [6][TileImages]float32{}
		b := base + q*istr
		for kk := 0; kk < k; kk++ {
			x := (*[TileImages]float32)(src[b+rel[kk]/4:])
			for r, w := range a[kk*mr : kk*mr+mr] {
				ar := &acc[r]
				for i, v := range x {
					ar[i] += w * v
				}
			}
		}
		for r := 0; r < mr; r++ {
			copy(dst[d+r*ostrR+q*ostrP:][:TileImages], acc[r][:])
		}
	}
}

// gradKernel is the signature of the generated gradient kernels (see
// gen_tile.go): they add, for r < mr and j < kr, the products of the
// small-side vectors of map r and the large-side vectors under term j over
// nrows×ncols positions into 16 lane-wise partial sums at
// acc[r·accRow + j·64] (strides and offsets in bytes).
type gradKernel func(nrows, ncols int, phi *float32, phiO, phiRow int, e *float32, eRow, eCol int, rel *int, acc *float32, accRow int)

// GradLen is the length of the partial sums KernelGrad accumulates: one
// vector of TileImages lanes per kernel weight.
func (p *TileConv) GradLen() int { return p.s.KernelLen() * TileImages }

// KernelGrad adds into acc, lane by lane (one lane per image of the tile),
// the correlation of the small-side maps y with the patches of the
// large-side maps x that ConvKernelGrad computes over a whole batch:
//
//	acc[w·TileImages + i] += Σ_oy,ox y[o][oy][ox][i] · x[c][oy·S+ty'−PT][ox·S+tx'−PL][i]
//
// for every weight w = ((o·InC + c)·K + ty)·K + tx. p must plan a Conv
// (not transposed); x has the layout In, y the layout yg (the small side,
// with any borders). Sum the lanes of the images the tile holds with
// SumLanes.
func (p *TileConv) KernelGrad(acc, x, y []float32, yg TileGrid) {
	if p.transposed {
		panic("tensor: TileConv.KernelGrad of a transposed convolution")
	}
	s, in := p.s, p.in
	checkLen("TileConv.KernelGrad acc", acc, p.GradLen())
	checkLen("TileConv.KernelGrad x", x, in.Len())
	checkLen("TileConv.KernelGrad y", y, yg.Len())
	if yg.C != s.OutC || yg.H != s.OutH || yg.W != s.OutW {
		panic("tensor: TileConv.KernelGrad: small-side grid does not match the spec")
	}
	t := &p.phases[0]
	k := len(t.rel)
	base := in.Top*in.rowLen() + in.Left*TileImages
	eRow, eCol := s.Stride*in.rowLen(), s.Stride*TileImages
	phiO, phiRow := yg.planeLen(), yg.rowLen()
	accRow := k * TileImages
	blocks := 0
	if tileISA == "avx2" {
		blocks = 1
	}
	for _, ob := range p.gradO[blocks] {
		o0, mr := ob[0], ob[1]
		phi := yg.RowOffset(o0, 0)
		for _, kb := range p.gradK[blocks] {
			j0, kr := kb[0], kb[1]
			a := (o0*k + j0) * TileImages
			switch tileISA {
			case "avx512":
				gradKernelsZ[mr][kr](s.OutH, s.OutW, &y[phi], 4*phiO, 4*phiRow, &x[base], 4*eRow, 4*eCol, &t.rel[j0], &acc[a], 4*accRow)
			case "avx2":
				gradKernelsY[mr][kr](s.OutH, s.OutW, &y[phi], 4*phiO, 4*phiRow, &x[base], 4*eRow, 4*eCol, &t.rel[j0], &acc[a], 4*accRow)
			default:
				for r := 0; r < mr; r++ {
					for j := 0; j < kr; j++ {
						dst := acc[a+r*accRow+j*TileImages:][:TileImages]
						for oy := 0; oy < s.OutH; oy++ {
							for ox := 0; ox < s.OutW; ox++ {
								py := y[phi+r*phiO+oy*phiRow+ox*TileImages:][:TileImages]
								ex := x[base+oy*eRow+ox*eCol+t.rel[j0+j]/4:][:TileImages]
								for i := range dst {
									dst[i] += py[i] * ex[i]
								}
							}
						}
					}
				}
			}
		}
	}
}

// evenBlocks splits [0, n) into ceil(n/most) blocks of as even sizes as
// possible: {start, size} pairs.
func evenBlocks(n, most int) [][2]int {
	var out [][2]int
	nb := (n + most - 1) / most
	for i, r0 := 0, 0; i < nb; i++ {
		sz := (n - r0) / (nb - i)
		out = append(out, [2]int{r0, sz})
		r0 += sz
	}
	return out
}

// SumLanes adds into dst[w] the first n lanes of acc's vector w (the
// images a tile holds), in float64: dst[w] += Σ_i<n acc[w·TileImages + i].
func SumLanes(dst []float64, acc []float32, n int) {
	checkLen("SumLanes acc", acc, len(dst)*TileImages)
	if n < 0 || n > TileImages {
		panic(fmt.Sprintf("tensor: SumLanes of %d lanes", n))
	}
	for w := range dst {
		var s float64
		for _, v := range acc[w*TileImages : w*TileImages+n] {
			s += float64(v)
		}
		dst[w] += s
	}
}

// OutRows views a row buffer written by Row as the rows of the M output maps.
func (p *TileConv) OutRows(buf []float32) MapRows {
	w := p.w * TileImages
	return MapRows{Buf: buf, Stride: w, Len: w, Maps: p.m}
}
