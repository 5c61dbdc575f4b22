package tensor

import "sync"

// Panel sizes of the register-blocked micro-kernel.
const (
	panelRows = 6
	panelCols = 16
)

// gemmScratch recycles the packed copy of A and the row pointer tables.
type gemmScratch struct {
	pack []float32
	bp   []*float32
	cp   []*float32
}

var gemmPool = sync.Pool{New: func() any { return new(gemmScratch) }}

// gemmRows computes C = A·B, overwriting the first n columns of C, where A
// is m×k and small (read through at(i, kk)), B has k rows b[kk] and C has m
// rows c[i], each row a slice of at least n floats. Rows may live anywhere:
// this is what lets one feature map be one slice, whether it belongs to a
// whole layer or to a map actor. Work is split over column strips on
// GOMAXPROCS goroutines; with AVX2 and FMA each 6×16 tile of C is computed in
// registers by an assembly micro-kernel.
func gemmRows(c [][]float32, m, k int, at func(i, kk int) float32, b [][]float32, n int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i][:n])
		}
		return
	}
	for i := 0; i < m; i++ {
		checkMin("gemm C row", c[i], n)
	}
	for kk := 0; kk < k; kk++ {
		checkMin("gemm B row", b[kk], n)
	}
	sc := gemmPool.Get().(*gemmScratch)
	defer func() {
		clear(sc.bp) // do not keep the caller's rows alive
		clear(sc.cp)
		gemmPool.Put(sc)
	}()
	panels := (m + panelRows - 1) / panelRows
	need := panels * panelRows * k
	if cap(sc.pack) < need {
		sc.pack = make([]float32, need)
	}
	pack := sc.pack[:need]
	for p := 0; p < panels; p++ {
		dst := pack[p*panelRows*k : (p+1)*panelRows*k]
		for kk := 0; kk < k; kk++ {
			for r := 0; r < panelRows; r++ {
				if i := p*panelRows + r; i < m {
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
	if strips > 0 {
		sc.bp = sc.bp[:0]
		for kk := 0; kk < k; kk++ {
			sc.bp = append(sc.bp, &b[kk][0])
		}
		sc.cp = sc.cp[:0]
		for i := 0; i < panels*panelRows; i++ {
			sc.cp = append(sc.cp, &c[min(i, m-1)][0])
		}
		bp, cp := sc.bp, sc.cp
		parallelFor(strips, m*k*panelCols, func(lo, hi int) {
			for s := lo; s < hi; s++ {
				off := s * panelCols * 4
				for p := 0; p < panels; p++ {
					rows := min(panelRows, m-p*panelRows)
					kern6x16(k, off, rows, &pack[p*panelRows*k], &bp[0], &cp[p*panelRows])
				}
			}
		})
	}
	// Columns the micro-kernel did not cover.
	if j0 := strips * panelCols; j0 < n {
		parallelFor(m, k*(n-j0), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ci := c[i][j0:n]
				clear(ci)
				p, r := i/panelRows, i%panelRows
				for kk := 0; kk < k; kk++ {
					a := pack[p*panelRows*k+kk*panelRows+r]
					if a == 0 {
						continue
					}
					bk := b[kk][j0:n]
					for j, v := range bk {
						ci[j] += a * v
					}
				}
			}
		})
	}
}

func checkMin(what string, v []float32, n int) {
	if len(v) < n {
		panic("tensor: " + what + " shorter than the matrix")
	}
}
