package tensor

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Conv computes the strided convolution y = K ∗ x:
//
//	y[o][b][oy][ox] = Σ_c Σ_ty,tx K[o][c][ty][tx] · x[c][b][oy·S+ty'−PadTop][ox·S+tx'−PadLeft]
//
// where (ty', tx') = (ty, tx), or (K−1−ty, K−1−tx) with s.Flip. y is
// overwritten ([OutC][Batch][OutH][OutW]); kernel has layout [OutC][InC][K][K];
// cols is scratch of length s.ColsLen().
func Conv(y, x, kernel, cols []float32, s ConvSpec) {
	checkLen("Conv y", y, s.OutLen())
	checkLen("Conv kernel", kernel, s.KernelLen())
	Im2Col(cols, x, s)
	n := s.Batch * s.OutH * s.OutW
	kc := s.InC * s.K * s.K
	gemmSmallA(y, n, s.OutC, kc, func(i, kk int) float32 { return kernel[i*kc+kk] }, cols, n, n)
}

// ConvT computes the transposed convolution x = Kᵀ ∗ y, the exact adjoint of
// Conv with the same kernel and spec: ⟨ConvT(y), x'⟩ = ⟨y, Conv(x')⟩ for all
// x', y. x is overwritten ([InC][Batch][InH][InW]); cols is scratch.
func ConvT(x, y, kernel, cols []float32, s ConvSpec) {
	checkLen("ConvT y", y, s.OutLen())
	checkLen("ConvT kernel", kernel, s.KernelLen())
	n := s.Batch * s.OutH * s.OutW
	kc := s.InC * s.K * s.K
	checkLen("ConvT cols", cols, s.ColsLen())
	gemmSmallA(cols, n, kc, s.OutC, func(i, kk int) float32 { return kernel[kk*kc+i] }, y, n, n)
	Col2Im(x, cols, s)
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
	checkLen("ConvKernelGrad y", y, s.OutLen())
	checkLen("ConvKernelGrad dk", dk, s.KernelLen())
	Im2Col(cols, x, s)
	n := s.Batch * s.OutH * s.OutW
	kc := s.InC * s.K * s.K
	if beta == 0 {
		clear(dk)
	}
	gemm(blas.NoTrans, blas.Trans, alpha,
		blas32.General{Rows: s.OutC, Cols: n, Stride: n, Data: y},
		blas32.General{Rows: kc, Cols: n, Stride: n, Data: cols},
		beta, blas32.General{Rows: s.OutC, Cols: kc, Stride: kc, Data: dk})
}

// gemm is C = alpha·op(A)·op(B) + beta·C through gonum's BLAS.
func gemm(ta, tb blas.Transpose, alpha float32, a, b blas32.General, beta float32, c blas32.General) {
	blas32.Gemm(ta, tb, alpha, a, b, beta, c)
}
