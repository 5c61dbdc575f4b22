package ngc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

// FitOptions control training over a data set.
type FitOptions struct {
	// Epochs over the set (1).
	Epochs int
	// Batch overrides Config.Batch when positive.
	Batch int
	// InOrder trains on the images in the set's order every epoch instead
	// of shuffling them (the order the actor runtime's `ngc run --learn`
	// feeds them in).
	InOrder bool
	// Progress, when set, is called after every mini-batch.
	Progress func(FitProgress)
}

// FitProgress reports one finished training mini-batch.
type FitProgress struct {
	Epoch, Epochs   int
	Batch, Batches  int     // within the epoch
	Images          int     // images trained on so far
	Energy          float64 // final total discrepancy per image of this batch
	ImagesPerSecond float64 // over the run so far
}

// FitResult summarises a training run.
type FitResult struct {
	Updates int         `json:"updates"`
	Images  int         `json:"images"`
	Seconds float64     `json:"seconds"`
	Energy  []float64   `json:"energy_per_batch"` // final total discrepancy per image, per update
	Layers  [][]float64 `json:"layer_energy_per_batch"`
}

func (m *Model) checkSet(set *data.Set) error {
	if set == nil || set.Len() == 0 {
		return fmt.Errorf("ngc: empty data set")
	}
	if img := m.g.Layers[0]; img.Maps != data.Channels || img.Size != data.Height || data.Height != data.Width {
		return fmt.Errorf("ngc: model expects %d×%d×%d images, data set %q has %d×%d×%d",
			img.Maps, img.Size, img.Size, set.Name, data.Channels, data.Height, data.Width)
	}
	return nil
}

