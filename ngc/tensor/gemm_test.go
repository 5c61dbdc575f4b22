package tensor

import (
	"math/rand/v2"
	"testing"
)

func TestGemmRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, sz := range []struct{ m, k, n int }{
		{1, 1, 1}, {6, 3, 16}, {7, 5, 17}, {13, 27, 48}, {25, 225, 80}, {3, 1, 33}, {12, 9, 15},
	} {
		a := randSlice(r, sz.m*sz.k)
		ldb, ldc := sz.n+3, sz.n+5
		b := randSlice(r, sz.k*ldb)
		c := randSlice(r, sz.m*ldc) // garbage that must be overwritten (within n columns)
		rowsOf := func(v []float32, r, ld int) [][]float32 {
			out := make([][]float32, r)
			for i := range out {
				out[i] = v[i*ld : i*ld+ld]
			}
			return out
		}
		gemmRows(rowsOf(c, sz.m, ldc), sz.m, sz.k, func(i, kk int) float32 { return a[i*sz.k+kk] }, rowsOf(b, sz.k, ldb), sz.n)
		for i := 0; i < sz.m; i++ {
			for j := 0; j < sz.n; j++ {
				var want float64
				for kk := 0; kk < sz.k; kk++ {
					want += float64(a[i*sz.k+kk]) * float64(b[kk*ldb+j])
				}
				closeAll(t, "gemm", c[i*ldc+j:i*ldc+j+1], []float32{float32(want)}, 1e-5)
			}
		}
	}
}
