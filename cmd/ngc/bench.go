package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/tensor"
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
	// PercentOfPeak is GFLOPs as a percentage of the measured FMA peak
	// (absent when the peak was not measured).
	PercentOfPeak float64 `json:"percent_of_fma_peak,omitempty"`
}

// fmaPeak is the machine's measured FP32 FMA peak: every kernel package
// tensor can time here, on every thread; the fastest is the peak.
type fmaPeak struct {
	Peak    tensor.Peak   `json:"peak"`
	Kernels []tensor.Peak `json:"kernels"`
}

// measurePeak times every FMA peak kernel for d each (nil when d ≤ 0).
func measurePeak(d time.Duration) (*fmaPeak, error) {
	if d <= 0 {
		return nil, nil
	}
	var fp fmaPeak
	for _, k := range tensor.PeakKernels() {
		p, err := tensor.MeasurePeak(k, 0, d)
		if err != nil {
			return nil, err
		}
		fp.Kernels = append(fp.Kernels, p)
		if p.GFLOPs > fp.Peak.GFLOPs {
			fp.Peak = p
		}
	}
	return &fp, nil
}

// again measures every kernel once more and keeps the better figure of
// each, so that a disturbance during one measurement does not lower the
// peak (and inflate the shares of it).
func (fp *fmaPeak) again(d time.Duration) error {
	if fp == nil {
		return nil
	}
	next, err := measurePeak(d)
	if err != nil {
		return err
	}
	for i, k := range next.Kernels {
		if i < len(fp.Kernels) && k.GFLOPs > fp.Kernels[i].GFLOPs {
			fp.Kernels[i] = k
		}
	}
	if next.Peak.GFLOPs > fp.Peak.GFLOPs {
		fp.Peak = next.Peak
	}
	return nil
}

// String lists the kernels' throughputs, the peak first.
func (fp *fmaPeak) String() string {
	s := fmt.Sprintf("FP32 FMA peak %.1f GFLOP/s (%s, %d threads; registers only; best of before and after the workloads)", fp.Peak.GFLOPs, fp.Peak.Kernel, fp.Peak.Threads)
	for _, k := range fp.Kernels {
		if k.Kernel != fp.Peak.Kernel {
			s += fmt.Sprintf("; %s %.1f", k.Kernel, k.GFLOPs)
		}
	}
	return s
}

// percent is gflops as a percentage of the peak (0 without a peak).
func (fp *fmaPeak) percent(gflops float64) float64 {
	if fp == nil || fp.Peak.GFLOPs <= 0 {
		return 0
	}
	return 100 * gflops / fp.Peak.GFLOPs
}

