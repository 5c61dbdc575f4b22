//go:build !purego

package tensor

//go:noescape
func biasErrZ(mu, e, z *float32, n int, b float32) float32

//go:noescape
func biasErrY(mu, e, z *float32, n int, b float32) float32

//go:noescape
func correctPhiZ(z, e, fb, phi *float32, n int, keep, beta, slope float32)

//go:noescape
func correctPhiY(z, e, fb, phi *float32, n int, keep, beta, slope float32)

//go:noescape
func leakyZ(dst, src *float32, n int, slope float32)

//go:noescape
func leakyY(dst, src *float32, n int, slope float32)

//go:noescape
func biasErrMapsZ(mu *float32, muS int, e *float32, eS int, z *float32, zS int, n, rows int, bias *float32) float32

//go:noescape
func biasErrMapsY(mu *float32, muS int, e *float32, eS int, z *float32, zS int, n, rows int, bias *float32) float32

//go:noescape
func correctMapsZ(z *float32, zS int, e *float32, eS int, fb *float32, fbS int, phi *float32, phiS int, n, rows int, keep, beta, slope float32)

//go:noescape
func correctMapsY(z *float32, zS int, e *float32, eS int, fb *float32, fbS int, phi *float32, phiS int, n, rows int, keep, beta, slope float32)

//go:noescape
func lanesToRowZ(dst, src *float32, w int)

//go:noescape
func rowToLanesZ(dst, src *float32, stride, w, n int)
