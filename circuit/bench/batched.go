package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/convngc/convngc/ngc"
)

// Options say what to measure.
type Options struct {
	// Config is the network (zero: the paper's); Batch and Steps replace
	// its mini-batch size and T.
	Config ngc.Config
	// Batch is the images per mini-batch, Steps the inference steps T and
	// Repeats the timed repetitions of every workload (each at least 1).
	Batch, Steps, Repeats int
}

// model returns the network to measure, its workspace and a batch of
// synthetic images (uniform in [0,1), from a fixed seed).
func (o Options) model() (*ngc.Model, *ngc.Workspace, []float32, error) {
	if o.Batch < 1 || o.Steps < 1 || o.Repeats < 1 {
		return nil, nil, nil, fmt.Errorf("bench: batch %d, T %d, repeats %d: want at least 1 each", o.Batch, o.Steps, o.Repeats)
	}
	cfg := o.Config
	cfg.Steps, cfg.Batch = o.Steps, o.Batch
	m, err := ngc.New(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bench: %w", err)
	}
	ws, err := m.NewWorkspace(o.Batch)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bench: %w", err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, o.Batch*m.Config().ChannelsAt(0)*m.Config().ImageSize*m.Config().ImageSize)
	for i := range x {
		x[i] = r.Float32()
	}
	return m, ws, x, nil
}

// Result is one measured workload of the batched reference.
type Result struct {
	// Workload is "inference" (reconstruction) or "train-batch"
	// (inference and the local update).
	Workload        string  `json:"workload"`
	Batch           int     `json:"batch"`
	Steps           int     `json:"T"`
	Repeats         int     `json:"repeats"`
	SecondsPerBatch float64 `json:"seconds_per_batch"` // the best repeat
	ImagesPerSecond float64 `json:"images_per_second"`
	GFLOPs          float64 `json:"gflop_per_second"` // effective: the model's convolution FLOPs
	// PercentOfPeak is GFLOPs as a percentage of the measured FMA peak
	// (absent when the peak was not measured; Batched leaves it for the
	// caller, who measures the peak).
	PercentOfPeak float64 `json:"percent_of_fma_peak,omitempty"`
}

// Batched measures one inference batch and one training batch of the
// batched reference, each once to warm up and then o.Repeats times, and
// returns the best repeat of each.
func Batched(ctx context.Context, o Options) ([]Result, error) {
	m, ws, x, err := o.model()
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, w := range []struct {
		name  string
		train bool
	}{{"inference", false}, {"train-batch", true}} {
		best := time.Duration(1<<63 - 1)
		for i := 0; i <= o.Repeats; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start := time.Now()
			if w.train {
				err = m.TrainBatch(ws, x, nil, nil)
			} else {
				err = m.Infer(ws, x, ngc.Reconstruct, nil, nil)
			}
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", w.name, err)
			}
			if d := time.Since(start); i > 0 && d < best {
				best = d
			}
		}
		sec := best.Seconds()
		results = append(results, Result{Workload: w.name, Batch: o.Batch, Steps: o.Steps, Repeats: o.Repeats, SecondsPerBatch: sec,
			ImagesPerSecond: float64(o.Batch) / sec, GFLOPs: float64(m.FLOPsPerImage(w.train)) * float64(o.Batch) / sec / 1e9})
	}
	return results, nil
}

// String is the result as `ngc bench` prints it: "inference  2285.3 img/s
// 0.219 s/batch  3.65 ms/step  284.12 GFLOP/s".
func (r Result) String() string {
	return fmt.Sprintf("%-12s %8.1f img/s  %7.3f s/batch  %6.2f ms/step  %6.2f GFLOP/s",
		r.Workload, r.ImagesPerSecond, r.SecondsPerBatch, 1000*r.SecondsPerBatch/float64(r.Steps), r.GFLOPs)
}
