package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

// Why a job stopped (State.Stopped).
const (
	StopEpochs      = "epochs"      // the Epochs budget is spent
	StopUpdates     = "max-updates" // the MaxUpdates budget is spent
	StopTime        = "max-time"    // this run's MaxTime is spent
	StopEarly       = "early-stop"  // no improvement over Patience validations
	StopInterrupted = "interrupted" // the context was cancelled
)

// DefaultMinImprovement is the relative improvement of the validation MSE
// that resets the patience count: 1%.
const DefaultMinImprovement = 0.01

// ValidationSeed seeds the initial top states and the denoising noise of
// every validation, so that validations differ only by the model.
const ValidationSeed = 1

// Job is one training job. Set Model, Train and State (NewState for a new
// job, or the State returned by Resume), the budgets and the outputs, then
// call Run. Zero budgets mean no limit; a job with no budget and no
// patience runs until its context is cancelled.
type Job struct {
	// Model is trained in place.
	Model Learner
	// Train is the training set; Validation the fixed validation set (nil:
	// no validation and no early stopping).
	Train, Validation *data.Set
	// State is the job's progress; Run updates it.
	State *State
	// Plan holds the budgets and the validation schedule. State records
	// it at every checkpoint, so a resumed job can go on with the plan it
	// started with.
	Plan
	// MaxTime bounds the wall time of this run (0: no limit).
	MaxTime time.Duration

	// Latest is where the latest checkpoint goes, every CheckpointEvery
	// updates and every CheckpointInterval of wall time (either 0: not by
	// that measure), and when the job ends. Best is where the model with the
	// lowest validation MSE goes when it improves. "" writes nothing.
	Latest, Best       string
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// Curve, when set, is rewritten at every validation and checkpoint.
	Curve *CurveFiles

	// Progress, when set, is called after every update.
	Progress func(Progress)
}

// Plan is what a job is to do: its budgets, its data order and its
// validation schedule.
type Plan struct {
	// Epochs and MaxUpdates bound the job's total epochs and updates, over
	// every run of the job (0: no limit).
	Epochs     int `json:"epochs"`
	MaxUpdates int `json:"max_updates"`
	// InOrder visits the training images in stored order every epoch
	// instead of the shuffled order of ngc.EpochOrder.
	InOrder bool `json:"in_order"`
	// ValidateEvery is the number of updates between validations (0: one
	// per epoch).
	ValidateEvery int `json:"validate_every"`
	// Patience is the number of validations in a row without a relative
	// improvement of at least MinImprovement of the validation MSE after
	// which the job stops (0: never stop early).
	Patience int `json:"patience"`
	// MinImprovement is the relative improvement that counts (0:
	// DefaultMinImprovement).
	MinImprovement float64 `json:"min_improvement"`
	// ValidationTask is what validation measures: reconstruction (the
	// default) or denoising (for a denoising autoencoder, whose validation
	// loss is its denoising error), with noise from ValidationSeed.
	ValidationTask ngc.Task `json:"validation_task"`
	// LRDecay, when positive, multiplies the learning rate by this factor
	// (in (0, 1)) whenever LRPatience validations in a row have not lowered
	// the best validation MSE: the usual reduce-on-plateau schedule.
	LRDecay    float64 `json:"lr_decay,omitempty"`
	LRPatience int     `json:"lr_patience,omitempty"`
}

// Progress reports one finished update.
type Progress struct {
	Update, Epoch int // the job's update count and the current epoch (from 1)
	// Done and PerEpoch are the images of the current epoch trained on and
	// the images an epoch trains on.
	Done, PerEpoch  int
	Objective       float64 // what the update descended (Learner.Objective)
	ImagesPerSecond float64 // over this run, validation included
	// ETA is the time left until the nearest budget, or -1 when there is no
	// budget.
	ETA time.Duration
	// Validation is set when the job validated after this update.
	Validation *metrics.Report
	// Best is the best validation MSE so far (+Inf before any).
	Best float64
	// Checkpointed says the latest checkpoint was written after this update.
	Checkpointed bool
}

// Result summarises a run of a job.
type Result struct {
	// Stopped says why the run ended (one of the Stop constants).
	Stopped string
	// Updates and Images are this run's updates and image-updates.
	Updates int
	Images  int64
	Seconds float64
}

// batchSize is the job's mini-batch size.
func (j *Job) batchSize() int { return min(j.Model.Batch(), j.Train.Len()) }

