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
	// MessageConvs, when set, lets the populations of one process share
	// their convolutions in the asynchronous runtime, where the
	// populations of a layer fire at their own times and are matched by
	// the messages they read rather than by step. Sigma-delta receivers
	// keep their inputs in buffers of their own, updated in place, and do
	// not use it.
	MessageConvs MessageConvSharer
	// Encoding is how the populations' map messages travel (φ(z), z, e):
	// Dense (the zero value) or SigmaDelta.
	Encoding Encoding
}

// MessageConvSharer may be implemented by the Settings.MessageConvs value
// of an asynchronous run. It lets the populations of one process whose
// convolutions read the very same messages compute them together: the
// state maps of a layer their feedback from the errors below, the error
// maps of a layer their predictions from φ(z) above. The first population
// to ask for a set of messages computes every enrolled member's output from
// them in one pass (one convolution with an output map per member, reading
// the messages once), and the others take their result. Every population
// keeps its kernel; the sharer reads it, and the population changes it only
// through SharedConv.Update.
type MessageConvSharer interface {
	// ShareMessageConv enrols the synapse of population ref with layer
	// other: a state map's feedback from the errors of lower layer other
	// (spec s with OutC = 1, kernel E[i·] laid out [1][InC][K][K]) or an
	// error map's prediction from φ(z) of upper layer other (InC = 1,
	// kernel W[·j] laid out [OutC][1][K][K]). kernel is live. It may return
	// nil to decline (the population then computes alone).
	ShareMessageConv(ref Ref, other int, s tensor.ConvSpec, kernel []float32) SharedConv
}

// SharedConv is one population's part in a MessageConvSharer's group.
type SharedConv interface {
	// Conv writes the population's output from the maps x into dst: the
	// feedback E ∗ x (s.Batch·s.OutH·s.OutW floats) or the prediction
	// sum Σ_i W[i·] ⊛ x_i (s.Batch·s.InH·s.InW floats). Every x[i] is the
	// data of a received message, which is never changed once sent.
	Conv(x [][]float32, dst []float32)
	// Update runs f, which changes the population's kernel, while no
	// product of the group reads it.
	Update(f func())
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
	// Block, when set, makes the dendrite the end of a residual block
	// (Spec and W are then unused): see BlockEnd.
	Block *BlockEnd
	opt   optim.Optimizer
}

// BlockEnd is the end of a residual block on the error map it predicts
// (map j of the lower layer): the prediction takes the activity h_K of
// map j of the block's last stage (KindHidden from BlockPop
// {Synapse, Stages, j}) and, with Skip, the state z of upper map SkipMap
// (KindState) upsampled by nearest neighbour by Factor. The block's kernels
// live in its BlockPops; the dendrite holds none.
type BlockEnd struct {
	Synapse, Stages int
	Skip            bool
	SkipMap         int
	// Size is the side of an upper map (the skip term's input), Factor
	// the lower layer's size over it.
	Size, Factor int
}

// Feedback is one synapse as a state map (layer ℓ, map i) holds it: the
// kernels E[i·] onto every map of a lower layer it predicts, layout
// [1][C_low][K][K] (tied: a copy of W[i·] kept current by weight-transport
// messages; untied: its own learnable E).
type Feedback struct {
	Lower int             // the predicted layer
	Spec  tensor.ConvSpec // InC = C_low, OutC = 1 (this map)
	E     []float32
	// Block, when set, makes the synapse a residual block: see BlockStart.
	Block *BlockStart
	// WeightsOffset is where this synapse's kernels W[·j] start in the
	// weight-transport messages of the error maps below (which concatenate
	// the kernels of all their dendrites).
	WeightsOffset int
	opt           optim.Optimizer
}

// BlockStart is a residual block as the state map of its upper layer
// holds it (map i): its feedback is E_1[i·] ∗ d_1, the error kernels of the
// block's first stage (Feedback.E, learnt from d_1 and φ(z) with factor λ
// in tied and untied mode alike) applied to the perturbations of every map
// of stage 1 (KindPerturb; Feedback.Spec is stage 1's convolution, InC its
// maps), plus, with Skip, the adjoint of the skip term: the errors of the
// lower layer's maps SkipMaps (those j with j mod C_up = i), each summed
// over its Factor×Factor windows. The map sends z from step 0 when the
// skip term predicts a free layer.
type BlockStart struct {
	Synapse  int
	Skip     bool
	SkipMaps []int
	// Size is the side of this map, Factor the lower layer's size over it.
	Size, Factor int
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
