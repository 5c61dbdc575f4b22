// Package baselines holds the three models the Conv-NGC paper compares
// against (Appendix B, "Baseline Models and Setup"): a convolutional
// autoencoder (Conv-AE), a convolutional denoising autoencoder (Conv-DAE)
// and a fully connected neural generative coding network (NGC, or PCN with
// the φ' variant). Each trains, saves to and loads from a safetensors
// checkpoint, and is evaluated with the same metrics and the same corrupted
// images as Conv-NGC.
//
// # Models
//
// Every model satisfies Model: Fit(ctx, set, FitOptions) trains on a
// data.Set, Evaluate(ctx, set, ngc.EvalOptions) reconstructs or denoises it
// and returns an ngc.EvalResult with the paper's metrics (package metrics),
// Save writes a checkpoint and Load reads any of them back, dispatching on
// the model kind in the checkpoint's metadata. For one evaluation seed every
// model, Conv-NGC included, sees exactly the same noisy images.
//
//	m, _ := baselines.NewConvAE(baselines.AEConfig{LearningRate: 1e-3})
//	fit, _ := m.Fit(ctx, train, baselines.FitOptions{Epochs: 5})
//	res, _ := m.Evaluate(ctx, test, ngc.EvalOptions{Task: ngc.Denoise, Seed: 1})
//	_ = m.Save("conv-ae.safetensors")
//
// NewConvAE and NewConvDAE build the autoencoders of AEConfig, whose
// documentation gives the architecture: the paper's encoder block (3×3
// stride-2 SAME convolution with 32 maps, ReLU or SELU, batch norm, 2×2
// stride-2 max-pool) used twice — five, as the paper writes, would shrink a
// 32×32 image below one pixel — and a mirror decoder of transposed
// convolutions, which has exactly the paper's 48,393 trainable parameters.
// They train by backpropagation with Adam (step size 2e-5 by default, as
// the paper).
//
// NewNGC builds the fully connected NGC of NGCConfig: Conv-NGC's dynamics,
// update-rule functions (package neuron) and local Hebbian-like learning
// with dense matrices, 3,072-200-200-200-200 units and exactly the paper's
// 738,072 parameters.
//
// # Layers
//
// The autoencoders are built from backprop layers written once here, over
// the map-major [C][B][H][W] layout of package tensor: Conv2D and
// ConvTranspose2D (SAME padding, any stride, on tensor.Conv, tensor.ConvT
// and tensor.ConvKernelGrad), BatchNorm (batch statistics and running
// averages), MaxPool (SAME), Act (the activations of package tensor), Dense
// and Flatten, chained by Sequential; the losses MSE and BCE; Glorot-uniform
// initialisation. Every layer's Backward is checked against finite
// differences in the tests. Dense layers, in the autoencoders' toolbox and
// in NGC, run as 1×1 convolutions over a one-row map of the mini-batch, so
// they use the same fast kernels as the convolutions.
//
// # Layouts
//
// Images cross the API image-major, [N][C][H][W] with values in [0, 1], as
// in package data. Inside, convolutional activations are map-major
// [C][B][H][W] and vectors unit-major [n][B] (the map-major layout of 1×1
// maps).
//
// Models are not safe for concurrent use; the numerical kernels they call
// spread their work over runtime.GOMAXPROCS goroutines.
package baselines
