package ngc

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/safetensors"
	"github.com/convngc/convngc/ngc/tensor"
)

// This file holds what a long training job needs of a model beyond
// training it: the position of its noise stream, the data order of an
// epoch, a check for diverged parameters, retuning the training settings of
// a trained model, and the checkpoint as an in-memory safetensors file to
// which a job adds its own metadata.

// RNGState returns the position of the model's own random stream (the one
// Infer and TrainBatch draw the initial top states from when given a nil
// rng), so that a resumed job draws exactly what an uninterrupted one would.
func (m *Model) RNGState() ([]byte, error) {
	b, err := m.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("ngc: save random stream: %w", err)
	}
	return b, nil
}

// SetRNGState moves the model's own random stream to a position returned by
// RNGState.
func (m *Model) SetRNGState(state []byte) error {
	if err := m.pcg.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("%w: random stream: %v", ErrCheckpoint, err)
	}
	return nil
}

// EpochOrder returns the order in which training visits the n images of a
// set in epoch ep (counted from 0): a permutation drawn from seed and ep
// alone, so that any epoch's order can be recomputed without replaying the
// ones before it. Fit and long training jobs use it with Config.Seed.
func EpochOrder(seed uint64, ep, n int) []int {
	return rand.New(rand.NewPCG(seed, uint64(ep)+0x5851f42d4c957f2d)).Perm(n)
}

// ErrDiverged reports parameters or energies that are no longer finite.
var ErrDiverged = errors.New("training diverged")

// CheckFinite returns an error wrapping ErrDiverged that names the first
// layer and tensor holding a NaN or an infinity, or nil when every
// parameter is finite.
func (m *Model) CheckFinite() error {
	return m.eachParam(func(name string, _ []int, v []float32, _ optim.Optimizer) error {
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				syn := m.g.Synapses[synapseOf(name)]
				return fmt.Errorf("%w: %s[%d] = %v (the synapse from layer %d to layer %d)", ErrDiverged, name, i, x, syn.From, syn.To)
			}
		}
		return nil
	})
}

// synapseOf returns the synapse index of a parameter name "X.n" or "X.n.k".
func synapseOf(name string) int {
	var kind string
	var n int
	fmt.Sscanf(strings.ReplaceAll(name, ".", " "), "%s %d", &kind, &n)
	return n - 1
}

// Retune returns a copy of the model that runs and learns with cfg, keeping
// its parameters, optimiser state and random stream. cfg may change how the
// network runs and learns (Steps, Beta, Gamma, the top-state draw, Phi,
// PCN, BottomSigmoid, LearningRate, Lambda, MaxKernelNorm, Batch, Seed) but
// not what its parameters are: Channels, ImageSize, Kernel, Stride, Untied
// and Optimizer must equal the model's, or Retune returns an error wrapping
// ErrConfig that names the field. InitStd only matters for a new model and
// is kept.
func (m *Model) Retune(cfg Config) (*Model, error) {
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	old := m.cfg
	for _, f := range []struct {
		name     string
		same     bool
		was, now any
	}{
		{"channels", slices.Equal(rc.Channels, old.Channels), old.Channels, rc.Channels},
		{"image size", rc.ImageSize == old.ImageSize, old.ImageSize, rc.ImageSize},
		{"kernel", rc.Kernel == old.Kernel, old.Kernel, rc.Kernel},
		{"stride", rc.Stride == old.Stride, old.Stride, rc.Stride},
		{"graph", rc.Graph.Equal(old.Graph), "its circuit", "another"},
		{"untied", rc.Untied == old.Untied, old.Untied, rc.Untied},
		{"optimizer", rc.Optimizer == old.Optimizer, old.Optimizer, rc.Optimizer},
	} {
		if !f.same {
			return nil, fmt.Errorf("%w: the model's %s is %v; a trained model cannot change it to %v", ErrConfig, f.name, f.was, f.now)
		}
	}
	rc.InitStd = old.InitStd
	f, err := m.safetensors()
	if err != nil {
		return nil, err
	}
	c, err := fromSafetensors(f)
	if err != nil {
		return nil, err
	}
	c.cfg = rc
	c.seed = rc.Seed
	if c.phi, err = tensor.ParseActivation(rc.Phi); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	state, err := m.RNGState()
	if err != nil {
		return nil, err
	}
	if err := c.SetRNGState(state); err != nil {
		return nil, err
	}
	c.SetLearningRate(rc.LearningRate)
	return c, nil
}

// SetLearningRate sets the step size of every optimiser of the model (the
// error kernels' to lr·λ) and the config's LearningRate, which the
// checkpoint stores.
func (m *Model) SetLearningRate(lr float64) {
	m.cfg.LearningRate = lr
	for _, o := range m.opt {
		for _, s := range append([]paramOpt{o}, o.stages...) {
			setLR(s.w, lr)
			setLR(s.b, lr)
			setLR(s.e, lr**m.cfg.Lambda)
		}
	}
}

func setLR(o optim.Optimizer, lr float64) {
	switch o := o.(type) {
	case *optim.Adam:
		o.LR = lr
	case *optim.Normalized:
		o.LR = lr
	}
}

// Checkpoint returns the model as an in-memory safetensors file, the one
// Save writes: a caller may add its own metadata keys (any key but
// "format", "config" and "updates") and write it with safetensors.WriteFile.
// Load and FromCheckpoint ignore metadata they do not know.
func (m *Model) Checkpoint() (*safetensors.File, error) { return m.safetensors() }

// FromCheckpoint rebuilds a model from a file returned by Checkpoint or read
// with safetensors.ReadFile, with the checks of Load.
func FromCheckpoint(f *safetensors.File) (*Model, error) { return fromSafetensors(f) }
