//go:build !amd64 || purego

package tensor

// Without the assembly, tileISA is "go" and none of these is called.

var tileKernelsZ, tileKernelsY [7][9]tileKernel

func biasErrZ(mu, e, z *float32, n int, b float32) float32 { panic("tensor: no assembly") }
func biasErrY(mu, e, z *float32, n int, b float32) float32 { panic("tensor: no assembly") }

func correctPhiZ(z, e, fb, phi *float32, n int, keep, beta, slope float32) {
	panic("tensor: no assembly")
}

func correctPhiY(z, e, fb, phi *float32, n int, keep, beta, slope float32) {
	panic("tensor: no assembly")
}

func leakyZ(dst, src *float32, n int, slope float32) { panic("tensor: no assembly") }
func leakyY(dst, src *float32, n int, slope float32) { panic("tensor: no assembly") }

var gradKernelsZ, gradKernelsY [5][7]gradKernel

func biasErrMapsZ(mu *float32, muS int, e *float32, eS int, z *float32, zS int, n, rows int, bias *float32) float32 {
	panic("tensor: no assembly")
}

func biasErrMapsY(mu *float32, muS int, e *float32, eS int, z *float32, zS int, n, rows int, bias *float32) float32 {
	panic("tensor: no assembly")
}

func correctMapsZ(z *float32, zS int, e *float32, eS int, fb *float32, fbS int, phi *float32, phiS int, n, rows int, keep, beta, slope float32) {
	panic("tensor: no assembly")
}

func correctMapsY(z *float32, zS int, e *float32, eS int, fb *float32, fbS int, phi *float32, phiS int, n, rows int, keep, beta, slope float32) {
	panic("tensor: no assembly")
}

func lanesToRowZ(dst, src *float32, w int)            { panic("tensor: no assembly") }
func rowToLanesZ(dst, src *float32, stride, w, n int) { panic("tensor: no assembly") }
