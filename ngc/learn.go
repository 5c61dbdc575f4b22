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
	m.mustOwn(ws)
	if ws.gx != nil {
		ws.gx.feedback()
		ws.gx.gradients()
		return ws.gx.gW, ws.gx.gB
	}
	ws.eng.run(jobSpec{op: opGrad})
	return ws.gW, ws.gB
}

// Learn applies one local update from the states in ws (after Infer): the
// optimiser steps down the energy gradient of Gradients for W and the
// biases (and for E in untied mode, scaled by λ), then every kernel is
// projected to norm ≤ MaxKernelNorm.
func (m *Model) Learn(ws *Workspace) {
	gW, gB := m.Gradients(ws)
	m.apply(ws, gW, gB)
}

// apply steps the optimisers down the gradients gW, gB (by synapse; and a
// block's stage gradients, held by ws) and projects the kernels. A block's
// error kernels take their stage's update (ΔE = λ·ΔWᵀ: E's optimiser has
// the step size λ·lr).
func (m *Model) apply(ws *Workspace, gW, gB [][]float32) {
	for si, syn := range m.g.Synapses {
		s, o := m.syn[si], m.opt[si]
		if syn.Block != nil {
			for k, st := range s.Stages {
				kk := syn.Block.Stages[k].Kernel * syn.Block.Stages[k].Kernel
				g := ws.gx.gStage[si][k]
				o.stages[k].w.Step(st.W, g)
				neuron.ProjectKernels(st.W, kk, m.cfg.MaxKernelNorm)
				o.stages[k].e.Step(st.E, g)
				neuron.ProjectKernels(st.E, kk, m.cfg.MaxKernelNorm)
			}
			continue
		}
		kk := syn.Kernel * syn.Kernel
		o.w.Step(s.W, gW[si])
		if s.Bias != nil {
			o.b.Step(s.Bias, gB[si])
		}
		neuron.ProjectKernels(s.W, kk, m.cfg.MaxKernelNorm)
		if s.E != nil {
			o.e.Step(s.E, gW[si])
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
	if ws.gx != nil {
		m.apply(ws, ws.gx.gW, ws.gx.gB)
		return nil
	}
	m.apply(ws, ws.gW, ws.gB)
	return nil
}