// check reports a job that cannot run.
func (j *Job) check() error {
	switch {
	case j.Model == nil:
		return errors.New("training: job has no model")
	case j.Train == nil || j.Train.Len() == 0:
		return errors.New("training: job has no training images")
	case j.State == nil:
		return errors.New("training: job has no state (use NewState or Resume)")
	case j.Epochs < 0 || j.MaxUpdates < 0 || j.MaxTime < 0 || j.ValidateEvery < 0 || j.Patience < 0 ||
		j.CheckpointEvery < 0 || j.CheckpointInterval < 0:
		return errors.New("training: negative budget, interval or patience")
	case j.MinImprovement < 0 || j.MinImprovement >= 1 || math.IsNaN(j.MinImprovement):
		return fmt.Errorf("training: minimum improvement %v: want a fraction in [0, 1)", j.MinImprovement)
	case j.LRDecay < 0 || j.LRDecay >= 1 || math.IsNaN(j.LRDecay) || j.LRPatience < 0:
		return fmt.Errorf("training: learning-rate decay %v every %d validations: want a factor in (0, 1) and a patience of 0 or more", j.LRDecay, j.LRPatience)
	case j.State.Offset >= j.Train.Len():
		return fmt.Errorf("training: job state is at image %d of an epoch of %d images: not this training set", j.State.Offset, j.Train.Len())
	}
	return nil
}

// updatesPerEpoch is the number of full mini-batches of an epoch.
func (j *Job) updatesPerEpoch() int { return max(j.Train.Len()/j.batchSize(), 1) }

// validationDue says whether the job validates after update u.
func (j *Job) validationDue(u int) bool {
	if j.Validation == nil {
		return false
	}
	every := j.ValidateEvery
	if every == 0 {
		every = j.updatesPerEpoch()
	}
	return u%every == 0
}

// stopReason returns why the job must not take another update, or "".
func (j *Job) stopReason(ranFor time.Duration) string {
	s := j.State
	switch {
	case j.Epochs > 0 && s.Epoch >= j.Epochs:
		return StopEpochs
	case j.MaxUpdates > 0 && s.Updates >= j.MaxUpdates:
		return StopUpdates
	case j.Patience > 0 && s.Stale >= j.Patience:
		return StopEarly
	case j.MaxTime > 0 && ranFor >= j.MaxTime:
		return StopTime
	}
	return ""
}

// Run trains until a budget is spent, early stopping fires, ctx is
// cancelled or training diverges. Except after a divergence it writes the
// latest checkpoint before it returns, so a job stopped by a signal resumes
// where it stopped. A cancelled job returns its Result and an error
// wrapping ctx.Err(); a diverged one an error wrapping ngc.ErrDiverged that
// names the update and the layer, with no checkpoint of the diverged model.
func (j *Job) Run(ctx context.Context) (Result, error) {
	if err := j.check(); err != nil {
		return Result{}, err
	}
	if j.MinImprovement == 0 {
		j.MinImprovement = DefaultMinImprovement
	}
	s := j.State
	s.Plan = j.Plan
	s.Stopped = ""
	batch := j.batchSize()
	x := make([]float32, batch*data.ImageSize)
	n := j.Train.Len()
	var (
		res       Result
		order     []int
		orderOf   = -1
		start     = time.Now()
		lastCkpt  = start
		lastClock = start
	)
	// A job interrupted between an update and its validation validates first.
	if s.Updates > 0 && s.Curve[s.Updates-1].Validation == nil && j.validationDue(s.Updates) {
		if err := j.validate(ctx, &s.Curve[s.Updates-1]); err != nil {
			return res, j.interrupted(ctx, err)
		}
	}
	finish := func(reason string) (Result, error) {
		s.Stopped = reason
		res.Stopped = reason
		res.Seconds = time.Since(start).Seconds()
		if err := j.checkpoint(); err != nil {
			return res, err
		}
		return res, nil
	}
	for {
		if reason := j.stopReason(time.Since(start)); reason != "" {
			return finish(reason)
		}
		if ctx.Err() != nil {
			res.Seconds = time.Since(start).Seconds()
			return res, j.interrupted(ctx, ctx.Err())
		}
		if s.Offset+batch > n { // resumed with a larger batch than the epoch has left
			s.Epoch, s.Offset = s.Epoch+1, 0
			continue
		}
		if orderOf != s.Epoch {
			order, orderOf = j.order(s.Epoch, n), s.Epoch
		}
		b := batch
		for i, idx := range order[s.Offset : s.Offset+b] {
			copy(x[i*data.ImageSize:(i+1)*data.ImageSize], j.Train.Image(idx))
		}
		u := s.Updates + 1
		objective, err := j.Model.TrainBatch(x)
		if err == nil {
			err = j.Model.CheckFinite()
		}
		if err != nil {
			return res, fmt.Errorf("update %d: %w", u, err)
		}
		now := time.Now()
		s.Seconds += now.Sub(lastClock).Seconds()
		lastClock = now
		s.Updates, s.Images = u, s.Images+int64(b)
		res.Updates++
		res.Images += int64(b)
		s.Offset += b
		epoch, done := s.Epoch+1, s.Offset // the epoch of this update, and its images so far
		if s.Offset+batch > n {
			s.Epoch, s.Offset = s.Epoch+1, 0
		}
		s.Curve = append(s.Curve, Point{Update: u, Images: s.Images, Objective: objective, Seconds: s.Seconds,
			Epoch: float64(s.Epoch) + float64(s.Offset)/float64(n)})
		p := Progress{Update: u, Epoch: epoch, Done: done, PerEpoch: j.updatesPerEpoch() * batch,
			Objective: objective, Best: s.BestMSE}
		if j.validationDue(u) {
			if err := j.validate(ctx, &s.Curve[u-1]); err != nil {
				return res, j.interrupted(ctx, err)
			}
			p.Validation, p.Best = s.Curve[u-1].Validation, s.BestMSE
			now = time.Now()
			s.Seconds += now.Sub(lastClock).Seconds()
			s.Curve[u-1].Seconds = s.Seconds
			lastClock = now
		}
		if (j.CheckpointEvery > 0 && u%j.CheckpointEvery == 0) ||
			(j.CheckpointInterval > 0 && now.Sub(lastCkpt) >= j.CheckpointInterval) {
			if err := j.checkpoint(); err != nil {
				return res, err
			}
			lastCkpt, p.Checkpointed = now, true
		} else if p.Validation != nil {
			if err := j.writeCurve(); err != nil {
				return res, err
			}
		}
		if j.Progress != nil {
			el := time.Since(start)
			p.ImagesPerSecond = float64(res.Images) / el.Seconds()
			p.ETA = j.eta(el, res.Updates)
			j.Progress(p)
		}
	}
}

