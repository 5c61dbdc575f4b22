// Package ngc is the batched reference of convolutional neural generative
// coding (Conv-NGC; Ororbia & Mali, "Convolutional Neural Generative Coding:
// Scaling Predictive Coding to Natural Images"): a stack of state layers in
// which every layer predicts the one below through transposed convolutions,
// states settle by iterative local corrections, and kernels learn by a
// Hebbian-like rule from the errors left after settling — no backprop.
//
// # Model
//
// Layers ℓ = 0..L; ℓ = 0 is the image. Config's zero value is the paper's
// network (channels 10, 15, 20, 25, 3 from the top; maps of 2, 4, 8, 16, 32
// pixels; 3×3 kernels, stride 2, SAME padding; 9,225 kernel weights and 63
// biases). New builds a model, Load reads a saved one.
//
// # Inference and learning
//
// Infer runs T steps in Jacobi order on a mini-batch held in a Workspace:
//
//	mu[ℓ−1] = g(W[ℓ] ⊛ φ(z[ℓ]) + b[ℓ])        prediction (transposed convolution)
//	e[ℓ]    = z[ℓ] − mu[ℓ]                     error
//	z[ℓ]   ← z[ℓ] + β(−e[ℓ] + E[ℓ] ∗ e[ℓ−1]) − γ z[ℓ]   correction, E = Wᵀ (tied) by default
//
// with z[0] clamped to the image for all T steps (Reconstruct) or during
// step 1 only (Denoise). The output is mu[0] predicted from the final states.
// Learn then applies the local update — the negative gradient of the total
// discrepancy ½Σ‖e‖² with the states held fixed, through Adam or the paper's
// normalised step — and re-projects every kernel to norm ≤ 1. TrainBatch is
// Infer followed by Learn; Fit and Evaluate run them over a data set.
//
// Trace reports each layer's error energy at every step (the probes), so a
// caller can plot the settling of the network.
//
// The update rules live in package neuron and the convolutions in package
// tensor, shared with the event-driven actor runtime. For speed the batched
// path runs them fused on tiles of images (package tensor's TileConv and
// row operations): the same float32 arithmetic, whose equality with the
// map-major kernels and rules the actors use is tested here (to float32
// rounding) and in package circuit (against the actors themselves).
//
// # Layout
//
// Data enter and leave image-major ([B][C][H][W], values in [0, 1]);
// inside a Workspace every layer is map-major ([C][B][H][W]) so that one
// feature map of the whole mini-batch is contiguous.
package ngc
