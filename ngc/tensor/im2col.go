package tensor

import "fmt"

// Im2Col writes the patch matrix of x into cols. x has the large-side layout
// [InC][Batch][InH][InW]; cols has InC·K·K rows, one per (channel, ky, kx),
// and Batch·OutH·OutW columns. Row (c, ky, kx) holds, for every small-side
// pixel, the input pixel under tap (ky, kx) — or under (K−1−ky, K−1−kx) when
// s.Flip is set — and zero where that falls into the padding.
func Im2Col(cols, x []float32, s ConvSpec) {
	checkLen("Im2Col x", x, s.InLen())
	Im2ColMaps(cols, Maps(x, s.InC), s)
}

// Im2ColMaps is Im2Col on input maps held in separate slices.
func Im2ColMaps(cols []float32, x [][]float32, s ConvSpec) {
	checkLen("Im2Col cols", cols, s.ColsLen())
	checkMaps("Im2Col x", x, s.InC, s.Batch*s.InH*s.InW)
	kk := s.K * s.K
	rows := s.InC * kk
	n := s.Batch * s.OutH * s.OutW
	parallelFor(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, t := r/kk, r%kk
			ty, tx := t/s.K, t%s.K
			if s.Flip {
				ty, tx = s.K-1-ty, s.K-1-tx
			}
			im2colRow(cols[r*n:(r+1)*n], x[c], s, ty, tx)
		}
	})
}

// im2colRow fills one row of the patch matrix for tap (ty, tx) of one channel
// whose maps start at xc.
func im2colRow(dst, xc []float32, s ConvSpec, ty, tx int) {
	plane := s.InH * s.InW
	// Range of output columns whose input column is inside the map.
	oxLo, oxHi := validRange(s.OutW, s.InW, s.Stride, tx-s.PadLeft)
	i := 0
	for b := 0; b < s.Batch; b++ {
		xb := xc[b*plane : (b+1)*plane]
		for oy := 0; oy < s.OutH; oy++ {
			row := dst[i : i+s.OutW]
			i += s.OutW
			iy := oy*s.Stride + ty - s.PadTop
			if iy < 0 || iy >= s.InH {
				clear(row)
				continue
			}
			if oxLo >= oxHi {
				clear(row)
				continue
			}
			xr := xb[iy*s.InW : (iy+1)*s.InW]
			clear(row[:oxLo])
			ix := oxLo*s.Stride + tx - s.PadLeft
			switch s.Stride {
			case 1:
				copy(row[oxLo:oxHi], xr[ix:])
			case 2:
				gather2(row[oxLo:oxHi], xr[ix:])
			default:
				for ox := oxLo; ox < oxHi; ox++ {
					row[ox] = xr[ix]
					ix += s.Stride
				}
			}
			clear(row[oxHi:])
		}
	}
}

// validRange returns the output positions [lo, hi) of an axis of out pixels
// whose input position o·stride + off lies in [0, in).
func validRange(out, in, stride, off int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = 0
	if in-1-off >= 0 {
		hi = (in-1-off)/stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

// Col2Im is the adjoint of Im2Col: it overwrites x ([InC][Batch][InH][InW])
// with the sum, over every (channel, tap) row of cols, of the entries scattered
// back to the input pixels they were read from.
func Col2Im(x, cols []float32, s ConvSpec) {
	checkLen("Col2Im x", x, s.InLen())
	Col2ImMaps(Maps(x, s.InC), cols, s)
}

// Col2ImMaps is Col2Im on output maps held in separate slices.
func Col2ImMaps(x [][]float32, cols []float32, s ConvSpec) {
	checkLen("Col2Im cols", cols, s.ColsLen())
	checkMaps("Col2Im x", x, s.InC, s.Batch*s.InH*s.InW)
	kk := s.K * s.K
	n := s.Batch * s.OutH * s.OutW
	plane := s.InH * s.InW
	outPlane := s.OutH * s.OutW
	// One task per (channel, image): disjoint destinations, no races.
	parallelFor(s.InC*s.Batch, kk*outPlane, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			c, b := task/s.Batch, task%s.Batch
			xb := x[c][b*plane : (b+1)*plane]
			clear(xb)
			for t := 0; t < kk; t++ {
				ty, tx := t/s.K, t%s.K
				if s.Flip {
					ty, tx = s.K-1-ty, s.K-1-tx
				}
				src := cols[(c*kk+t)*n+b*outPlane : (c*kk+t)*n+(b+1)*outPlane]
				oxLo, oxHi := validRange(s.OutW, s.InW, s.Stride, tx-s.PadLeft)
				if oxLo >= oxHi {
					continue // this tap reads only padding
				}
				for oy := 0; oy < s.OutH; oy++ {
					iy := oy*s.Stride + ty - s.PadTop
					if iy < 0 || iy >= s.InH {
						continue
					}
					xr := xb[iy*s.InW : (iy+1)*s.InW]
					sr := src[oy*s.OutW : (oy+1)*s.OutW]
					ix := oxLo*s.Stride + tx - s.PadLeft
					if s.Stride == 2 {
						scatterAdd2(xr[ix:], sr[oxLo:oxHi])
						continue
					}
					for ox := oxLo; ox < oxHi; ox++ {
						xr[ix] += sr[ox]
						ix += s.Stride
					}
				}
			}
		}
	})
}

func checkLen(what string, v []float32, want int) {
	if len(v) != want {
		panic(fmt.Sprintf("tensor: %s has length %d, want %d", what, len(v), want))
	}
}

// gather2 sets dst[i] = src[2i].
func gather2(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:2*len(dst)-1]
	for i := range dst {
		dst[i] = src[2*i]
	}
}

// scatterAdd2 adds src[i] into dst[2i].
func scatterAdd2(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	dst = dst[:2*len(src)-1]
	for i, v := range src {
		dst[2*i] += v
	}
}
