// Package tensor holds the float32 numerics shared by every path of the
// simulator: the batched reference (package ngc), the map actors (package
// neuron) and the backprop baselines.
//
// # Layout
//
// A layer of C feature maps over a mini-batch of B images of H×W pixels is one
// float32 slice in "map-major" order [C][B][H][W], row-major. One feature map
// of the whole mini-batch (B×H×W floats) is therefore contiguous: it is what a
// map actor owns and what one bus message carries. Images in data sets are
// kept as [N][C][H][W]; ToMapMajor and FromMapMajor convert.
//
// # Convolutions
//
// ConvSpec describes a strided, multi-channel 2-D convolution with TensorFlow
// "SAME" padding (see SameGeom). Three kernels implement it, all through one
// im2col index map and a matrix multiply (gonum's BLAS), so they are exact
// adjoints of each other up to float32 summation order:
//
//	Conv            y = K ∗ x          (large map → small map)
//	ConvT           x = Kᵀ ∗ y         (small map → large map, the adjoint)
//	ConvKernelGrad  dK = Σ y ⊗ patches(x)   (the Hebbian/gradient kernel update)
//
// Kernels have the layout [OutC][InC][K][K] where OutC counts the maps of the
// small (strided) side. With Flip set, taps are read rotated by 180°, which is
// the orientation ngc-learn (JAX's conv_transpose) gives its deconvolution
// kernels; Conv-NGC uses Flip for its prediction (ConvT) and feedback (Conv)
// pair so that checkpoints keep ngc-learn's kernel orientation.
//
// Kernels write into destination slices owned by the caller and take a
// scratch slice for the im2col matrix, so a hot loop allocates nothing but the
// goroutines of the parallel matrix multiply. Like gonum's BLAS, they panic
// when slice lengths do not match the spec: that is a programming error, not
// bad input; user input is validated by the packages above.
//
// Work is spread over runtime.GOMAXPROCS goroutines.
package tensor