// Fit trains the model on set: each epoch shuffles the images (from
// Config.Seed and the epoch number; unless opts.InOrder) and runs TrainBatch on every full
// mini-batch; a last partial batch is dropped, as a fixed batch size keeps
// the update statistics comparable. A set smaller than one batch trains on
// one batch of all its images.
func (m *Model) Fit(ctx context.Context, set *data.Set, opts FitOptions) (FitResult, error) {
	if err := m.checkSet(set); err != nil {
		return FitResult{}, err
	}
	epochs := max(opts.Epochs, 1)
	batch := m.cfg.Batch
	if opts.Batch > 0 {
		batch = opts.Batch
	}
	batch = min(batch, set.Len())
	ws, err := m.NewWorkspace(batch)
	if err != nil {
		return FitResult{}, err
	}
	x := make([]float32, batch*data.ImageSize)
	batches := set.Len() / batch
	var res FitResult
	start := time.Now()
	var tr Trace
	for ep := 0; ep < epochs; ep++ {
		order := make([]int, set.Len())
		if opts.InOrder {
			for i := range order {
				order[i] = i
			}
		} else {
			order = EpochOrder(m.seed, ep, set.Len())
		}
		for b := 0; b < batches; b++ {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("ngc: training stopped: %w", err)
			}
			for i, idx := range order[b*batch : (b+1)*batch] {
				copy(x[i*data.ImageSize:(i+1)*data.ImageSize], set.Image(idx))
			}
			if err := m.TrainBatch(ws, x, nil, &tr); err != nil {
				return res, err
			}
			res.Updates++
			res.Images += batch
			res.Energy = append(res.Energy, tr.FinalTotal())
			res.Layers = append(res.Layers, append([]float64(nil), tr.Final...))
			if opts.Progress != nil {
				el := time.Since(start).Seconds()
				opts.Progress(FitProgress{Epoch: ep + 1, Epochs: epochs, Batch: b + 1, Batches: batches,
					Images: res.Images, Energy: tr.FinalTotal(), ImagesPerSecond: float64(res.Images) / el})
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// EvalOptions control evaluation.
type EvalOptions struct {
	Task Task
	// NoiseStd is the standard deviation of the denoising corruption (0.1).
	NoiseStd float64
	// NoClip keeps corrupted pixels outside [0, 1].
	NoClip bool
	// Batch overrides Config.Batch when positive.
	Batch int
	// Seed drives the corruption noise and the top-state initialisation.
	Seed uint64
	// Keep is how many leading images to return as samples (for pictures).
	Keep int
	// Progress, when set, is called with the number of images done.
	Progress func(done, total int)
	// ClampSteps is, for denoising, how many steps the image layer stays
	// clamped to the noisy input before it moves freely: 0 or 1 is the
	// paper's protocol (clamped during step 1 only); T or more keeps it
	// clamped for the whole window, i.e. reconstructs the noisy image. It
	// is an analysis setting of the batched reference: the actor runtime
	// always runs the paper's protocol.
	ClampSteps int
	// PerStep also measures the output x̂_t = mu[0] predicted from the
	// states after every step t = 1..T (EvalResult.StepMSE, StepPSNR). It
	// runs the window T times over (windows of 1, 2, …, T steps from the
	// same initial states), so it costs about T/2 evaluations.
	PerStep bool
}

// EvalResult is what Evaluate measures.
type EvalResult struct {
	Task    string         `json:"task"`
	Report  metrics.Report `json:"metrics"`
	Images  int            `json:"images"`
	Seconds float64        `json:"seconds"`
	// Energy is the mean total discrepancy per image at every step, and
	// EnergyLayers the per-layer means, over all evaluated batches.
	Energy       []float64   `json:"energy_per_step"`
	EnergyLayers [][]float64 `json:"energy_per_step_per_layer"`
	// StepMSE and StepPSNR are, with EvalOptions.PerStep, the MSE and PSNR
	// of the output predicted from the states after step t+1, against the
	// clean images (the last equals Report's).
	StepMSE  []float64 `json:"mse_per_step,omitempty"`
	StepPSNR []float64 `json:"psnr_per_step,omitempty"`
	// Samples of the first Keep images, image-major: originals, the
	// corrupted inputs (the originals for reconstruction), the outputs, and
	// the states of every layer (Latents[ℓ], layout [Keep][C_ℓ][H_ℓ][W_ℓ]).
	Original, Corrupted, Output []float32   `json:"-"`
	Latents                     [][]float32 `json:"-"`
}

// Evaluate runs the task over every image of set in mini-batches and
// measures the paper's metrics of the outputs against the clean originals.
func (m *Model) Evaluate(ctx context.Context, set *data.Set, opts EvalOptions) (EvalResult, error) {
	if err := m.checkSet(set); err != nil {
		return EvalResult{}, err
	}
	if opts.NoiseStd == 0 {
		opts.NoiseStd = 0.1
	}
	batch := m.cfg.Batch
	if opts.Batch > 0 {
		batch = opts.Batch
	}
	batch = min(batch, set.Len())
	res := EvalResult{Task: opts.Task.String()}
	noise := rand.New(rand.NewPCG(opts.Seed, 0xda3e39cb94b95bdb))
	statesPCG := rand.NewPCG(opts.Seed, 0x2545f4914f6cdd1d)
	states := rand.New(statesPCG)
	ro := runOptions{clamp: opts.ClampSteps}
	if opts.ClampSteps < 0 {
		return res, fmt.Errorf("ngc: clamp steps %d: want 0 or more", opts.ClampSteps)
	}
	var stepMSE, stepPSNR []float64
	var acc metrics.Accumulator
	var ws *Workspace
	var tr Trace
	start := time.Now()
	keep := min(opts.Keep, set.Len())
	for lo := 0; lo < set.Len(); lo += batch {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("ngc: evaluation stopped: %w", err)
		}
		n := min(batch, set.Len()-lo)
		if ws == nil || ws.B != n {
			var err error
			if ws, err = m.NewWorkspace(n); err != nil {
				return res, err
			}
		}
		clean := set.Images[lo*data.ImageSize : (lo+n)*data.ImageSize]
		in := clean
		if opts.Task == Denoise {
			in = make([]float32, len(clean))
			Corrupt(in, clean, opts.NoiseStd, opts.NoClip, noise)
		}
		out := make([]float32, len(clean))
		shape := metrics.Shape{N: n, C: data.Channels, H: data.Height, W: data.Width}
		if opts.PerStep {
			// Windows of 1 … T−1 steps from the initial states the full
			// window below draws.
			start, err := statesPCG.MarshalBinary()
			if err != nil {
				return res, err
			}
			if stepMSE == nil {
				stepMSE, stepPSNR = make([]float64, m.cfg.Steps), make([]float64, m.cfg.Steps)
			}
			for t := 1; t < m.cfg.Steps; t++ {
				if err := statesPCG.UnmarshalBinary(start); err != nil {
					return res, err
				}
				r := ro
				r.steps = t
				if err := m.infer(ws, in, opts.Task, states, nil, false, r); err != nil {
					return res, err
				}
				ws.Output(out)
				if err := addStep(stepMSE, stepPSNR, t-1, clean, out, shape); err != nil {
					return res, err
				}
			}
			if err := statesPCG.UnmarshalBinary(start); err != nil {
				return res, err
			}
		}
		if err := m.infer(ws, in, opts.Task, states, &tr, false, ro); err != nil {
			return res, err
		}
		ws.Output(out)
		if opts.PerStep {
			if err := addStep(stepMSE, stepPSNR, m.cfg.Steps-1, clean, out, shape); err != nil {
				return res, err
			}
		}
		if err := acc.Add(clean, out, shape); err != nil {
			return res, err
		}
		if res.Energy == nil {
			res.Energy = make([]float64, len(tr.Steps))
			res.EnergyLayers = make([][]float64, len(tr.Steps))
			for t := range res.EnergyLayers {
				res.EnergyLayers[t] = make([]float64, len(tr.Steps[t]))
			}
		}
		for t, layers := range tr.Steps {
			for l, v := range layers {
				res.EnergyLayers[t][l] += v * float64(n)
				res.Energy[t] += v * float64(n)
			}
		}
		if lo < keep {
			k := min(keep-lo, n)
			res.Original = append(res.Original, clean[:k*data.ImageSize]...)
			res.Corrupted = append(res.Corrupted, in[:k*data.ImageSize]...)
			res.Output = append(res.Output, out[:k*data.ImageSize]...)
			if res.Latents == nil {
				res.Latents = make([][]float32, len(m.g.Layers))
			}
			for l := range res.Latents {
				c, s := m.g.Layers[l].Maps, m.g.Layers[l].Size
				all := make([]float32, n*c*s*s)
				ws.Layer(all, l)
				res.Latents[l] = append(res.Latents[l], all[:k*c*s*s]...)
			}
		}
		res.Images += n
		if opts.Progress != nil {
			opts.Progress(res.Images, set.Len())
		}
	}
	for t := range res.Energy {
		res.Energy[t] /= float64(res.Images)
		for l := range res.EnergyLayers[t] {
			res.EnergyLayers[t][l] /= float64(res.Images)
		}
	}
	res.Report = acc.Report()
	for t := range stepMSE {
		stepMSE[t] /= float64(res.Images)
		stepPSNR[t] /= float64(res.Images)
	}
	res.StepMSE, res.StepPSNR = stepMSE, stepPSNR
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// addStep adds the summed MSE and PSNR of a batch's outputs to step t's
// totals (Evaluate divides by the number of images at the end).
func addStep(mse, psnr []float64, t int, clean, out []float32, shape metrics.Shape) error {
	reps, err := metrics.PerImageError(clean, out, shape)
	if err != nil {
		return err
	}
	for _, r := range reps {
		mse[t] += r.MSE
		psnr[t] += r.PSNR
	}
	return nil
}
