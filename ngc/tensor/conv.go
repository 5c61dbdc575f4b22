package tensor

import (
	"gonum.org/v1/gonum/blas/blas32"
)

// Maps splits v into c consecutive maps of equal length: the per-map view
// of a [C][B][H][W] slice.
func Maps(v []float32, c int) [][]float32 {
	n := len(v) / c
	out := make([][]float32, c)
	for i := range out {
		out[i] = v[i*n : (i+1)*n : (i+1)*n]
	}
	return out
}

// Conv computes the strided convolution y = K ∗ x:
//
//	y[o][b][oy][ox] = Σ_c Σ_ty,tx K[o][c][ty][tx] · x[c][b][oy·S+ty'−PadTop][ox·S+tx'−PadLeft]
//
// where (ty', tx') = (ty, tx), or (K−1−ty, K−1−tx) with s.Flip. y is
// overwritten ([OutC][Batch][OutH][OutW]); kernel has layout [OutC][InC][K][K];
// cols is scratch of length s.ColsLen().
func Conv(y, x, kernel, cols []float32, s ConvSpec) {
	checkLen("Conv y", y, s.OutLen())
	checkLen("Conv x", x, s.InLen())
	ConvMaps(Maps(y, s.OutC), Maps(x, s.InC), kernel, cols, s)
}

// ConvMaps is Conv on maps held in separate slices: y[o] and x[c] are the
// Batch·H·W floats of one map each.
func ConvMaps(y, x [][]float32, kernel, cols []float32, s ConvSpec) {
	checkMaps("ConvMaps y", y, s.OutC, s.Batch*s.OutH*s.OutW)
	checkLen("ConvMaps kernel", kernel, s.KernelLen())
	Im2ColMaps(cols, x, s)
	ConvCols(y, cols, kernel, s)
}

// ConvCols finishes a convolution from patches already gathered by
// Im2ColMaps: y = K · cols. Several convolutions of the same input (for
// example the feedback of every state map of a layer) can share one patch
// matrix this way.
func ConvCols(y [][]float32, cols, kernel []float32, s ConvSpec) {
	checkMaps("ConvCols y", y, s.OutC, s.Batch*s.OutH*s.OutW)
	checkLen("ConvCols kernel", kernel, s.KernelLen())
	checkLen("ConvCols cols", cols, s.ColsLen())
	n := s.Batch * s.OutH * s.OutW
	kc := s.InC * s.K * s.K
	gemmRows(y, s.OutC, kc, func(i, kk int) float32 { return kernel[i*kc+kk] }, Maps(cols, kc), n)
}

// ConvColsKernels is ConvCols with the kernel of every output map in a
// slice of its own: y[o] = kernels[o] · cols, where kernels[o] holds the
// InC·K·K weights [InC][K][K] of map o and s.OutC = len(y) = len(kernels).
// The maps of one layer that different actors own can so be computed in
// one matrix product over one shared patch matrix, each actor keeping its
// kernels: a single product reads the patches once where one
// matrix–vector product per map would read them once per map.
func ConvColsKernels(y [][]float32, cols []float32, kernels [][]float32, s ConvSpec) {
	checkMaps("ConvColsKernels y", y, s.OutC, s.Batch*s.OutH*s.OutW)
	kc := s.InC * s.K * s.K
	checkMaps("ConvColsKernels kernels", kernels, s.OutC, kc)
	checkLen("ConvColsKernels cols", cols, s.ColsLen())
	n := s.Batch * s.OutH * s.OutW
	gemmRows(y, s.OutC, kc, func(i, kk int) float32 { return kernels[i][kk] }, Maps(cols, kc), n)
}

// ConvT computes the transposed convolution x = Kᵀ ∗ y, the exact adjoint of
// Conv with the same kernel and spec: ⟨ConvT(y), x'⟩ = ⟨y, Conv(x')⟩ for all
// x', y. x is overwritten ([InC][Batch][InH][InW]); cols is scratch.
func ConvT(x, y, kernel, cols []float32, s ConvSpec) {
	checkLen("ConvT x", x, s.InLen())
	checkLen("ConvT y", y, s.OutLen())
	ConvTMaps(Maps(x, s.InC), Maps(y, s.OutC), kernel, cols, s)
}

// ConvTMaps is ConvT on maps held in separate slices.
func ConvTMaps(x, y [][]float32, kernel, cols []float32, s ConvSpec) {
	checkMaps("ConvTMaps y", y, s.OutC, s.Batch*s.OutH*s.OutW)
	checkLen("ConvTMaps kernel", kernel, s.KernelLen())
	checkLen("ConvTMaps cols", cols, s.ColsLen())
	n := s.Batch * s.OutH * s.OutW
	kc := s.InC * s.K * s.K
	gemmRows(Maps(cols, kc), kc, s.OutC, func(i, kk int) float32 { return kernel[kk*kc+i] }, y, n)
	Col2ImMaps(x, cols, s)
}

// ConvKernelGrad accumulates into dk the correlation of the small-side maps y
// with the patches of the large-side maps x:
//
//	dk ← alpha · Σ_b,oy,ox y[o][b][oy][ox] · x[c][b][oy·S+ty'−PadTop][ox·S+tx'−PadLeft] + beta · dk
//
// With y = ∂L/∂(Conv(x)) this is ∂L/∂K; with x = e (an error map below) and
// y = φ(z) (states above) it is Conv-NGC's Hebbian update
// e ⋆ Dilate(φ(z), S). cols is scratch.
func ConvKernelGrad(dk, x, y, cols []float32, s ConvSpec, alpha, beta float32) {
	checkLen("ConvKernelGrad x", x, s.InLen())
	checkLen("ConvKernelGrad y", y, s.OutLen())
	ConvKernelGradMaps(dk, Maps(x, s.InC), Maps(y, s.OutC), cols, s, alpha, beta)
}

// ConvKernelGradMaps is ConvKernelGrad on maps held in separate slices.
func ConvKernelGradMaps(dk []float32, x, y [][]float32, cols []float32, s ConvSpec, alpha, beta float32) {
	checkMaps("ConvKernelGradMaps y", y, s.OutC, s.Batch*s.OutH*s.OutW)
	checkLen("ConvKernelGradMaps dk", dk, s.KernelLen())
	Im2ColMaps(cols, x, s)
	n := s.Batch * s.OutH * s.OutW
	kc := s.InC * s.K * s.K
	parallelFor(s.OutC*kc, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, q := r/kc, r%kc
			d := blas32.Dot(blas32.Vector{N: n, Inc: 1, Data: y[o]}, blas32.Vector{N: n, Inc: 1, Data: cols[q*n : (q+1)*n]})
			if beta == 0 {
				dk[r] = alpha * d
			} else {
				dk[r] = alpha*d + beta*dk[r]
			}
		}
	})
}

func checkMaps(what string, v [][]float32, c, n int) {
	if len(v) != c {
		panic("tensor: " + what + ": wrong number of maps")
	}
	for _, m := range v {
		checkLen(what, m, n)
	}
}
