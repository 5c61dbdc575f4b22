package data

import "math"

// bilinear resamples h×w row-major planes to oh×ow planes by bilinear
// interpolation with half-pixel centres (the align_corners=false convention
// of PyTorch, TensorFlow 2 and OpenCV): output pixel (y, x) samples the input
// at
//
//	sy = (y+0.5)·h/oh − 0.5,  sx = (x+0.5)·w/ow − 0.5,
//
// clamped to [0, h−1] and [0, w−1], so the borders repeat the edge pixels.
// It does no anti-aliasing: shrinking by a large factor aliases. The taps are
// computed once, so one bilinear serves many planes of the same size.
type bilinear struct {
	h, w, oh, ow   int
	x0, x1, y0, y1 []int
	fx, fy         []float32
}

// newBilinear returns a resampler from h×w to oh×ow; all must be positive.
func newBilinear(oh, ow, h, w int) *bilinear {
	r := &bilinear{h: h, w: w, oh: oh, ow: ow}
	r.x0, r.x1, r.fx = bilinearTaps(ow, w)
	r.y0, r.y1, r.fy = bilinearTaps(oh, h)
	return r
}

// resize writes the resampled plane src (h×w) into dst (oh×ow).
func (r *bilinear) resize(dst, src []float32) {
	w, ow := r.w, r.ow
	for y := range r.oh {
		r0 := src[r.y0[y]*w : r.y0[y]*w+w]
		r1 := src[r.y1[y]*w : r.y1[y]*w+w]
		wy := r.fy[y]
		row := dst[y*ow : y*ow+ow]
		for x := range row {
			i0, i1, wx := r.x0[x], r.x1[x], r.fx[x]
			a := r0[i0] + (r0[i1]-r0[i0])*wx
			b := r1[i0] + (r1[i1]-r1[i0])*wx
			row[x] = a + (b-a)*wy
		}
	}
}

// bilinearTaps returns, for each of the out output positions along an axis
// of in input pixels, the two input indices to blend and the weight of the
// second.
func bilinearTaps(out, in int) (i0, i1 []int, f []float32) {
	i0 = make([]int, out)
	i1 = make([]int, out)
	f = make([]float32, out)
	scale := float64(in) / float64(out)
	for o := range out {
		s := (float64(o)+0.5)*scale - 0.5
		s = math.Max(0, math.Min(s, float64(in-1)))
		lo := int(s)
		i0[o] = lo
		i1[o] = min(lo+1, in-1)
		f[o] = float32(s - float64(lo))
	}
	return i0, i1, f
}

// resizeArea shrinks the h×w plane src into the oh×ow plane dst by averaging
// each (h/oh)×(w/ow) block; h and w must be multiples of oh and ow.
func resizeArea(dst []float32, oh, ow int, src []float32, h, w int) {
	bh, bw := h/oh, w/ow
	inv := 1 / float32(bh*bw)
	for y := range oh {
		for x := range ow {
			var sum float32
			for dy := range bh {
				row := src[(y*bh+dy)*w+x*bw:]
				for _, v := range row[:bw] {
					sum += v
				}
			}
			dst[y*ow+x] = sum * inv
		}
	}
}

// resizePlane resamples the h×w plane src to Height×Width into dst: a copy
// when the size already matches, block averaging when h and w are integer
// multiples of Height and Width, bilinear interpolation otherwise (both for
// shrinking and enlarging).
func resizePlane(dst, src []float32, h, w int) {
	switch {
	case h == Height && w == Width:
		copy(dst[:PlaneSize], src)
	case h%Height == 0 && w%Width == 0:
		resizeArea(dst, Height, Width, src, h, w)
	default:
		newBilinear(Height, Width, h, w).resize(dst, src)
	}
}
