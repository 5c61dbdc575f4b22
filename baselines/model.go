package baselines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
	"github.com/convngc/convngc/ngc/safetensors"
)

// Model is what the three baselines have in common, so that an experiment
// runner can treat them (and, with an adapter, Conv-NGC) alike.
type Model interface {
	// Name identifies the model in results: "conv-ae", "conv-dae", "ngc"
	// or "pcn".
	Name() string
	// Fit trains on set.
	Fit(ctx context.Context, set *data.Set, opts FitOptions) (FitResult, error)
	// TrainBatch takes one update on a mini-batch of images, image-major
	// ([B][C][H][W], values in [0, 1]), and returns the objective.
	TrainBatch(x []float32) (float64, error)
	// Batch is the configured training mini-batch size.
	Batch() int
	// Seed is the configured seed (initialisation, data order, noise).
	Seed() uint64
	// Objective names what TrainBatch returns: "bce" or "mse" (the
	// autoencoders' loss per value) or "energy" (NGC's total discrepancy
	// per image).
	Objective() string
	// Checkpoint returns what Save writes, as an in-memory file to which a
	// caller may add metadata of its own.
	Checkpoint() (*safetensors.File, error)
	// CheckFinite returns an error wrapping ngc.ErrDiverged naming the first
	// parameter that holds a NaN or an infinity, or nil.
	CheckFinite() error
	// LearningRate and SetLearningRate read and set Adam's step size (the
	// config, and so the checkpoint, records it).
	LearningRate() float64
	SetLearningRate(lr float64)
	// Evaluate runs a task over set and measures the paper's metrics of
	// the outputs against the clean images.
	Evaluate(ctx context.Context, set *data.Set, opts ngc.EvalOptions) (ngc.EvalResult, error)
	// Save writes the model to a safetensors checkpoint that Load reads.
	Save(path string) error
	// Params returns the number of trainable parameters.
	Params() int
}

// FitOptions control training over a data set.
type FitOptions struct {
	// Epochs over the set (1).
	Epochs int
	// Batch overrides the model's configured mini-batch size when positive.
	Batch int
	// Progress, when set, is called after every mini-batch.
	Progress func(FitProgress)
}

// FitProgress reports one finished training mini-batch.
type FitProgress struct {
	Epoch, Epochs   int
	Batch, Batches  int     // within the epoch
	Images          int     // images trained on so far
	Loss            float64 // the objective of this batch (see FitResult.Objective)
	ImagesPerSecond float64 // over the run so far
}

