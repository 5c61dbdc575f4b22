package neuron

import "github.com/convngc/convngc/ngc/tensor"

// The rules of a residual block's stages (the paper's Appendix C), written
// once for the batched reference (package ngc, on every map of a stage) and
// the block populations (BlockPop, on one map). Maps are planes of side
// size in the [C][B·H·W] layout: planes = maps·B.

// StageActivity computes a stage's activity from its transposed
// convolution a (planes of side size): h = ReLU(Pool(a)), the p×p max-pool
// of stride p when pool > 1, the rectifier when relu is set. h has side
// size/pool.
func StageActivity(h, a []float32, planes, size, pool int, relu bool) {
	if pool > 1 {
		maxPool(h, a, planes, size, pool)
	} else {
		copy(h, a[:planes*size*size])
	}
	if relu {
		n := size / max(pool, 1)
		tensor.ReLU.Apply(h[:planes*n*n], h[:planes*n*n])
	}
}

// StagePerturbation carries a perturbation src that arrives at a stage's
// activity h (planes of side size/pool) back to its convolution's output a
// (side size), writing d. With exact unset it is the paper's Eq. 8-11
// pathway, which skips the pool and the rectifier: each pooled unit's
// value is spread evenly over its window (nearest-neighbour upsampling
// scaled by 1/pool²). With exact set it is the adjoint of the forward
// pass: the rectifier's gate (where h > 0), then each pooled unit's value
// to its window's maximum in a. scratch holds len(h) floats when exact and
// relu are both set.
func StagePerturbation(d, src, a, h, scratch []float32, planes, size, pool int, relu, exact bool) {
	if exact && relu {
		gate(scratch, src, h)
		src = scratch[:len(h)]
	}
	switch {
	case pool > 1 && exact:
		poolRoute(d, src, a, planes, size, pool)
	case pool > 1:
		upsample(d, src, planes, size/pool, pool)
		s := 1 / float32(pool*pool)
		for i := range d[:planes*size*size] {
			d[i] *= s
		}
	default:
		copy(d, src[:planes*size*size])
	}
}

// AddUpsampled adds into dst (planes of side size·p) the nearest-neighbour
// upsampling by p of src (planes of side size): a residual block's skip
// term, z of the upper map onto a map of the predicted layer.
func AddUpsampled(dst, src []float32, planes, size, p int) {
	out := size * p
	for c := 0; c < planes; c++ {
		s := src[c*size*size : (c+1)*size*size]
		d := dst[c*out*out : (c+1)*out*out]
		for y := 0; y < out; y++ {
			row := s[(y/p)*size:]
			drow := d[y*out : (y+1)*out]
			for x := range drow {
				drow[x] += row[x/p]
			}
		}
	}
}

// AddSkipAdjoint adds into dst (planes of side size) the adjoint of
// AddUpsampled applied to src (planes of side size·p): every p×p window of
// src summed into its unit. It is the feedback of a residual block's skip
// term onto the upper map.
func AddSkipAdjoint(dst, src []float32, planes, size, p int) {
	big := size * p
	for c := 0; c < planes; c++ {
		d := dst[c*size*size : (c+1)*size*size]
		s := src[c*big*big : (c+1)*big*big]
		for y := 0; y < big; y++ {
			row := s[y*big : (y+1)*big]
			drow := d[(y/p)*size:]
			for x, v := range row {
				drow[x/p] += v
			}
		}
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
