package tensor

// ToMapMajor copies n images from the image-major layout [N][C][H·W] of src
// into the map-major layout [C][N][H·W] of dst.
func ToMapMajor(dst, src []float32, n, c, plane int) {
	checkLen("ToMapMajor dst", dst, n*c*plane)
	checkLen("ToMapMajor src", src, n*c*plane)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(dst[(ch*n+i)*plane:(ch*n+i+1)*plane], src[(i*c+ch)*plane:(i*c+ch+1)*plane])
		}
	}
}

// FromMapMajor is the inverse of ToMapMajor.
func FromMapMajor(dst, src []float32, n, c, plane int) {
	checkLen("FromMapMajor dst", dst, n*c*plane)
	checkLen("FromMapMajor src", src, n*c*plane)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(dst[(i*c+ch)*plane:(i*c+ch+1)*plane], src[(ch*n+i)*plane:(ch*n+i+1)*plane])
		}
	}
}

// Dot returns Σ a[i]·b[i] accumulated in float64.
func Dot(a, b []float32) float64 {
	checkLen("Dot b", b, len(a))
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// SumSquares returns Σ v² accumulated in float64.
func SumSquares(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}
