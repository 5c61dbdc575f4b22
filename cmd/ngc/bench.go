package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/convngc/convngc/circuit/bench"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/tensor"
)

const benchDoc = "Measure the batched reference at the paper configuration: images/s and effective GFLOP/s\n" +
	"(convolution FLOPs only, 2 per multiply-accumulate) of one inference batch and one training\n" +
	"batch, on synthetic images. Each workload runs once to warm up, then --repeats times; the\n" +
	"best repeat is reported. Also reports the process's peak resident memory.\n\n" +
	"It measures the machine's FP32 FMA peak before and after the workloads (the better counts):\n" +
	"register-resident loops of independent fused multiply-adds on every thread at once, in each\n" +
	"instruction set the machine has (AVX-512 and AVX2 in assembly, and a portable Go loop); the\n" +
	"fastest is the peak, and every workload line ends with its effective GFLOP/s as a percentage\n" +
	"of it. Run on a quiet machine: other work lowers both.\n\n" +
	"With --runtime, measure sync inference (reconstruction) instead in three runtimes in the\n" +
	"same run: the batched reference, the actor runtime on the in-process bus, and the actor\n" +
	"runtime on NATS through an embedded server (--nats). Each repeat runs one batch in every\n" +
	"runtime in turn, so that all see the same machine load (each batch is charged a garbage\n" +
	"collection of what it left, so that none slows the next; an actor batch runs in a session\n" +
	"started and closed around it, untimed, so that one runtime is in memory at a time). The\n" +
	"best repeat of each is reported with its ratio to the batched reference, the process CPU\n" +
	"seconds per batch, and the bus traffic: frames published and delivered per second and\n" +
	"their bytes per second (4 bytes per float plus the header; on NATS also the bytes on the\n" +
	"wire).\n" +
	"The measurements are package circuit/bench."

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "[flags]", benchDoc)
	var o bench.Options
	fs.IntVar(&o.Batch, "batch", 500, "images per mini-batch")
	fs.IntVar(&o.Steps, "T", 60, "inference steps")
	fs.IntVar(&o.Repeats, "repeats", 3, "timed repetitions per workload")
	jsonOut := fs.String("json", "", "also write the results to this JSON file")
	rt := fs.Bool("runtime", false, "compare the batched reference with the actor runtime (in-process and NATS buses)")
	peakTime := fs.Duration("peak-time", 300*time.Millisecond, "time to measure the FMA peak with each kernel (0: do not measure it)")
	kernels := fs.String("kernels", "", "the batched path's micro-kernels: "+strings.Join(tensor.TileKernelSets(), ", ")+"\n(default: the first, the fastest this machine has)")
	scaling := fs.IntSlice("scaling", nil, "instead, sweep image sizes (e.g. 32,64,128: the paper network with one more layer of 25 maps per doubling) at every --scaling-batch, and print the cost per image and per pixel")
	scalingBatches := fs.IntSlice("scaling-batch", []int{50, 100, 250, 500, 1000}, "with --scaling, the mini-batch sizes")
	natsMode := fs.String("nats", "embedded", "with --runtime, how the NATS actors connect to the embedded server: embedded (in-memory\nconnection, as ngc run --bus embedded), tcp (loopback TCP), both, or none")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkRules("bench",
		rule{"batch", o.Batch, o.Batch >= 1, "at least 1 image"},
		rule{"T", o.Steps, o.Steps >= 1, "at least 1 step"},
		rule{"repeats", o.Repeats, o.Repeats >= 1, "at least 1"},
		rule{"peak-time", *peakTime, *peakTime >= 0, "0 (no peak) or a duration"},
	); err != nil {
		return err
	}
	if *kernels != "" {
		prev, err := tensor.UseTileKernels(*kernels)
		if err != nil {
			return fmt.Errorf("bench: --kernels: %w", err)
		}
		defer tensor.UseTileKernels(prev)
	}
	var nats []string
	switch *natsMode {
	case "embedded", "tcp":
		nats = []string{*natsMode}
	case "both":
		nats = []string{bench.NATSEmbedded, bench.NATSTCP}
	case "none":
	default:
		if *rt {
			return fmt.Errorf("bench: --nats %q: want embedded, tcp, both or none", *natsMode)
		}
	}
	// The peak is measured before and after the workloads; the better of
	// the two counts.
	peak, err := bench.MeasurePeak(*peakTime)
	if err != nil {
		return err
	}
	if *rt {
		return benchRuntime(ctx, e, o, nats, *jsonOut, peak, *peakTime)
	}
	if len(*scaling) > 0 {
		rows, err := bench.Scaling(ctx, *scaling, *scalingBatches, o.Steps, o.Repeats)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Conv-NGC batched reference, T=%d, GOMAXPROCS=%d, tile kernels %s, best of %d\n%s",
			o.Steps, runtime.GOMAXPROCS(0), tensor.TileKernels(), o.Repeats, bench.ScalingTable(rows))
		if peak != nil {
			fmt.Fprintln(e.stdout, peak)
		}
		if *jsonOut != "" {
			return report.WriteJSON(*jsonOut, map[string]any{"scaling": rows, "gomaxprocs": runtime.GOMAXPROCS(0),
				"tile_kernels": tensor.TileKernels(), "fma_peak": peak, "load_average": bench.LoadAverage()})
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "Conv-NGC batched reference, paper network, B=%d, T=%d, GOMAXPROCS=%d, tile kernels %s\n",
		o.Batch, o.Steps, runtime.GOMAXPROCS(0), tensor.TileKernels())
	results, err := bench.Batched(ctx, o)
	if err != nil {
		return err
	}
	if err := peak.Again(*peakTime); err != nil {
		return err
	}
	if peak != nil {
		fmt.Fprintln(e.stdout, peak)
	}
	for i := range results {
		res := &results[i]
		res.PercentOfPeak = peak.Percent(res.GFLOPs)
		fmt.Fprintf(e.stdout, "%s%s\n", res, peakSuffix(peak, res.GFLOPs))
	}
	rss := bench.PeakRSS()
	fmt.Fprintf(e.stdout, "peak resident memory: %.0f MiB\n", float64(rss)/(1<<20))
	if *jsonOut != "" {
		return report.WriteJSON(*jsonOut, map[string]any{"results": results, "peak_rss_bytes": rss, "gomaxprocs": runtime.GOMAXPROCS(0),
			"tile_kernels": tensor.TileKernels(), "fma_peak": peak})
	}
	return nil
}

