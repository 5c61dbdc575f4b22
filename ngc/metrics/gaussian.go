package metrics

import "math"

// gaussianKernel returns the 1-D window of SSIMGaussian as scipy.ndimage
// builds it: exp(−k²/(2σ²)) for k = −5..5, normalised to sum 1.
func gaussianKernel() [GaussianWindow]float64 {
	var k [GaussianWindow]float64
	var sum float64
	for i := range k {
		d := float64(i - gaussRadius)
		k[i] = math.Exp(-0.5 / (GaussianSigma * GaussianSigma) * d * d)
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// gaussianSSIM returns the mean Gaussian-window SSIM of the channel in e.x and
// e.y. The 2-D window is separable, so the five local moments (means of x, y,
// x², y², xy) are filtered along rows and then along columns. Only pixels at
// least gaussRadius from every border are kept (the crop scikit-image applies),
// so the filters never leave the image and no border mode is needed.
func (e *evaluator) gaussianSSIM() float64 {
	const r = gaussRadius
	h, w := e.s.H, e.s.W
	oh, ow := h-2*r, w-2*r
	k := e.kernel
	plane := h * ow
	fx, fy := e.h[0:plane], e.h[plane:2*plane]
	fxx, fyy, fxy := e.h[2*plane:3*plane], e.h[3*plane:4*plane], e.h[4*plane:5*plane]

	// Along rows: every row, the ow columns whose window fits.
	for i := range h {
		xr, yr := e.x[i*w:(i+1)*w], e.y[i*w:(i+1)*w]
		for j := range ow {
			var sx, sy, sxx, syy, sxy float64
			xs, ys := xr[j:j+GaussianWindow], yr[j:j+GaussianWindow]
			for t, kt := range k {
				a, b := xs[t], ys[t]
				ka, kb := kt*a, kt*b
				sx += ka
				sy += kb
				sxx += ka * a
				syy += kb * b
				sxy += ka * b
			}
			o := i*ow + j
			fx[o], fy[o], fxx[o], fyy[o], fxy[o] = sx, sy, sxx, syy, sxy
		}
	}

	// Along columns: the oh×ow pixels kept by the crop; sum their SSIM.
	var total float64
	for i := range oh {
		for j := range ow {
			var ux, uy, uxx, uyy, uxy float64
			for t, kt := range k {
				o := (i+t)*ow + j
				ux += kt * fx[o]
				uy += kt * fy[o]
				uxx += kt * fxx[o]
				uyy += kt * fyy[o]
				uxy += kt * fxy[o]
			}
			vx := uxx - ux*ux
			vy := uyy - uy*uy
			vxy := uxy - ux*uy
			total += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
		}
	}
	return total / float64(oh*ow)
}
