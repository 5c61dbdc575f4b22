package neuron

import (
	"fmt"

	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/tensor"
)

// Settings are what every population of one run shares.
type Settings struct {
	// Batch is the number of images in a mini-batch; every map message
	// carries Batch×H×W floats.
	Batch int
	// Steps is T, the number of inference steps per mini-batch.
	Steps int
	// Denoise frees the image layer after step 1 (otherwise it stays
	// clamped: reconstruction).
	Denoise bool
	// Learn applies the local update after every mini-batch.
	Learn bool
	// State are the constants of the state correction.
	State StateParams
	// LearnRate, Lambda and Optimizer ("adam" or "normalized") configure the
	// local updates; MaxKernelNorm bounds every kernel after an update.
	LearnRate     float64
	Lambda        float64
	Optimizer     string
	MaxKernelNorm float64
	// Patches, when set, supplies the im2col patches of the error maps of a
	// lower layer, so that the state maps of one process that all read the
	// same errors gather them once. Nil: every state map gathers its own.
	Patches PatchSource
	// MessageFeedback, when set, lets the state maps of one process share
	// their feedback in the asynchronous runtime, where maps of one layer
	// correct at their own times and are matched by the messages they read
	// rather than by step. Sigma-delta receivers keep their inputs in
	// buffers of their own, updated in place, and do not use it.
	MessageFeedback MessageFeedbackSharer
	// Encoding is how the populations' map messages travel (φ(z), z, e):
	// Dense (the zero value) or SigmaDelta.
	Encoding Encoding
}

// MessageFeedbackSharer may be implemented by the Settings.MessageFeedback
// value of an asynchronous run. It lets the state maps of one process whose
// feedback reads the very same error messages compute it together: the
// first map to ask for a set of messages computes the feedback of every
// enrolled map from them in one pass (one convolution with an output map
// per enrolled map, reading the messages once), and the others take their
// result. Every map keeps its kernels; the sharer only reads them. That is
// safe because a map changes its kernels only when its window's
// corrections are over for every map of its layer: the learning inputs it
// waits for need every one of them final.
type MessageFeedbackSharer interface {
	// ShareMessageFeedback enrols synapse (ref's layer → lower) of state
	// map ref: its live kernels E[i·] ([1][InC][K][K], spec s with
	// OutC = 1). The returned function writes into dst (s.Batch·s.OutH·
	// s.OutW floats) E ∗ x for the errors x of layer lower, every x[j] the
	// data of a received message, which is never changed once sent. It may
	// return nil to decline (the map then computes alone).
	ShareMessageFeedback(ref Ref, lower int, s tensor.ConvSpec, kernel []float32) func(x [][]float32, dst []float32)
}

// PatchSource gives the im2col patch matrix (tensor.Im2ColMaps with spec s)
// of the maps x of layer `lower` at (batch, step). Implementations may
// return a shared, read-only matrix; scratch (of length s.ColsLen()) is the
// caller's own buffer, usable when nothing is shared.
type PatchSource interface {
	Patches(lower, batch, step int, x [][]float32, s tensor.ConvSpec, scratch []float32) []float32
}

// NewOptimizer returns the optimiser of one parameter share of n values in
// blocks of block (one kernel), scaled by factor (λ for E).
func (s *Settings) NewOptimizer(n, block int, factor float64) optim.Optimizer {
	if s.Optimizer == "normalized" {
		return &optim.Normalized{LR: s.LearnRate * factor, Eps: 1e-8, Block: block}
	}
	return optim.NewAdam(n, s.LearnRate*factor)
}

// Dendrite is one synapse as an error map (layer ℓ, map j) holds it: the
// kernels W[·j] from every map of an upper layer onto this map, layout
// [C_up][1][K][K], and the geometry of the transposed convolution.
type Dendrite struct {
	Upper int             // the predicting layer
	Spec  tensor.ConvSpec // InC = 1 (this map), OutC = C_up
	W     []float32
	opt   optim.Optimizer
}

// Feedback is one synapse as a state map (layer ℓ, map i) holds it: the
// kernels E[i·] onto every map of a lower layer it predicts, layout
// [1][C_low][K][K] (tied: a copy of W[i·] kept current by weight-transport
// messages; untied: its own learnable E).
type Feedback struct {
	Lower int             // the predicted layer
	Spec  tensor.ConvSpec // InC = C_low, OutC = 1 (this map)
	E     []float32
	// WeightsOffset is where this synapse's kernels W[·j] start in the
	// weight-transport messages of the error maps below (which concatenate
	// the kernels of all their dendrites).
	WeightsOffset int
	opt           optim.Optimizer
}

// Optimizer returns the optimiser of the dendrite's kernels (set when its
// error population is built).
func (d Dendrite) Optimizer() optim.Optimizer { return d.opt }

// Optimizer returns the optimiser of the untied kernels E (nil when tied).
func (f Feedback) Optimizer() optim.Optimizer { return f.opt }

func checkSpec(what string, s tensor.ConvSpec, kernel []float32) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("neuron: %s: %w", what, err)
	}
	if len(kernel) != s.KernelLen() {
		return fmt.Errorf("neuron: %s: %d kernel values, want %d", what, len(kernel), s.KernelLen())
	}
	return nil
}