// suffix ends a workload line: "  NN% of FMA peak", or nothing without a peak.
func (fp *fmaPeak) suffix(gflops float64) string {
	if fp == nil {
		return ""
	}
	return fmt.Sprintf("  %4.1f%% of FMA peak", fp.percent(gflops))
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "[flags]",
		"Measure the batched reference at the paper configuration: images/s and effective GFLOP/s\n"+
			"(convolution FLOPs only, 2 per multiply-accumulate) of one inference batch and one training\n"+
			"batch, on synthetic images. Each workload runs once to warm up, then --repeats times; the\n"+
			"best repeat is reported. Also reports the process's peak resident memory.\n\n"+
			"It measures the machine's FP32 FMA peak before and after the workloads (the better counts):\n"+
			"register-resident loops of independent fused multiply-adds on every thread at once, in each\n"+
			"instruction set the machine has (AVX-512 and AVX2 in assembly, and a portable Go loop); the\n"+
			"fastest is the peak, and every workload line ends with its effective GFLOP/s as a percentage\n"+
			"of it. Run on a quiet machine: other work lowers both.\n\n"+
			"With --runtime, measure sync inference (reconstruction) instead in three runtimes in the\n"+
			"same run: the batched reference, the actor runtime on the in-process bus, and the actor\n"+
			"runtime on NATS through an embedded server (--nats). Each repeat runs one batch in every\n"+
			"runtime in turn, so that all see the same machine load (each batch is charged a garbage\n"+
			"collection of what it left, so that none slows the next); the best repeat of each is\n"+
			"reported with its ratio to the batched reference, the process CPU seconds per batch, and\n"+
			"the bus traffic: frames published and delivered per second and their bytes per second\n"+
			"(4 bytes per float plus the header; on NATS also the bytes on the wire).")
	batch := fs.Int("batch", 500, "images per mini-batch")
	steps := fs.Int("T", 60, "inference steps")
	repeats := fs.Int("repeats", 3, "timed repetitions per workload")
	jsonOut := fs.String("json", "", "also write the results to this JSON file")
	rt := fs.Bool("runtime", false, "compare the batched reference with the actor runtime (in-process and NATS buses)")
	peakTime := fs.Duration("peak-time", 300*time.Millisecond, "time to measure the FMA peak with each kernel (0: do not measure it)")
	kernels := fs.String("kernels", "", "the batched path's micro-kernels: "+strings.Join(tensor.TileKernelSets(), ", ")+"\n(default: the first, the fastest this machine has)")
	natsMode := fs.String("nats", "embedded", "with --runtime, how the NATS actors connect to the embedded server: embedded (in-memory\nconnection, as ngc run --bus embedded), tcp (loopback TCP), both, or none")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkRules("bench",
		rule{"batch", *batch, *batch >= 1, "at least 1 image"},
		rule{"T", *steps, *steps >= 1, "at least 1 step"},
		rule{"repeats", *repeats, *repeats >= 1, "at least 1"},
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
	// The peak is measured before and after the workloads; the better of
	// the two counts.
	peak, err := measurePeak(*peakTime)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *rt {
		var modes []string
		switch *natsMode {
		case "embedded", "tcp":
			modes = []string{*natsMode}
		case "both":
			modes = []string{"embedded", "tcp"}
		case "none":
		default:
			return fmt.Errorf("bench: --nats %q: want embedded, tcp, both or none", *natsMode)
		}
		return benchRuntime(ctx, e, *batch, *steps, *repeats, modes, *jsonOut, peak, *peakTime)
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
	fmt.Fprintf(e.stdout, "Conv-NGC batched reference, paper network, B=%d, T=%d, GOMAXPROCS=%d, tile kernels %s\n",
		*batch, *steps, runtime.GOMAXPROCS(0), tensor.TileKernels())
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
	}
	if err := peak.again(*peakTime); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if peak != nil {
		fmt.Fprintln(e.stdout, peak)
	}
	for i := range results {
		res := &results[i]
		res.PercentOfPeak = peak.percent(res.GFLOPs)
		fmt.Fprintf(e.stdout, "%-12s %8.1f img/s  %7.3f s/batch  %6.2f ms/step  %6.2f GFLOP/s%s\n",
			res.Workload, res.ImagesPerSecond, res.SecondsPerBatch, 1000*res.SecondsPerBatch/float64(*steps), res.GFLOPs, peak.suffix(res.GFLOPs))
	}
	rss := peakRSS()
	fmt.Fprintf(e.stdout, "peak resident memory: %.0f MiB\n", float64(rss)/(1<<20))
	if *jsonOut != "" {
		return writeJSON(*jsonOut, map[string]any{"results": results, "peak_rss_bytes": rss, "gomaxprocs": runtime.GOMAXPROCS(0),
			"tile_kernels": tensor.TileKernels(), "fma_peak": peak})
	}
	return nil
}

