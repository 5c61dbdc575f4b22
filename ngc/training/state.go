package training

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc/metrics"
	"github.com/convngc/convngc/ngc/safetensors"
)

// MetadataKey is the safetensors metadata key under which a checkpoint
// holds the job's State as JSON.
const MetadataKey = "training"

// stateVersion is the version of the State encoding this package writes.
const stateVersion = 1

// ErrNotCheckpoint reports a file that holds a model but no job state: a
// model saved by ngc train's --out or ngc.Save rather than a job's
// checkpoint.
var ErrNotCheckpoint = errors.New("training: not a training checkpoint (no job state)")

// ErrCorruptState reports a checkpoint whose job state cannot be used.
var ErrCorruptState = errors.New("training: bad job state")

// DataSpec says which data a job trains and validates on, so that a resumed
// job loads the same images. It mirrors the fields of data.Options that
// select images; Path "" means the data set's default location.
type DataSpec struct {
	Dataset   string `json:"dataset"`
	Path      string `json:"path,omitempty"`
	MaxImages int    `json:"max_images"`
	Seed      int64  `json:"seed"`
	// ValidationImages is the size of the fixed validation subset (0: no
	// validation).
	ValidationImages int `json:"validation_images"`
}

// Point is one update of the learning curve.
type Point struct {
	// Update counts the job's updates, from 1.
	Update int `json:"u"`
	// Images counts image-updates: the images of every mini-batch so far.
	Images int64 `json:"i"`
	// Epoch is the number of epochs completed at this update, with the
	// fraction of the current one.
	Epoch float64 `json:"ep"`
	// Objective is what the update descended (Learner.Objective names it:
	// Conv-NGC's total discrepancy per image, a baseline's loss).
	Objective float64 `json:"e"`
	// Seconds is the training time of the job so far (validation included).
	Seconds float64 `json:"s"`
	// Validation holds the reconstruction metrics of the validation set
	// after this update, when the job validated here.
	Validation *metrics.Report `json:"v,omitempty"`
}

// State is everything a job needs besides the model to go on exactly where
// it stopped. It travels in the checkpoint's metadata.
type State struct {
	Version int      `json:"version"`
	Data    DataSpec `json:"data"`
	// Plan is the plan of the job's latest run.
	Plan Plan `json:"plan"`
	// Updates and Images count the job's updates and image-updates.
	Updates int   `json:"updates"`
	Images  int64 `json:"images"`
	// Epoch is the number of completed epochs, Offset the number of images
	// of the current epoch's order already trained on.
	Epoch  int `json:"epoch"`
	Offset int `json:"offset"`
	// Seconds is the job's training time so far, over every run.
	Seconds float64 `json:"seconds"`
	// BestUpdate and BestMSE are the update with the lowest validation MSE
	// and that MSE (0 and +Inf before the first validation).
	BestUpdate int     `json:"best_update"`
	BestMSE    float64 `json:"best_mse"`
	// Reference is the validation MSE of the last improvement by at least
	// the job's MinImprovement, and Stale the number of validations since.
	Reference float64 `json:"reference_mse"`
	Stale     int     `json:"stale"`
	// LRStale counts the validations since the best MSE last fell (for
	// the learning-rate decay), and Decays lists the decays so far.
	LRStale int     `json:"lr_stale,omitempty"`
	Decays  []Decay `json:"lr_decays,omitempty"`
	// Stopped says why the job ended ("" while it runs).
	Stopped string `json:"stopped,omitempty"`
	// Curve holds every update so far.
	Curve []Point `json:"curve"`
}

// Decay records a learning-rate decay: after which update, and the new
// rate.
type Decay struct {
	Update       int     `json:"update"`
	LearningRate float64 `json:"learning_rate"`
}

// stateJSON is State without its JSON methods.
type stateJSON State

// MarshalJSON implements json.Marshaler. JSON has no infinity: the +Inf
// MSEs of a job that has not validated yet are written as -1.
func (s State) MarshalJSON() ([]byte, error) {
	c := stateJSON(s)
	if math.IsInf(c.BestMSE, 1) {
		c.BestMSE = -1
	}
	if math.IsInf(c.Reference, 1) {
		c.Reference = -1
	}
	return json.Marshal(c)
}

// UnmarshalJSON implements json.Unmarshaler, the inverse of MarshalJSON.
func (s *State) UnmarshalJSON(b []byte) error {
	var c stateJSON
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	if c.BestMSE < 0 {
		c.BestMSE = math.Inf(1)
	}
	if c.Reference < 0 {
		c.Reference = math.Inf(1)
	}
	*s = State(c)
	return nil
}

// NewState returns the state of a job that has not trained yet.
func NewState(spec DataSpec) *State {
	return &State{Version: stateVersion, Data: spec, BestMSE: math.Inf(1), Reference: math.Inf(1)}
}

// check reports a state that cannot belong to a job.
func (s *State) check() error {
	switch {
	case s.Version != stateVersion:
		return fmt.Errorf("job state version %d, want %d", s.Version, stateVersion)
	case s.Updates < 0 || s.Images < 0 || s.Epoch < 0 || s.Offset < 0 || s.Stale < 0 || s.Seconds < 0:
		return fmt.Errorf("job state has negative counters")
	case len(s.Curve) != s.Updates:
		return fmt.Errorf("job state has %d curve points for %d updates", len(s.Curve), s.Updates)
	case s.BestUpdate < 0 || s.BestUpdate > s.Updates:
		return fmt.Errorf("job state's best update %d is not one of its %d updates", s.BestUpdate, s.Updates)
	}
	return nil
}

// LastValidation returns the latest validated point of the curve, or nil.
func (s *State) LastValidation() *Point {
	for i := len(s.Curve) - 1; i >= 0; i-- {
		if s.Curve[i].Validation != nil {
			return &s.Curve[i]
		}
	}
	return nil
}

// writeCheckpoint writes the model and the job state to path atomically.
func writeCheckpoint(path string, m Learner, s *State) error {
	f, err := m.Checkpoint()
	if err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("training: encode job state: %w", err)
	}
	f.Metadata[MetadataKey] = string(b)
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("training: write checkpoint: %w", err)
	}
	return nil
}

// Resume reads a job's checkpoint: the model, rebuilt by open, and the
// job's state.
func Resume(path string, open Opener) (Learner, *State, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("training: resume: %w", err)
	}
	raw, ok := f.Metadata[MetadataKey]
	if !ok {
		return nil, nil, fmt.Errorf("training: resume %s: %w", path, ErrNotCheckpoint)
	}
	var s State
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, nil, fmt.Errorf("training: resume %s: %w: job state: %v", path, ErrCorruptState, err)
	}
	if err := s.check(); err != nil {
		return nil, nil, fmt.Errorf("training: resume %s: %w: %v", path, ErrCorruptState, err)
	}
	m, err := open(f)
	if err != nil {
		return nil, nil, fmt.Errorf("training: resume %s: %w", path, err)
	}
	return m, &s, nil
}
