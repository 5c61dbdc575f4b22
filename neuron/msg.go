package neuron

import (
	"errors"
	"fmt"
)

// Sentinel errors of the populations' protocol.
var (
	// ErrProtocol reports a message that the dataflow cannot have produced:
	// an unexpected kind or sender, a stale or duplicate step, or a shape
	// that does not fit. In sync mode it means a message was lost,
	// duplicated or misrouted.
	ErrProtocol = errors.New("neuron: protocol violation")
)

// Role says which population of a feature map an actor is.
type Role uint8

// The two populations of a feature map, and a residual block's map.
const (
	StateRole Role = iota + 1 // z: the state population
	ErrorRole                 // e: the error population
	// BlockRole is an intermediate map of a residual block (BlockPop): an
	// activity h that is not a state.
	BlockRole
)

// Ref names a population: its role, its layer and the map's index in it.
// A residual block's map (BlockRole) is named by its synapse's index in the
// graph (Layer), its stage from 1 at the top (Stage) and its index in the
// stage (Index); Stage is 0 for the other roles.
type Ref struct {
	Role  Role
	Layer int
	Index int
	Stage int
}

// String renders a ref as its subject tokens, "z.1.3", "e.0.2" or, for map
// 5 of stage 2 of the block of synapse 1, "h.1.2.5".
func (r Ref) String() string {
	switch r.Role {
	case ErrorRole:
		return fmt.Sprintf("e.%d.%d", r.Layer, r.Index)
	case BlockRole:
		return fmt.Sprintf("h.%d.%d.%d", r.Layer, r.Stage, r.Index)
	}
	return fmt.Sprintf("z.%d.%d", r.Layer, r.Index)
}

// Kind is what a message carries.
type Kind uint8

// Message kinds. Each population publishes its kinds on its own subject;
// the circuit decides who listens.
const (
	// KindState is z of a state map, for its own error map.
	KindState Kind = iota + 1
	// KindPhi is φ(z) of a state map, for the error maps of the layers it predicts.
	KindPhi
	// KindError is e of an error map, for its own state map and the state
	// maps of the layers that predict it.
	KindError
	// KindPred is the ancestral prediction mu of an error map, for its own
	// state map at step 0 (initialisation).
	KindPred
	// KindWeights are an error map's kernels W[·j] after a tied update, for
	// the state maps above (weight transport).
	KindWeights
	// KindClamp is the input image map, from the coordinator to an image state map.
	KindClamp
	// KindInit is the initial value of a top state map, from the coordinator.
	KindInit
	// KindOutput is the prediction mu of an image error map after the last
	// step, for the coordinator.
	KindOutput
	// KindProbe is an error map's energy ½‖e‖² (summed over the batch) at
	// one step, for the coordinator: Data[0] is the energy.
	KindProbe
	// KindDone tells the coordinator that a population finished a batch's learning.
	KindDone
	// KindHidden is the activity h of a residual block's map, for the maps
	// of the next stage (or, from the last stage, for the error map it
	// predicts).
	KindHidden
	// KindPerturb is the perturbation d of a residual block's map (at its
	// convolution's output), for the maps of the stage above (or, from the
	// first stage, for the state maps of the upper layer): the error
	// pathway of the paper's Eq. 8-11.
	KindPerturb
)

var kindNames = map[Kind]string{
	KindState: "state", KindPhi: "phi", KindError: "error", KindPred: "pred", KindWeights: "weights",
	KindClamp: "clamp", KindInit: "init", KindOutput: "output", KindProbe: "probe", KindDone: "done",
	KindHidden: "hidden", KindPerturb: "perturb",
}

// String names the kind.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Msg is one message between populations (or with the coordinator).
//
// In sync mode (Batch, Step) tags the dataflow step the values belong to;
// in async mode Step is the sender's version (its number of updates). Data
// is owned by the sender and read-only for receivers; a receiver that must
// keep values beyond the step copies them.
//
// Under the SigmaDelta encoding a map message (φ(z), z, e) carries Delta
// instead of Data: the changes since the sender's previous message (see
// Encoding).
type Msg struct {
	Kind  Kind
	From  Ref
	Batch int
	Step  int
	Data  []float32
	// Delta is a sigma-delta message's payload (nil for a dense one).
	Delta *Delta
	// Ops are the synaptic operations (multiply-accumulates, summed over
	// the mini-batch) the sender made to compute the values it sends: set
	// on an error map's KindPred and KindProbe (its prediction) and on the
	// first message a state map sends after a correction (its feedback).
	// A driver counts them where the message is emitted; they do not
	// travel.
	Ops int64
	// Resent marks a repeated message, sent again on request after a
	// suspected loss: a synchronous population ignores it when it already
	// has that input or has moved past its step, instead of treating it as a
	// protocol violation.
	Resent bool
}

// Emit is how a population sends: the driver (goroutine runner, virtual
// clock, test) routes the message by its kind and sender.
type Emit func(Msg) error

// Values returns the number of values the message carries: len(Data), or
// the entries of a sigma-delta message.
func (m Msg) Values() int {
	if m.Delta != nil {
		return m.Delta.Entries()
	}
	return len(m.Data)
}

// PayloadBytes returns the bytes of the message's payload before
// compression: 4 per value, plus a sparse sigma-delta message's index list.
func (m Msg) PayloadBytes() int {
	if m.Delta != nil {
		return m.Delta.Bytes()
	}
	return 4 * len(m.Data)
}
