// Package neuron holds the state population and the error population of one
// Conv-NGC feature map: their update rules, the synaptic kernels they own and
// the actor loop around them.
//
// The update rules (Predict, Error, Correct, BiasGrad, ProjectKernels) are
// plain functions over float32 maps in the [C][B·H·W] layout of package
// tensor. The batched reference in package ngc calls them on whole layers; a
// map actor calls them on its own map. There is one copy of the mathematics.
//
// A residual block's intermediate maps (the paper's Appendix C) are
// populations too (BlockPop), with their own rules written once in the same
// way (StageActivity, StagePerturbation, AddUpsampled, AddSkipAdjoint).
package neuron