// FitResult summarises a training run.
type FitResult struct {
	Updates int     `json:"updates"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
	// Objective names what Loss holds: the autoencoders' training loss
	// ("bce" or "mse", per value, on the batch before the update) or, for
	// NGC, "energy": the total discrepancy ½Σ_ℓ‖e[ℓ]‖² per image after the
	// T steps, which the update then descends.
	Objective string    `json:"objective"`
	Loss      []float64 `json:"loss_per_batch"`
}

// Seed streams: one per purpose, so draws for different purposes are
// independent for one seed.
const (
	streamInit    = 0x9e3779b97f4a7c15
	streamShuffle = 0x5851f42d4c957f2d // as ngc.Model.Fit: the same order for the same seed
	streamNoise   = 0xd1b54a32d192ed03
	streamStates  = 0x8cb92ba72f3d8dd7
	// The evaluation streams are those of ngc.Model.Evaluate, so that every
	// model denoises exactly the same corrupted images for one seed.
	streamEvalNoise  = 0xda3e39cb94b95bdb
	streamEvalStates = 0x2545f4914f6cdd1d
)

// batchRand returns the random stream of one purpose for training update
// number u: a function of the seed and u only, so that training resumed
// from a checkpoint draws what the uninterrupted run would have drawn.
func batchRand(seed, stream uint64, u int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^stream, uint64(u)))
}

func checkSet(name string, set *data.Set, imageLen int) error {
	if set == nil || set.Len() == 0 {
		return fmt.Errorf("baselines: %s: empty data set", name)
	}
	if len(set.Images) != set.Len()*data.ImageSize {
		return fmt.Errorf("baselines: %s: data set %q has %d floats for %d images", name, set.Name, len(set.Images), set.Len())
	}
	if imageLen != data.ImageSize {
		return fmt.Errorf("baselines: %s expects images of %d values, data set %q has %d×%d×%d = %d",
			name, imageLen, set.Name, data.Channels, data.Height, data.Width, data.ImageSize)
	}
	return nil
}

// fit is the training loop every baseline shares, the same as
// ngc.Model.Fit's: each epoch shuffles the images (from the seed and the
// epoch number) and calls step on every full mini-batch, image-major; a
// last partial batch is dropped. A set smaller than one batch trains on one
// batch of all its images.
func fit(ctx context.Context, name, objective string, set *data.Set, opts FitOptions, batch int, seed uint64,
	step func(x []float32) (float64, error)) (FitResult, error) {
	epochs := max(opts.Epochs, 1)
	if opts.Batch > 0 {
		batch = opts.Batch
	}
	batch = min(batch, set.Len())
	x := make([]float32, batch*data.ImageSize)
	batches := set.Len() / batch
	res := FitResult{Objective: objective}
	start := time.Now()
	for ep := 0; ep < epochs; ep++ {
		order := rand.New(rand.NewPCG(seed, uint64(ep)+streamShuffle)).Perm(set.Len())
		for b := 0; b < batches; b++ {
			if err := ctx.Err(); err != nil {
				res.Seconds = time.Since(start).Seconds()
				return res, fmt.Errorf("baselines: %s: training stopped: %w", name, err)
			}
			for i, idx := range order[b*batch : (b+1)*batch] {
				copy(x[i*data.ImageSize:(i+1)*data.ImageSize], set.Image(idx))
			}
			loss, err := step(x)
			if err != nil {
				res.Seconds = time.Since(start).Seconds()
				return res, err
			}
			res.Updates++
			res.Images += batch
			res.Loss = append(res.Loss, loss)
			if opts.Progress != nil {
				el := time.Since(start).Seconds()
				opts.Progress(FitProgress{Epoch: ep + 1, Epochs: epochs, Batch: b + 1, Batches: batches,
					Images: res.Images, Loss: loss, ImagesPerSecond: float64(res.Images) / el})
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// evalRun computes the outputs of n images: out = model(in), both
// image-major. lo is the index of the first image in the set.
type evalRun func(out, in []float32, n, lo int, res *ngc.EvalResult) error

// evaluate is the evaluation loop every baseline shares, the same as
// ngc.Model.Evaluate's: mini-batches in order, the denoising corruption
// drawn from the same stream as Conv-NGC's, the metrics against the clean
// images, and the first Keep images returned as samples.
func evaluate(ctx context.Context, name string, set *data.Set, opts ngc.EvalOptions, batch int, run evalRun) (ngc.EvalResult, error) {
	if opts.Task != ngc.Reconstruct && opts.Task != ngc.Denoise {
		return ngc.EvalResult{}, fmt.Errorf("baselines: %s: unknown task %v", name, opts.Task)
	}
	if opts.NoiseStd == 0 {
		opts.NoiseStd = 0.1
	}
	if opts.NoiseStd < 0 {
		return ngc.EvalResult{}, fmt.Errorf("baselines: %s: negative noise std %g", name, opts.NoiseStd)
	}
	if opts.Batch > 0 {
		batch = opts.Batch
	}
	batch = min(batch, set.Len())
	res := ngc.EvalResult{Task: opts.Task.String()}
	noise := rand.New(rand.NewPCG(opts.Seed, streamEvalNoise))
	var acc metrics.Accumulator
	start := time.Now()
	keep := min(max(opts.Keep, 0), set.Len())
	out := make([]float32, batch*data.ImageSize)
	var noisy []float32
	if opts.Task == ngc.Denoise {
		noisy = make([]float32, batch*data.ImageSize)
	}
	for lo := 0; lo < set.Len(); lo += batch {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("baselines: %s: evaluation stopped: %w", name, err)
		}
		n := min(batch, set.Len()-lo)
		clean := set.Images[lo*data.ImageSize : (lo+n)*data.ImageSize]
		in := clean
		if opts.Task == ngc.Denoise {
			in = noisy[:len(clean)]
			ngc.Corrupt(in, clean, opts.NoiseStd, opts.NoClip, noise)
		}
		o := out[:len(clean)]
		if err := run(o, in, n, lo, &res); err != nil {
			return res, err
		}
		if err := acc.Add(clean, o, metrics.Shape{N: n, C: data.Channels, H: data.Height, W: data.Width}); err != nil {
			return res, fmt.Errorf("baselines: %s: metrics: %w", name, err)
		}
		if lo < keep {
			k := min(keep-lo, n) * data.ImageSize
			res.Original = append(res.Original, clean[:k]...)
			res.Corrupted = append(res.Corrupted, in[:k]...)
			res.Output = append(res.Output, o[:k]...)
		}
		res.Images += n
		if opts.Progress != nil {
			opts.Progress(res.Images, set.Len())
		}
	}
	res.Report = acc.Report()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