// runtimeResult is sync inference measured in one runtime.
type runtimeResult struct {
	Runtime         string  `json:"runtime"` // batched, inproc, nats-embedded or nats-tcp
	Batch           int     `json:"batch"`
	Steps           int     `json:"T"`
	Repeats         int     `json:"repeats"`
	SecondsPerBatch float64 `json:"seconds_per_batch"` // best repeat
	MedianSeconds   float64 `json:"median_seconds_per_batch"`
	ImagesPerSecond float64 `json:"images_per_second"` // from the best repeat
	RatioToBatched  float64 `json:"ratio_to_batched"`  // images/s over the batched reference's
	GFLOPs          float64 `json:"gflop_per_second"`  // effective: the model's convolution FLOPs
	PercentOfPeak   float64 `json:"percent_of_fma_peak,omitempty"`
	CPUPerBatch     float64 `json:"cpu_seconds_per_batch"`
	// Bus traffic over the timed batches (actors only): frames published
	// and delivered to subscriptions, per second, and their bytes (header
	// plus 4 bytes per float); on NATS also the bytes on the wire.
	MsgsPerSecond        float64 `json:"msgs_per_second,omitempty"`
	BytesPerSecond       float64 `json:"bytes_per_second,omitempty"`
	DeliveredPerSecond   float64 `json:"delivered_msgs_per_second,omitempty"`
	DeliveredBytesPerSec float64 `json:"delivered_bytes_per_second,omitempty"`
	WireBytesPerSecond   float64 `json:"wire_bytes_per_second,omitempty"`
	MsgsPerBatch         float64 `json:"msgs_per_batch,omitempty"`
	bus                  bus.Bus
	sess                 *circuit.Session
	times                []time.Duration
	cpu                  time.Duration
	before               bus.Stats
	sentMsgs, sentBytes  uint64
	recvMsgs, recvBytes  uint64
	wireBytes            uint64
	release              func()
}

