package ngc

import (
	"math/rand/v2"

	"github.com/convngc/convngc/neuron"
)

// Gradients writes into ws the gradient of the total discrepancy
// ½ Σ_ℓ ‖e[ℓ]‖², averaged over the mini-batch, with respect to every W[ℓ]
// and bias, holding the states fixed, from the errors and φ(z) of the last
// Predict. It is the negative of the paper's Hebbian-like update
// ΔW[ℓ]_ij = e[ℓ−1]_j ⋆ Dilate(φ(z[ℓ]_i), s), Δb[ℓ]_j = Σ e[ℓ−1]_j (exact for
// an identity g; with a sigmoid bottom the rule, like the paper's, ignores
// g'). The result is returned as views into ws, indexed ℓ−1.
func (m *Model) Gradients(ws *Workspace) (gW, gB [][]float32) {
	ws.eng.run(jobSpec{op: opGrad})
	return ws.gW, ws.gB
}

// Learn applies one local update from the states in ws (after Infer): the
// optimiser steps down the energy gradient of Gradients for W and the
// biases (and for E in untied mode, scaled by λ), then every kernel is
// projected to norm ≤ MaxKernelNorm.
func (m *Model) Learn(ws *Workspace) {
	gW, gB := m.Gradients(ws)
	m.apply(gW, gB)
}

// apply steps the optimisers down the gradients gW, gB and projects the
// kernels.
func (m *Model) apply(gW, gB [][]float32) {
	kk := m.cfg.Kernel * m.cfg.Kernel
	for l := 1; l <= m.cfg.Layers(); l++ {
		s, o := m.syn[l-1], m.opt[l-1]
		o.w.Step(s.W, gW[l-1])
		o.b.Step(s.Bias, gB[l-1])
		neuron.ProjectKernels(s.W, kk, m.cfg.MaxKernelNorm)
		if s.E != nil {
			o.e.Step(s.E, gW[l-1])
			neuron.ProjectKernels(s.E, kk, m.cfg.MaxKernelNorm)
		}
	}
}

// TrainBatch runs reconstruction inference on a mini-batch (z[0] clamped for
// all T steps) and then the local update (Learn; its gradients are computed
// on each tile of images right after its inference). It returns the trace
// of the inference; trace.Final holds the energy the update descended.
func (m *Model) TrainBatch(ws *Workspace, x []float32, rng *rand.Rand, trace *Trace) error {
	if err := m.infer(ws, x, Reconstruct, rng, trace, true, runOptions{}); err != nil {
		return err
	}
	m.apply(ws.gW, ws.gB)
	return nil
}
