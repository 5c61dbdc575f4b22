package neuron

import "github.com/convngc/convngc/ngc/tensor"

// Incremental synaptic kernels: a receiver of sigma-delta messages updates
// its sums by the changes of the units listed, instead of convolving the
// whole map again. Both follow package tensor's definition of the
// convolution (see tensor.Conv): input pixel (iy, ix) lies under output
// pixel (oy, ox) and tap (ty, tx) when iy = oy·Stride + ty′ − PadTop (and
// likewise for x), ty′ = ty, or K−1−ty with Flip. Each returns the
// multiply-accumulates it made: one per tap that lands inside the map.

// addConvT adds to x (one large-side map, [Batch][InH][InW]) the transposed
// convolution of the changes dy of the units listed in dirty of one
// small-side map ([Batch][OutH][OutW]), through that map's K×K kernel k:
// the prediction's μ += W ⊛ Δφ(z).
func addConvT(x, k, dy []float32, dirty []int32, s tensor.ConvSpec) int64 {
	K, S := s.K, s.Stride
	outPlane, inPlane := s.OutH*s.OutW, s.InH*s.InW
	var ops int64
	for _, u := range dirty {
		d := dy[u]
		if d == 0 {
			continue
		}
		b, rest := int(u)/outPlane, int(u)%outPlane
		oy, ox := rest/s.OutW, rest%s.OutW
		xb := x[b*inPlane : (b+1)*inPlane]
		for ty := 0; ty < K; ty++ {
			ry := ty
			if s.Flip {
				ry = K - 1 - ty
			}
			iy := oy*S + ry - s.PadTop
			if iy < 0 || iy >= s.InH {
				continue
			}
			row := xb[iy*s.InW : (iy+1)*s.InW]
			kr := k[ty*K : (ty+1)*K]
			for tx := 0; tx < K; tx++ {
				rx := tx
				if s.Flip {
					rx = K - 1 - tx
				}
				ix := ox*S + rx - s.PadLeft
				if ix < 0 || ix >= s.InW {
					continue
				}
				row[ix] += kr[tx] * d
				ops++
			}
		}
	}
	return ops
}

// addConv adds to y (one small-side map, [Batch][OutH][OutW]) the strided
// convolution of the changes dx of the units listed in dirty of one
// large-side map ([Batch][InH][InW]), through that map's K×K kernel k: the
// feedback's fb += E ∗ Δe.
func addConv(y, k, dx []float32, dirty []int32, s tensor.ConvSpec) int64 {
	K, S := s.K, s.Stride
	outPlane, inPlane := s.OutH*s.OutW, s.InH*s.InW
	var ops int64
	for _, u := range dirty {
		d := dx[u]
		if d == 0 {
			continue
		}
		b, rest := int(u)/inPlane, int(u)%inPlane
		iy, ix := rest/s.InW, rest%s.InW
		yb := y[b*outPlane : (b+1)*outPlane]
		for ty := 0; ty < K; ty++ {
			ry := ty
			if s.Flip {
				ry = K - 1 - ty
			}
			ny := iy + s.PadTop - ry
			if ny < 0 || ny%S != 0 || ny/S >= s.OutH {
				continue
			}
			row := yb[(ny/S)*s.OutW : (ny/S+1)*s.OutW]
			kr := k[ty*K : (ty+1)*K]
			for tx := 0; tx < K; tx++ {
				rx := tx
				if s.Flip {
					rx = K - 1 - tx
				}
				nx := ix + s.PadLeft - rx
				if nx < 0 || nx%S != 0 || nx/S >= s.OutW {
					continue
				}
				row[nx/S] += kr[tx] * d
				ops++
			}
		}
	}
	return ops
}
