package main

import (
	"context"
	"fmt"
	"io"
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
	nats, err := bench.ParseNATS(*natsMode)
	if err != nil && *rt {
		return fmt.Errorf("bench: --%w", err)
	}
	// The peak is measured before and after the workloads; the better of
	// the two counts.
	peak, err := bench.MeasurePeak(*peakTime)
	if err != nil {
		return err
	}
	if *rt {
		r := bench.NewRuntimeReport(o, nats, peak)
		return benchReport(e, r.Header(), func() error { return r.Measure(ctx, *peakTime) }, r.WriteText, *jsonOut, r)
	}
	if len(*scaling) > 0 {
		r := &bench.ScalingReport{Peak: peak, Sizes: *scaling, Batches: *scalingBatches, Steps: o.Steps, Repeats: o.Repeats}
		return benchReport(e, "", func() error { return r.Measure(ctx) }, r.WriteText, *jsonOut, r)
	}
	r := bench.NewBatchedReport(o, peak)
	return benchReport(e, r.Header(), func() error { return r.Measure(ctx, *peakTime) }, r.WriteText, *jsonOut, r)
}

// benchReport prints the header (when there is one), measures, prints the
// report and writes it as JSON when asked.
func benchReport(e *env, header string, measure func() error, write func(io.Writer) error, jsonOut string, r any) error {
	if header != "" {
		fmt.Fprintln(e.stdout, header)
	}
	if err := measure(); err != nil {
		return err
	}
	if err := write(e.stdout); err != nil {
		return err
	}
	if jsonOut != "" {
		return report.WriteJSON(jsonOut, r)
	}
	return nil
}
