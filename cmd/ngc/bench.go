package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/convngc/convngc/ngc"
)

// benchResult is one measured workload.
type benchResult struct {
	Workload        string  `json:"workload"`
	Batch           int     `json:"batch"`
	Steps           int     `json:"T"`
	Repeats         int     `json:"repeats"`
	SecondsPerBatch float64 `json:"seconds_per_batch"`
	ImagesPerSecond float64 `json:"images_per_second"`
	GFLOPs          float64 `json:"gflop_per_second"`
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "[flags]",
		"Measure the batched reference at the paper configuration: images/s and effective GFLOP/s\n"+
			"(convolution FLOPs only, 2 per multiply-accumulate) of one inference batch and one training\n"+
			"batch, on synthetic images. Each workload runs once to warm up, then --repeats times; the\n"+
			"best repeat is reported. Also reports the process's peak resident memory.")
	batch := fs.Int("batch", 500, "images per mini-batch")
	steps := fs.Int("T", 60, "inference steps")
	repeats := fs.Int("repeats", 3, "timed repetitions per workload")
	jsonOut := fs.String("json", "", "also write the results to this JSON file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *steps < 1 || *repeats < 1 {
		return fmt.Errorf("bench: --batch, --T and --repeats must be positive")
	}
	m, err := ngc.New(ngc.Config{Steps: *steps, Batch: *batch})
	if err != nil {
		return err
	}
	ws, err := m.NewWorkspace(*batch)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, *batch*3*32*32)
	for i := range x {
		x[i] = r.Float32()
	}
	fmt.Fprintf(e.stdout, "Conv-NGC batched reference, paper network, B=%d, T=%d, GOMAXPROCS=%d\n", *batch, *steps, runtime.GOMAXPROCS(0))
	var results []benchResult
	for _, w := range []struct {
		name  string
		train bool
	}{{"inference", false}, {"train-batch", true}} {
		best := time.Duration(1<<63 - 1)
		for i := 0; i <= *repeats; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			start := time.Now()
			if w.train {
				err = m.TrainBatch(ws, x, nil, nil)
			} else {
				err = m.Infer(ws, x, ngc.Reconstruct, nil, nil)
			}
			if err != nil {
				return err
			}
			if d := time.Since(start); i > 0 && d < best {
				best = d
			}
		}
		sec := best.Seconds()
		res := benchResult{Workload: w.name, Batch: *batch, Steps: *steps, Repeats: *repeats, SecondsPerBatch: sec,
			ImagesPerSecond: float64(*batch) / sec, GFLOPs: float64(m.FLOPsPerImage(w.train)) * float64(*batch) / sec / 1e9}
		results = append(results, res)
		fmt.Fprintf(e.stdout, "%-12s %8.1f img/s  %6.2f GFLOP/s  %7.3f s/batch  %6.2f ms/step\n",
			res.Workload, res.ImagesPerSecond, res.GFLOPs, sec, 1000*sec/float64(*steps))
	}
	peak := peakRSS()
	fmt.Fprintf(e.stdout, "peak resident memory: %.0f MiB\n", float64(peak)/(1<<20))
	if *jsonOut != "" {
		return writeJSON(*jsonOut, map[string]any{"results": results, "peak_rss_bytes": peak, "gomaxprocs": runtime.GOMAXPROCS(0)})
	}
	return nil
}
