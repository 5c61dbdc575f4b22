package metrics

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Constants of the metrics. They follow the paper (Eq. 4–6) and, for the
// Gaussian-window SSIM, Wang et al. (2004) as implemented by scikit-image.
const (
	// DataRange is Q, the dynamic range of the rescaled pixels: inputs in
	// [0, 1] are multiplied by DataRange before any metric is computed.
	DataRange = 255.0

	// K1 and K2 set the SSIM stabilising constants C1 = (K1·Q)² and
	// C2 = (K2·Q)².
	K1 = 0.01
	K2 = 0.03

	// MaxPSNR is the largest PSNR reported for one image channel, in dB. A
	// channel whose PSNR would exceed it, in particular an exact
	// reproduction with zero error (infinite PSNR), counts as MaxPSNR. This
	// follows the convention of many evaluation scripts ("if mse == 0:
	// return 100"); capping every value, not only mse == 0, keeps PSNR
	// monotone in the error.
	MaxPSNR = 100.0

	// GaussianSigma is the standard deviation, in pixels, of the window of
	// SSIMGaussian.
	GaussianSigma = 1.5

	// GaussianWindow is the side of the SSIMGaussian window: the Gaussian is
	// truncated at radius int(3.5·σ + 0.5) = 5 pixels, as scipy.ndimage does
	// for scikit-image's truncate = 3.5.
	GaussianWindow = 2*gaussRadius + 1
)

const gaussRadius = 5

// c1 and c2 are the SSIM stabilising constants for DataRange.
const (
	c1 = (K1 * DataRange) * (K1 * DataRange)
	c2 = (K2 * DataRange) * (K2 * DataRange)
)

// Report holds the four metrics of a set of images, each averaged over
// channels and then over images. For a Report from PerImage, Images is 1 and
// the values are those of a single image.
type Report struct {
	MSE          float64 `json:"mse"`           // Eq. 4, on the [0, 255] scale
	PSNR         float64 `json:"psnr"`          // Eq. 6, in dB, per channel capped at MaxPSNR
	SSIM         float64 `json:"ssim"`          // Eq. 5, one global window per channel
	SSIMGaussian float64 `json:"ssim_gaussian"` // 11×11 Gaussian window, σ = 1.5
	Images       int     `json:"images"`        // number of images averaged
}

// metric selects which metrics an evaluation computes.
type metric uint8

const (
	wantMSE metric = 1 << iota // MSE and PSNR (PSNR needs the MSE anyway)
	wantSSIM
	wantGaussian
	wantAll = wantMSE | wantSSIM | wantGaussian
)

// MSE returns the mean squared error of Eq. 4 between x and xhat on the
// [0, 255] scale: the mean over the H×W pixels of each channel, averaged over
// channels and images.
func MSE(x, xhat []float32, s Shape) (float64, error) {
	r, err := evaluate(x, xhat, s, wantMSE)
	if err != nil {
		return 0, fmt.Errorf("metrics: MSE: %w", err)
	}
	return r.MSE, nil
}

// PSNR returns the peak signal-to-noise ratio of Eq. 6 in dB:
// 20·log10(255/√mse) for each image and channel, where mse is that channel's
// mean squared error on the [0, 255] scale, averaged over channels and images.
// Each per-channel value is capped at MaxPSNR, so identical channels count as
// MaxPSNR rather than +Inf.
func PSNR(x, xhat []float32, s Shape) (float64, error) {
	r, err := evaluate(x, xhat, s, wantMSE)
	if err != nil {
		return 0, fmt.Errorf("metrics: PSNR: %w", err)
	}
	return r.PSNR, nil
}

// SSIM returns the structural similarity of Eq. 5 as the paper writes it, with
// one global window per image and channel:
//
//	SSIM = (2·μx·μy + C1)(2·σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
//
// where the means μ, the population variances σ² and the population
// covariance σxy are taken over all H×W pixels of the channel on the
// [0, 255] scale, C1 = (0.01·255)² and C2 = (0.03·255)². The value is
// averaged over channels and images.
func SSIM(x, xhat []float32, s Shape) (float64, error) {
	r, err := evaluate(x, xhat, s, wantSSIM)
	if err != nil {
		return 0, fmt.Errorf("metrics: SSIM: %w", err)
	}
	return r.SSIM, nil
}

