package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/convngc/convngc/ngc/tensor"
)

// The reports of the three measurements `ngc bench` makes: each is started
// with the options and the FMA peak measured before the workloads (nil:
// none), names what it measures in Header (printed before measuring, the
// scaling sweep's excepted), runs in Measure, and renders itself in
// WriteText and as JSON (its fields in the JSON's key order).

// BatchedReport is a measurement of the batched reference's inference and
// training batches (Batched).
type BatchedReport struct {
	Peak        *Peak    `json:"fma_peak"` // nil when not measured
	GOMAXPROCS  int      `json:"gomaxprocs"`
	PeakRSS     int64    `json:"peak_rss_bytes"` // the process's peak resident memory, after the workloads
	Results     []Result `json:"results"`
	TileKernels string   `json:"tile_kernels"` // package tensor's micro-kernel set
	Options     Options  `json:"-"`
}

// NewBatchedReport starts a report of o with the peak measured before the
// workloads (nil: none).
func NewBatchedReport(o Options, peak *Peak) *BatchedReport {
	return &BatchedReport{Peak: peak, GOMAXPROCS: runtime.GOMAXPROCS(0), TileKernels: tensor.TileKernels(), Options: o}
}

// Header is the line naming the measurement: "Conv-NGC batched reference,
// paper network, B=500, T=60, GOMAXPROCS=2, tile kernels avx2".
func (r *BatchedReport) Header() string {
	return fmt.Sprintf("Conv-NGC batched reference, paper network, B=%d, T=%d, GOMAXPROCS=%d, tile kernels %s",
		r.Options.Batch, r.Options.Steps, r.GOMAXPROCS, r.TileKernels)
}

// Measure runs the workloads, measures the peak again (about peakTime per
// kernel; the better figures count), sets every result's share of it and
// reads the peak resident memory.
func (r *BatchedReport) Measure(ctx context.Context, peakTime time.Duration) error {
	results, err := Batched(ctx, r.Options)
	if err != nil {
		return err
	}
	if err := r.Peak.Again(peakTime); err != nil {
		return err
	}
	for i := range results {
		results[i].PercentOfPeak = r.Peak.Percent(results[i].GFLOPs)
	}
	r.Results, r.PeakRSS = results, PeakRSS()
	return nil
}

// WriteText prints what follows the header: the peak (when measured), a
// line per workload ending with its share of the peak, and the peak
// resident memory.
func (r *BatchedReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.Peak.writeLine(bw)
	for _, res := range r.Results {
		fmt.Fprintf(bw, "%s%s\n", res, r.Peak.suffix(res.GFLOPs))
	}
	writeRSS(bw, r.PeakRSS)
	return bw.Flush()
}

// RuntimeReport is a measurement of sync inference in the batched
// reference and the actor runtime on the in-process bus and on NATS
// (Runtimes).
type RuntimeReport struct {
	Peak       *Peak            `json:"fma_peak"` // nil when not measured
	GOMAXPROCS int              `json:"gomaxprocs"`
	LoadEnd    string           `json:"load_average_end"`   // "" where the platform does not tell
	LoadStart  string           `json:"load_average_start"` // read by NewRuntimeReport
	PeakRSS    int64            `json:"peak_rss_bytes"`
	Results    []*RuntimeResult `json:"runtime_results"`
	Options    Options          `json:"-"`
	// NATS lists how the NATS actors connect (NATSEmbedded, NATSTCP); empty:
	// no NATS runtime.
	NATS []string `json:"-"`
}

// NewRuntimeReport starts a report of o in the runtimes nats names (see
// Runtimes) with the peak measured before the workloads (nil: none); it
// reads the load average.
func NewRuntimeReport(o Options, nats []string, peak *Peak) *RuntimeReport {
	return &RuntimeReport{Peak: peak, GOMAXPROCS: runtime.GOMAXPROCS(0), LoadStart: LoadAverage(), Options: o, NATS: nats}
}