// order returns the order of the training images in epoch ep.
func (j *Job) order(ep, n int) []int {
	if j.InOrder {
		o := make([]int, n)
		for i := range o {
			o[i] = i
		}
		return o
	}
	return ngc.EpochOrder(j.Model.Seed(), ep, n)
}

// interrupted writes the latest checkpoint of an interrupted run and
// returns the error that interrupted it.
func (j *Job) interrupted(ctx context.Context, cause error) error {
	if ctx.Err() == nil {
		return cause
	}
	j.State.Stopped = StopInterrupted
	if err := j.checkpoint(); err != nil {
		return errors.Join(fmt.Errorf("training: stopped: %w", cause), err)
	}
	return fmt.Errorf("training: stopped at update %d: %w", j.State.Updates, cause)
}

// validate measures the validation set's metrics, records them at p,
// keeps the best model and counts the validations without improvement.
func (j *Job) validate(ctx context.Context, p *Point) error {
	r, err := j.Model.Evaluate(ctx, j.Validation, ngc.EvalOptions{Task: j.ValidationTask, Seed: ValidationSeed})
	if err != nil {
		return err
	}
	rep := r.Report
	if math.IsNaN(rep.MSE) || math.IsInf(rep.MSE, 0) {
		return fmt.Errorf("update %d: %w: the validation MSE is %v", p.Update, ngc.ErrDiverged, rep.MSE)
	}
	p.Validation = &rep
	s := j.State
	improved := rep.MSE < s.BestMSE
	if improved {
		s.BestMSE, s.BestUpdate = rep.MSE, p.Update
		if j.Best != "" {
			if err := writeCheckpoint(j.Best, j.Model, s); err != nil {
				return err
			}
		}
	}
	if rep.MSE <= s.Reference*(1-j.MinImprovement) {
		s.Reference, s.Stale = rep.MSE, 0
	} else {
		s.Stale++
	}
	if j.LRDecay > 0 {
		if improved {
			s.LRStale = 0
		} else if s.LRStale++; s.LRStale >= max(j.LRPatience, 1) {
			lr := j.Model.LearningRate() * j.LRDecay
			j.Model.SetLearningRate(lr)
			s.LRStale = 0
			s.Decays = append(s.Decays, Decay{Update: p.Update, LearningRate: lr})
		}
	}
	return nil
}

// checkpoint writes the latest checkpoint and the curve.
func (j *Job) checkpoint() error {
	if j.Latest != "" {
		if err := writeCheckpoint(j.Latest, j.Model, j.State); err != nil {
			return err
		}
	}
	return j.writeCurve()
}

func (j *Job) writeCurve() error {
	if j.Curve == nil {
		return nil
	}
	return j.Curve.Write(j.State)
}

// eta estimates the time to the nearest budget from this run's pace.
func (j *Job) eta(elapsed time.Duration, updates int) time.Duration {
	if updates == 0 {
		return -1
	}
	per := elapsed / time.Duration(updates)
	s := j.State
	left := time.Duration(-1)
	take := func(d time.Duration) {
		if d < 0 {
			d = 0
		}
		if left < 0 || d < left {
			left = d
		}
	}
	if j.MaxUpdates > 0 {
		take(time.Duration(j.MaxUpdates-s.Updates) * per)
	}
	if j.Epochs > 0 {
		perEpoch := j.updatesPerEpoch()
		done := s.Epoch*perEpoch + s.Offset/j.batchSize()
		take(time.Duration(j.Epochs*perEpoch-done) * per)
	}
	if j.MaxTime > 0 {
		take(j.MaxTime - elapsed)
	}
	return left
}