// SSIMGaussian returns the standard SSIM of Wang et al. (2004), computed as
// scikit-image's structural_similarity(x, xhat, gaussian_weights=True,
// sigma=1.5, use_sample_covariance=False, data_range=255) for each channel of
// each image on the [0, 255] scale, averaged over channels and images.
//
// Local means, population variances and the covariance are weighted by an
// 11×11 Gaussian window (σ = 1.5, truncated at radius 5 and normalised to sum
// 1), and the SSIM map is averaged over the pixels at least 5 pixels away from
// every border: scikit-image filters with mode 'reflect' and then crops
// (11−1)/2 = 5 pixels from each side, and since the crop equals the window
// radius the kept pixels never see the reflected border, so this
// implementation filters only inside the image. Images must be at least
// 11×11; smaller ones give an error wrapping ErrTooSmall.
func SSIMGaussian(x, xhat []float32, s Shape) (float64, error) {
	r, err := evaluate(x, xhat, s, wantGaussian)
	if err != nil {
		return 0, fmt.Errorf("metrics: SSIMGaussian: %w", err)
	}
	return r.SSIMGaussian, nil
}

// Evaluate returns all four metrics of x against xhat, averaged over channels
// and images, with Images set to s.N. It needs images of at least 11×11
// pixels (see SSIMGaussian).
func Evaluate(x, xhat []float32, s Shape) (Report, error) {
	r, err := evaluate(x, xhat, s, wantAll)
	if err != nil {
		return Report{}, fmt.Errorf("metrics: Evaluate: %w", err)
	}
	return r, nil
}

// PerImage returns the four metrics of each of the s.N images separately,
// each averaged over that image's channels and with Images set to 1. The
// mean of the returned values is what Evaluate returns.
func PerImage(x, xhat []float32, s Shape) ([]Report, error) {
	rs, err := perImage(x, xhat, s, wantAll)
	if err != nil {
		return nil, fmt.Errorf("metrics: PerImage: %w", err)
	}
	return rs, nil
}

// PerImageError is PerImage for the MSE and PSNR only (the SSIM fields are
// zero): the cheap part, for measuring many outputs of the same images.
func PerImageError(x, xhat []float32, s Shape) ([]Report, error) {
	rs, err := perImage(x, xhat, s, wantMSE)
	if err != nil {
		return nil, fmt.Errorf("metrics: PerImageError: %w", err)
	}
	return rs, nil
}

// evaluate computes the selected metrics and averages them over images.
func evaluate(x, xhat []float32, s Shape, want metric) (Report, error) {
	rs, err := perImage(x, xhat, s, want)
	if err != nil {
		return Report{}, err
	}
	var sum sums
	sum.add(rs)
	return sum.mean(), nil
}

// sums accumulates per-image reports in order.
type sums struct {
	mse, psnr, ssim, gauss float64
	n                      int
}

func (a *sums) add(rs []Report) {
	for _, r := range rs {
		a.mse += r.MSE
		a.psnr += r.PSNR
		a.ssim += r.SSIM
		a.gauss += r.SSIMGaussian
	}
	a.n += len(rs)
}

func (a *sums) mean() Report {
	if a.n == 0 {
		return Report{}
	}
	n := float64(a.n)
	return Report{
		MSE:          a.mse / n,
		PSNR:         a.psnr / n,
		SSIM:         a.ssim / n,
		SSIMGaussian: a.gauss / n,
		Images:       a.n,
	}
}

