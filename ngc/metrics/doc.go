// Package metrics computes the image-quality measures of the Conv-NGC paper
// (Appendix B, "Measured Metrics", Eq. 4–6) for reconstructions and denoised
// outputs.
//
// # Inputs
//
// Every function takes a batch of original images x and a batch of model
// outputs xhat as float32 slices with pixel values in [0, 1], laid out
// N×C×H×W in row-major order (NCHW: image, channel, row, column; the column
// index varies fastest), together with an explicit [Shape]. Both slices must
// hold exactly Shape.N·C·H·W values; anything else is an error wrapping
// [ErrShape]. Pixels are rescaled to [0, 255] (multiplied by 255) before any
// metric is computed; they are not clipped, so values outside [0, 1] are
// measured as they are. All arithmetic is done in float64, and a NaN in the
// input yields a NaN metric.
//
// # Metrics
//
// All four metrics are computed per image and per channel, averaged over the
// channels of an image, and then averaged over the images, exactly as the
// paper's equations nest their sums:
//
//   - [MSE] (Eq. 4): mean squared difference over the H×W pixels of a channel,
//     in units of the [0, 255] scale (so it is 255² times the MSE on [0, 1]).
//   - [PSNR] (Eq. 6): 20·log10(255/√mse) per image and channel, in decibels,
//     capped at [MaxPSNR] (100 dB) so that a channel reproduced exactly (mse = 0)
//     gives a finite value. Note that the mean of per-channel PSNRs is not the
//     PSNR of the mean MSE.
//   - [SSIM] (Eq. 5, as the paper writes it): one global window per image and
//     channel: the means, population variances and population covariance are
//     taken over all H×W pixels, with Q = 255, C1 = (0.01·Q)² and
//     C2 = (0.03·Q)².
//   - [SSIMGaussian]: the standard SSIM of Wang et al. (2004) with an 11×11
//     Gaussian window (σ = 1.5, K1 = 0.01, K2 = 0.03, data range 255), matching
//     scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
//     use_sample_covariance=False, data_range=255) applied per channel. It
//     needs images of at least 11×11 pixels; smaller ones give [ErrTooSmall].
//
// The two SSIMs are different quantities and are reported under different
// names; papers that say "SSIM" usually mean the Gaussian one.
//
// # Batches
//
// [Evaluate] returns all four metrics as a [Report]; [PerImage] returns one
// Report per image, for plots and spread. Evaluation normally runs in
// mini-batches: an [Accumulator] adds batches one at a time and its
// [Accumulator.Report] equals Evaluate on the concatenation of the batches.
//
// Images are processed in parallel by at most runtime.GOMAXPROCS(0)
// goroutines. Results do not depend on the number of goroutines: per-image
// values are summed in image order.
package metrics