// benchRuntime measures sync inference of the paper network in the batched
// reference and in the actor runtime on the in-process bus and on NATS
// (natsModes: "embedded", "tcp"), one batch of each per repeat.
func benchRuntime(ctx context.Context, e *env, batch, steps, repeats int, natsModes []string, jsonOut string, peak *fmaPeak, peakTime time.Duration) error {
	m, err := ngc.New(ngc.Config{Steps: steps, Batch: batch})
	if err != nil {
		return err
	}
	ws, err := m.NewWorkspace(batch)
	if err != nil {
		return err
	}
	c, err := circuit.FromModel(m)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*3*32*32)
	for i := range x {
		x[i] = r.Float32()
	}
	load0 := loadAverage()
	fmt.Fprintf(e.stdout, "Conv-NGC sync inference, paper network, B=%d, T=%d, GOMAXPROCS=%d, load average %s\n",
		batch, steps, runtime.GOMAXPROCS(0), orUnknown(load0))

	results := []*runtimeResult{{Runtime: "batched"}}
	defer func() {
		for _, res := range results {
			if res.release != nil {
				res.release()
			}
		}
	}()
	for _, name := range append([]string{"inproc"}, natsModes...) {
		res := &runtimeResult{Runtime: name}
		if name != "inproc" {
			res.Runtime = "nats-" + name
		}
		if err := res.open(ctx, c, name, batch); err != nil {
			return err
		}
		results = append(results, res)
	}
	once := func(res *runtimeResult) error {
		if res.sess == nil {
			return m.Infer(ws, x, ngc.Reconstruct, nil, nil)
		}
		_, err := res.sess.RunBatch(ctx, x)
		return err
	}
	// Warm up every runtime, then time them in turn.
	for _, res := range results {
		if err := once(res); err != nil {
			return fmt.Errorf("bench: %s: %w", res.Runtime, err)
		}
		if res.bus != nil {
			res.before = res.bus.Stats()
		}
	}
	for i := 0; i < repeats; i++ {
		for _, res := range results {
			if err := ctx.Err(); err != nil {
				return err
			}
			c0, t0 := cpuTime(), time.Now()
			if err := once(res); err != nil {
				return fmt.Errorf("bench: %s: %w", res.Runtime, err)
			}
			// Charge each batch the collection of its own garbage (NATS
			// decodes every frame into fresh memory), which would otherwise
			// slow the next runtime's batch.
			runtime.GC()
			res.times = append(res.times, time.Since(t0))
			res.cpu += cpuTime() - c0
		}
	}
	load1 := loadAverage()
	if err := peak.again(peakTime); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if peak != nil {
		fmt.Fprintln(e.stdout, peak)
	}
	for _, res := range results {
		res.finish(batch, steps, repeats, results[0].ImagesPerSecond)
		res.GFLOPs = float64(m.FLOPsPerImage(false)) * res.ImagesPerSecond / 1e9
		res.PercentOfPeak = peak.percent(res.GFLOPs)
		line := fmt.Sprintf("%-14s %8.1f img/s  %5.2f× batched  %7.3f s/batch (median %.3f)  %6.2f cpu-s/batch",
			res.Runtime, res.ImagesPerSecond, res.RatioToBatched, res.SecondsPerBatch, res.MedianSeconds, res.CPUPerBatch)
		if res.bus != nil {
			line += fmt.Sprintf("  %8.0f msg/s  %7.1f MB/s published, %8.0f msg/s  %7.1f MB/s delivered",
				res.MsgsPerSecond, res.BytesPerSecond/1e6, res.DeliveredPerSecond, res.DeliveredBytesPerSec/1e6)
			if res.WireBytesPerSecond > 0 {
				line += fmt.Sprintf(", %7.1f MB/s on the wire", res.WireBytesPerSecond/1e6)
			}
		}
		line += fmt.Sprintf("  %6.2f GFLOP/s%s", res.GFLOPs, peak.suffix(res.GFLOPs))
		fmt.Fprintln(e.stdout, line)
	}
	fmt.Fprintf(e.stdout, "load average at the end: %s\n", orUnknown(load1))
	rss := peakRSS()
	fmt.Fprintf(e.stdout, "peak resident memory: %.0f MiB\n", float64(rss)/(1<<20))
	if jsonOut != "" {
		return writeJSON(jsonOut, map[string]any{"runtime_results": results, "peak_rss_bytes": rss,
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

// open starts the bus (and, for NATS, an embedded server) and a sync
// session of circuit c on it.
func (res *runtimeResult) open(ctx context.Context, c *circuit.Circuit, name string, batch int) error {
	var releases []func()
	res.release = func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
	switch name {
	case "inproc":
		b, err := bus.NewInProc()
		if err != nil {
			return err
		}
		res.bus = b
	default:
		var sopts []bus.EmbeddedOption
		if name == "embedded" {
			sopts = append(sopts, bus.ServerNoListen())
		}
		srv, err := bus.StartEmbedded(sopts...)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		releases = append(releases, srv.Shutdown)
		var nb *bus.NATS
		if name == "embedded" {
			nb, err = srv.Connect(bus.WithName("ngc bench"))
		} else {
			nb, err = bus.Connect(srv.ClientURL(), bus.WithName("ngc bench"))
		}
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		res.bus = nb
	}
	releases = append(releases, func() { res.bus.Close() })
	s, err := circuit.Start(ctx, c, res.bus, circuit.Batch(batch), circuit.RunID("bench"), circuit.Timeout(2*time.Minute))
	if err != nil {
		return fmt.Errorf("bench: %s: %w", res.Runtime, err)
	}
	res.sess = s
	releases = append(releases, func() { s.Close() })
	return nil
}

// finish computes the figures from the timed repeats.
func (res *runtimeResult) finish(batch, steps, repeats int, batchedIPS float64) {
	res.Batch, res.Steps, res.Repeats = batch, steps, repeats
	sorted := slices.Clone(res.times)
	slices.Sort(sorted)
	res.SecondsPerBatch = sorted[0].Seconds()
	res.MedianSeconds = sorted[len(sorted)/2].Seconds()
	if len(sorted)%2 == 0 {
		res.MedianSeconds = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]).Seconds() / 2
	}
	res.ImagesPerSecond = float64(batch) / res.SecondsPerBatch
	if batchedIPS == 0 { // this is the batched reference
		batchedIPS = res.ImagesPerSecond
	}
	res.RatioToBatched = res.ImagesPerSecond / batchedIPS
	res.CPUPerBatch = res.cpu.Seconds() / float64(repeats)
	if res.bus == nil {
		return
	}
	var total time.Duration
	for _, d := range res.times {
		total += d
	}
	sec := total.Seconds()
	after := res.bus.Stats()
	res.MsgsPerSecond = float64(after.Sent.Msgs-res.before.Sent.Msgs) / sec
	res.BytesPerSecond = float64(after.Sent.Bytes-res.before.Sent.Bytes) / sec
	res.DeliveredPerSecond = float64(after.Received.Msgs-res.before.Received.Msgs) / sec
	res.DeliveredBytesPerSec = float64(after.Received.Bytes-res.before.Received.Bytes) / sec
	res.WireBytesPerSecond = float64(after.Received.WireBytes-res.before.Received.WireBytes) / sec
	res.MsgsPerBatch = float64(after.Sent.Msgs-res.before.Sent.Msgs) / float64(repeats)
}