// perImage validates the inputs and computes the selected metrics of every
// image, spreading the images over at most GOMAXPROCS goroutines.
func perImage(x, xhat []float32, s Shape, want metric) ([]Report, error) {
	if err := check(x, xhat, s); err != nil {
		return nil, err
	}
	if want&wantGaussian != 0 && (s.H < GaussianWindow || s.W < GaussianWindow) {
		return nil, fmt.Errorf("image %dx%d, want at least %dx%d: %w",
			s.H, s.W, GaussianWindow, GaussianWindow, ErrTooSmall)
	}
	out := make([]Report, s.N)
	kernel := gaussianKernel()
	size := s.C * s.H * s.W
	run := func(lo, hi int) {
		e := newEvaluator(s, want, &kernel)
		for n := lo; n < hi; n++ {
			out[n] = e.image(x[n*size:(n+1)*size], xhat[n*size:(n+1)*size])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), s.N)
	if workers <= 1 {
		run(0, s.N)
		return out, nil
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*s.N/workers, (w+1)*s.N/workers
		wg.Go(func() { run(lo, hi) })
	}
	wg.Wait()
	return out, nil
}

// evaluator holds one goroutine's scratch space.
type evaluator struct {
	s      Shape
	want   metric
	kernel *[GaussianWindow]float64
	x, y   []float64 // one channel on the [0, 255] scale
	h      []float64 // horizontally filtered x, y, x², y², xy (Gaussian SSIM)
}

func newEvaluator(s Shape, want metric, kernel *[GaussianWindow]float64) *evaluator {
	plane := s.H * s.W
	e := &evaluator{
		s:      s,
		want:   want,
		kernel: kernel,
		x:      make([]float64, plane),
		y:      make([]float64, plane),
	}
	if want&wantGaussian != 0 {
		e.h = make([]float64, 5*s.H*(s.W-2*gaussRadius))
	}
	return e
}

// image returns the selected metrics of one C×H×W image, averaged over its
// channels.
func (e *evaluator) image(x, y []float32) Report {
	plane := e.s.H * e.s.W
	var r Report
	for c := range e.s.C {
		xc, yc := x[c*plane:(c+1)*plane], y[c*plane:(c+1)*plane]
		for i := range plane {
			e.x[i] = float64(xc[i]) * DataRange
			e.y[i] = float64(yc[i]) * DataRange
		}
		if e.want&wantMSE != 0 {
			m := meanSquaredError(e.x, e.y)
			r.MSE += m
			r.PSNR += psnr(m)
		}
		if e.want&wantSSIM != 0 {
			r.SSIM += globalSSIM(e.x, e.y)
		}
		if e.want&wantGaussian != 0 {
			r.SSIMGaussian += e.gaussianSSIM()
		}
	}
	nc := float64(e.s.C)
	r.MSE /= nc
	r.PSNR /= nc
	r.SSIM /= nc
	r.SSIMGaussian /= nc
	r.Images = 1
	return r
}

// meanSquaredError returns the mean of (y−x)² over one channel.
func meanSquaredError(x, y []float64) float64 {
	var s float64
	for i, xi := range x {
		d := y[i] - xi
		s += d * d
	}
	return s / float64(len(x))
}

// psnr returns 20·log10(DataRange/√mse), capped at MaxPSNR.
func psnr(mse float64) float64 {
	if mse == 0 {
		return MaxPSNR
	}
	p := 20 * math.Log10(DataRange/math.Sqrt(mse))
	if p > MaxPSNR {
		return MaxPSNR
	}
	return p
}

// globalSSIM returns Eq. 5 with statistics over the whole channel.
func globalSSIM(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy float64
	for i, xi := range x {
		sx += xi
		sy += y[i]
	}
	mx, my := sx/n, sy/n
	var vx, vy, cxy float64
	for i, xi := range x {
		dx, dy := xi-mx, y[i]-my
		vx += dx * dx
		vy += dy * dy
		cxy += dx * dy
	}
	vx, vy, cxy = vx/n, vy/n, cxy/n
	return (2*mx*my + c1) * (2*cxy + c2) / ((mx*mx + my*my + c1) * (vx + vy + c2))
}