// Header is the line naming the measurement: "Conv-NGC sync inference,
// paper network, B=500, T=60, GOMAXPROCS=2, load average 0.10 0.20 0.30".
func (r *RuntimeReport) Header() string {
	return fmt.Sprintf("Conv-NGC sync inference, paper network, B=%d, T=%d, GOMAXPROCS=%d, load average %s",
		r.Options.Batch, r.Options.Steps, r.GOMAXPROCS, orUnknown(r.LoadStart))
}

// Measure runs the runtimes, reads the load average, measures the peak
// again (about peakTime per kernel; the better figures count), sets every
// result's share of it and reads the peak resident memory.
func (r *RuntimeReport) Measure(ctx context.Context, peakTime time.Duration) error {
	results, err := Runtimes(ctx, r.Options, r.NATS)
	if err != nil {
		return err
	}
	r.LoadEnd = LoadAverage()
	if err := r.Peak.Again(peakTime); err != nil {
		return err
	}
	for _, res := range results {
		res.PercentOfPeak = r.Peak.Percent(res.GFLOPs)
	}
	r.Results, r.PeakRSS = results, PeakRSS()
	return nil
}

// WriteText prints what follows the header: the peak (when measured), a
// line per runtime ending with its share of the peak, the load average at
// the end and the peak resident memory.
func (r *RuntimeReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.Peak.writeLine(bw)
	for _, res := range r.Results {
		fmt.Fprintf(bw, "%s%s\n", res, r.Peak.suffix(res.GFLOPs))
	}
	fmt.Fprintf(bw, "load average at the end: %s\n", orUnknown(r.LoadEnd))
	writeRSS(bw, r.PeakRSS)
	return bw.Flush()
}

// ScalingReport is a sweep of image sizes and batch sizes (Scaling).
type ScalingReport struct {
	Peak        *Peak        `json:"fma_peak"` // measured before the sweep only; nil when not measured
	GOMAXPROCS  int          `json:"gomaxprocs"`
	LoadAverage string       `json:"load_average"` // after the sweep
	Rows        []ScalingRow `json:"scaling"`
	TileKernels string       `json:"tile_kernels"`
	// Sizes and Batches are the image sizes and the mini-batch sizes swept;
	// Steps and Repeats as in Options.
	Sizes, Batches []int `json:"-"`
	Steps, Repeats int   `json:"-"`
}

// Measure runs the sweep and reads the load average.
func (r *ScalingReport) Measure(ctx context.Context) error {
	rows, err := Scaling(ctx, r.Sizes, r.Batches, r.Steps, r.Repeats)
	if err != nil {
		return err
	}
	r.GOMAXPROCS, r.TileKernels = runtime.GOMAXPROCS(0), tensor.TileKernels()
	r.Rows, r.LoadAverage = rows, LoadAverage()
	return nil
}

// WriteText prints the whole report: a header line, the Markdown table
// (ScalingTable) and the peak, when measured.
func (r *ScalingReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Conv-NGC batched reference, T=%d, GOMAXPROCS=%d, tile kernels %s, best of %d\n%s",
		r.Steps, r.GOMAXPROCS, r.TileKernels, r.Repeats, ScalingTable(r.Rows))
	r.Peak.writeLine(bw)
	return bw.Flush()
}

// writeLine prints the peak on a line of its own; nothing for a nil Peak.
func (fp *Peak) writeLine(w io.Writer) {
	if fp != nil {
		fmt.Fprintln(w, fp)
	}
}

// suffix ends a workload line: "  NN% of FMA peak", or nothing without a
// peak.
func (fp *Peak) suffix(gflops float64) string {
	if fp == nil {
		return ""
	}
	return fmt.Sprintf("  %4.1f%% of FMA peak", fp.Percent(gflops))
}

// writeRSS prints the peak resident memory in MiB.
func writeRSS(w io.Writer, rss int64) {
	fmt.Fprintf(w, "peak resident memory: %.0f MiB\n", float64(rss)/(1<<20))
}

// orUnknown is s, or "unknown" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
