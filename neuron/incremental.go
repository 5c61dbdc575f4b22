package neuron

import "github.com/convngc/convngc/ngc/tensor"

// Incremental synaptic kernels: a receiver of sigma-delta messages updates
// its sums by the changes of the units listed, instead of convolving the
// whole map again. Both follow package tensor's definition of the
// convolution (see tensor.Conv): input pixel (iy, ix) lies under output
// pixel (oy, ox) and tap (ty, tx) when iy = oy·Stride + ty′ − PadTop (and
// likewise for x), ty′ = ty, or K−1−ty with Flip. Each returns the
// multiply-accumulates it made: one per tap that lands inside the map.

// tap pairs a kernel row (or column) with the pixel row (or column) it
// reaches.
type tap struct{ t, at int32 }

// taps is, for one geometry, what every pixel row and column of one side
// reaches on the other: the work of one changed unit, without a division.
type taps struct {
	spec       tensor.ConvSpec
	rows, cols [][]tap
}

// transposedTaps lists, for every small-side row (column) oy, the taps ty
// and large-side rows iy = oy·S + ty′ − PadTop inside the map: where a
// change of a small-side unit lands in the transposed convolution.
func transposedTaps(s tensor.ConvSpec) *taps {
	axis := func(out, in, pad int) [][]tap {
		t := make([][]tap, out)
		for o := range t {
			for k := 0; k < s.K; k++ {
				r := k
				if s.Flip {
					r = s.K - 1 - k
				}
				if i := o*s.Stride + r - pad; i >= 0 && i < in {
					t[o] = append(t[o], tap{int32(k), int32(i)})
				}
			}
		}
		return t
	}
	return &taps{spec: s, rows: axis(s.OutH, s.InH, s.PadTop), cols: axis(s.OutW, s.InW, s.PadLeft)}
}

// convTaps lists, for every large-side row (column) iy, the taps ty and
// small-side rows oy with oy·S + ty′ − PadTop = iy: where a change of a
// large-side unit lands in the strided convolution.
func convTaps(s tensor.ConvSpec) *taps {
	axis := func(in, out, pad int) [][]tap {
		t := make([][]tap, in)
		for o := 0; o < out; o++ {
			for k := 0; k < s.K; k++ {
				r := k
				if s.Flip {
					r = s.K - 1 - k
				}
				if i := o*s.Stride + r - pad; i >= 0 && i < in {
					t[i] = append(t[i], tap{int32(k), int32(o)})
				}
			}
		}
		return t
	}
	return &taps{spec: s, rows: axis(s.InH, s.OutH, s.PadTop), cols: axis(s.InW, s.OutW, s.PadLeft)}
}

// addConvT adds to x (one large-side map, [Batch][InH][InW]) the transposed
// convolution of the changes dy of the units listed in dirty of one
// small-side map ([Batch][OutH][OutW]), through that map's K×K kernel k:
// the prediction's μ += W ⊛ Δφ(z). tp is transposedTaps of the spec.
func addConvT(x, k, dy []float32, dirty []int32, tp *taps) int64 {
	s := &tp.spec
	K := s.K
	outPlane, inPlane := s.OutH*s.OutW, s.InH*s.InW
	var ops int64
	for _, u := range dirty {
		d := dy[u]
		if d == 0 {
			continue
		}
		b, rest := int(u)/outPlane, int(u)%outPlane
		rows, cols := tp.rows[rest/s.OutW], tp.cols[rest%s.OutW]
		xb := x[b*inPlane : (b+1)*inPlane]
		for _, r := range rows {
			row := xb[int(r.at)*s.InW : int(r.at+1)*s.InW]
			kr := k[int(r.t)*K : int(r.t+1)*K]
			for _, c := range cols {
				row[c.at] += kr[c.t] * d
			}
		}
		ops += int64(len(rows) * len(cols))
	}
	return ops
}

// addConv adds to y (one small-side map, [Batch][OutH][OutW]) the strided
// convolution of the changes dx of the units listed in dirty of one
// large-side map ([Batch][InH][InW]), through that map's K×K kernel k: the
// feedback's fb += E ∗ Δe. tp is convTaps of the spec.
func addConv(y, k, dx []float32, dirty []int32, tp *taps) int64 {
	s := &tp.spec
	K := s.K
	outPlane, inPlane := s.OutH*s.OutW, s.InH*s.InW
	var ops int64
	for _, u := range dirty {
		d := dx[u]
		if d == 0 {
			continue
		}
		b, rest := int(u)/inPlane, int(u)%inPlane
		rows, cols := tp.rows[rest/s.InW], tp.cols[rest%s.InW]
		yb := y[b*outPlane : (b+1)*outPlane]
		for _, r := range rows {
			row := yb[int(r.at)*s.OutW : int(r.at+1)*s.OutW]
			kr := k[int(r.t)*K : int(r.t+1)*K]
			for _, c := range cols {
				row[c.at] += kr[c.t] * d
			}
		}
		ops += int64(len(rows) * len(cols))
	}
	return ops
}
