package training

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/safetensors"
)

// Learner is a model a Job can train: Conv-NGC through ConvNGC, and the
// baselines of package baselines as they are.
type Learner interface {
	// Batch is the mini-batch size.
	Batch() int
	// Seed orders the training images of every epoch (ngc.EpochOrder).
	Seed() uint64
	// Objective names what TrainBatch returns, for the curve ("energy",
	// "bce", "mse").
	Objective() string
	// TrainBatch takes one update on a mini-batch of images, image-major
	// ([B][C][H][W], values in [0, 1]), and returns the objective.
	TrainBatch(x []float32) (float64, error)
	// Evaluate measures a task's metrics over a set.
	Evaluate(ctx context.Context, set *data.Set, opts ngc.EvalOptions) (ngc.EvalResult, error)
	// Checkpoint returns the model with everything training needs to go
	// on exactly (parameters, optimiser state, random streams).
	Checkpoint() (*safetensors.File, error)
	// CheckFinite returns an error wrapping ngc.ErrDiverged naming the
	// first parameter that is NaN or infinite, or nil.
	CheckFinite() error
	// LearningRate and SetLearningRate read and set the optimiser's step
	// size; the checkpoint carries it.
	LearningRate() float64
	SetLearningRate(lr float64)
}

// Opener rebuilds a Learner from a checkpoint written by its Checkpoint.
type Opener func(f *safetensors.File) (Learner, error)

// rngKey is the checkpoint metadata key of a Conv-NGC model's random
// stream position (hexadecimal).
const rngKey = "ngc.rng"

// ConvNGC adapts a Conv-NGC model to a Learner. Its checkpoint is the
// model's (ngc.Load reads it) with the position of the model's random
// stream added, so that a resumed job draws the top states an uninterrupted
// one would.
type ConvNGC struct {
	Model *ngc.Model
	ws    *ngc.Workspace
	tr    ngc.Trace
}

// Batch implements Learner.
func (c *ConvNGC) Batch() int { return c.Model.Config().Batch }

// Seed implements Learner.
func (c *ConvNGC) Seed() uint64 { return c.Model.Config().Seed }

// Objective implements Learner: the total discrepancy per image after the
// T steps, which the update descends.
func (c *ConvNGC) Objective() string { return "energy" }

// TrainBatch implements Learner. A NaN or infinite energy is returned as
// an error wrapping ngc.ErrDiverged that names the layer.
func (c *ConvNGC) TrainBatch(x []float32) (float64, error) {
	b := len(x) / data.ImageSize
	if c.ws == nil || c.ws.B != b {
		ws, err := c.Model.NewWorkspace(b)
		if err != nil {
			return 0, err
		}
		c.ws = ws
	}
	if err := c.Model.TrainBatch(c.ws, x, nil, &c.tr); err != nil {
		return 0, err
	}
	for l, e := range c.tr.Final {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return 0, fmt.Errorf("%w: the energy of layer %d is %v", ngc.ErrDiverged, l, e)
		}
	}
	return c.tr.FinalTotal(), nil
}

// Evaluate implements Learner.
func (c *ConvNGC) Evaluate(ctx context.Context, set *data.Set, opts ngc.EvalOptions) (ngc.EvalResult, error) {
	return c.Model.Evaluate(ctx, set, opts)
}

// Checkpoint implements Learner.
func (c *ConvNGC) Checkpoint() (*safetensors.File, error) {
	f, err := c.Model.Checkpoint()
	if err != nil {
		return nil, err
	}
	rng, err := c.Model.RNGState()
	if err != nil {
		return nil, err
	}
	f.Metadata[rngKey] = hex.EncodeToString(rng)
	return f, nil
}

// CheckFinite implements Learner.
func (c *ConvNGC) CheckFinite() error { return c.Model.CheckFinite() }

// LearningRate implements Learner.
func (c *ConvNGC) LearningRate() float64 { return c.Model.Config().LearningRate }

// SetLearningRate implements Learner.
func (c *ConvNGC) SetLearningRate(lr float64) { c.Model.SetLearningRate(lr) }

// OpenConvNGC is the Opener of ConvNGC checkpoints.
func OpenConvNGC(f *safetensors.File) (Learner, error) {
	m, err := ngc.FromCheckpoint(f)
	if err != nil {
		return nil, err
	}
	if s, ok := f.Metadata[rngKey]; ok {
		rng, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: random stream: %v", ngc.ErrCheckpoint, err)
		}
		if err := m.SetRNGState(rng); err != nil {
			return nil, err
		}
	}
	return &ConvNGC{Model: m}, nil
}