// peakSuffix ends a workload line: "  NN% of FMA peak", or nothing without a peak.
func peakSuffix(fp *bench.Peak, gflops float64) string {
	if fp == nil {
		return ""
	}
	return fmt.Sprintf("  %4.1f%% of FMA peak", fp.Percent(gflops))
}

// benchRuntime measures and prints sync inference in the batched reference
// and the actor runtime on the in-process bus and on NATS.
func benchRuntime(ctx context.Context, e *env, o bench.Options, nats []string, jsonOut string, peak *bench.Peak, peakTime time.Duration) error {
	load0 := bench.LoadAverage()
	fmt.Fprintf(e.stdout, "Conv-NGC sync inference, paper network, B=%d, T=%d, GOMAXPROCS=%d, load average %s\n",
		o.Batch, o.Steps, runtime.GOMAXPROCS(0), orUnknown(load0))
	results, err := bench.Runtimes(ctx, o, nats)
	if err != nil {
		return err
	}
	load1 := bench.LoadAverage()
	if err := peak.Again(peakTime); err != nil {
		return err
	}
	if peak != nil {
		fmt.Fprintln(e.stdout, peak)
	}
	for _, res := range results {
		res.PercentOfPeak = peak.Percent(res.GFLOPs)
		fmt.Fprintf(e.stdout, "%s%s\n", res, peakSuffix(peak, res.GFLOPs))
	}
	fmt.Fprintf(e.stdout, "load average at the end: %s\n", orUnknown(load1))
	rss := bench.PeakRSS()
	fmt.Fprintf(e.stdout, "peak resident memory: %.0f MiB\n", float64(rss)/(1<<20))
	if jsonOut != "" {
		return report.WriteJSON(jsonOut, map[string]any{"runtime_results": results, "peak_rss_bytes": rss,
			"gomaxprocs": runtime.GOMAXPROCS(0), "load_average_start": load0, "load_average_end": load1, "fma_peak": peak})
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
