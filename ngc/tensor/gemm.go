package tensor

import "sync"

// Panel sizes of the register-blocked micro-kernel.
const (
	panelRows = 6
	panelCols = 16
)

// packPool recycles the small packed copies of the A operand.
var packPool = sync.Pool{New: func() any { s := make([]float32, 0, 1024); return &s }}

// gemmSmallA computes C = A·B, overwriting C, where A is m×k and small (it
// is read through at(i, kk)), B is k×n row-major with row stride ldb, and C is
// m×n row-major with row stride ldc. This is the shape of every convolution
// of the inference loop: a few dozen kernel rows against a patch or map
// matrix with one column per pixel of the mini-batch. Work is split over
// column strips on GOMAXPROCS goroutines; with AVX2 and FMA each 6×16 tile of
// C is computed in registers by an assembly micro-kernel.
func gemmSmallA(c []float32, ldc int, m, k int, at func(i, kk int) float32, b []float32, ldb, n int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	panels := (m + panelRows - 1) / panelRows
	pp := packPool.Get().(*[]float32)
	pack := (*pp)[:0]
	need := panels * panelRows * k
	if cap(pack) < need {
		pack = make([]float32, need)
	}
	pack = pack[:need]
	for p := 0; p < panels; p++ {
		dst := pack[p*panelRows*k : (p+1)*panelRows*k]
		for kk := 0; kk < k; kk++ {
			for r := 0; r < panelRows; r++ {
				i := p*panelRows + r
				if i < m {
					dst[kk*panelRows+r] = at(i, kk)
				} else {
					dst[kk*panelRows+r] = 0
				}
			}
		}
	}
	strips := n / panelCols
	if !hasKernel {
		strips = 0
	}
	parallelFor(strips, m*k*panelCols, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			j := s * panelCols
			for p := 0; p < panels; p++ {
				rows := min(panelRows, m-p*panelRows)
				kern6x16(k, ldb, ldc, rows, &pack[p*panelRows*k], &b[j], &c[p*panelRows*ldc+j])
			}
		}
	})
	// Columns the micro-kernel did not cover.
	if j0 := strips * panelCols; j0 < n {
		parallelFor(m, k*(n-j0), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ci := c[i*ldc+j0 : i*ldc+n]
				clear(ci)
				p, r := i/panelRows, i%panelRows
				for kk := 0; kk < k; kk++ {
					a := pack[p*panelRows*k+kk*panelRows+r]
					if a == 0 {
						continue
					}
					bk := b[kk*ldb+j0 : kk*ldb+n]
					for j, v := range bk {
						ci[j] += a * v
					}
				}
			}
		})
	}
	*pp = pack
	packPool.Put(pp)
}
