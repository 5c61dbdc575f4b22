package bench

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc/tensor"
)

// testPeak is a peak of 100 GFLOP/s (avx2), beside a Go loop's 10.
var testPeak = &Peak{Peak: tensor.Peak{Kernel: "avx2", Threads: 2, GFLOPs: 100},
	Kernels: []tensor.Peak{{Kernel: "avx2", Threads: 2, GFLOPs: 100}, {Kernel: "go", Threads: 2, GFLOPs: 10}}}

// TestBatchedReportText: the header, the peak, a line per workload with its
// share of the peak and the peak resident memory, as `ngc bench` prints
// them; without a peak, no peak line and no shares.
func TestBatchedReportText(t *testing.T) {
	r := &BatchedReport{Peak: testPeak, GOMAXPROCS: 2, TileKernels: "avx2", PeakRSS: 3 << 20,
		Options: Options{Batch: 10, Steps: 4, Repeats: 1},
		Results: []Result{{Workload: "inference", Batch: 10, Steps: 4, SecondsPerBatch: 0.5, ImagesPerSecond: 20, GFLOPs: 25}}}
	if got, want := r.Header(), "Conv-NGC batched reference, paper network, B=10, T=4, GOMAXPROCS=2, tile kernels avx2"; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	want := "FP32 FMA peak 100.0 GFLOP/s (avx2, 2 threads; registers only; best of before and after the workloads); go 10.0\n" +
		"inference        20.0 img/s    0.500 s/batch  125.00 ms/step   25.00 GFLOP/s  25.0% of FMA peak\n" +
		"peak resident memory: 3 MiB\n"
	checkText(t, r.WriteText, want)
	r.Peak = nil
	checkText(t, r.WriteText, "inference        20.0 img/s    0.500 s/batch  125.00 ms/step   25.00 GFLOP/s\npeak resident memory: 3 MiB\n")
	checkKeys(t, r, `{"fma_peak":null,"gomaxprocs":2,"peak_rss_bytes":3145728,"results":[`)
}

// TestRuntimeReportText: the header and the closing lines name an unknown
// load average so.
func TestRuntimeReportText(t *testing.T) {
	r := &RuntimeReport{GOMAXPROCS: 2, LoadStart: "0.50 0.40 0.30", Options: Options{Batch: 4, Steps: 3},
		Results: []*RuntimeResult{{Runtime: "batched", ImagesPerSecond: 8, RatioToBatched: 1, SecondsPerBatch: 0.5, MedianSeconds: 0.6, CPUPerBatch: 1, GFLOPs: 2}}}
	if got, want := r.Header(), "Conv-NGC sync inference, paper network, B=4, T=3, GOMAXPROCS=2, load average 0.50 0.40 0.30"; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	want := "batched             8.0 img/s   1.00× batched    0.500 s/batch (median 0.600)    1.00 cpu-s/batch    2.00 GFLOP/s\n" +
		"load average at the end: unknown\npeak resident memory: 0 MiB\n"
	checkText(t, r.WriteText, want)
	checkKeys(t, r, `{"fma_peak":null,"gomaxprocs":2,"load_average_end":"","load_average_start":"0.50 0.40 0.30","peak_rss_bytes":0,"runtime_results":[`)
}

// TestScalingReportText: a header line, the table and the peak.
func TestScalingReportText(t *testing.T) {
	r := &ScalingReport{Peak: testPeak, GOMAXPROCS: 2, TileKernels: "go", Steps: 5, Repeats: 2,
		Rows: []ScalingRow{{ImageSize: 32, Channels: []int{10, 3}, Batch: 2, FLOPsPerImage: 3e6, MicrosPerImage: 1, NanosPerPixel: 2, GFLOPs: 3, TrainMicrosPerImage: 4, TrainGFLOPs: 5}}}
	want := "Conv-NGC batched reference, T=5, GOMAXPROCS=2, tile kernels go, best of 2\n" + ScalingTable(r.Rows) + testPeak.String() + "\n"
	checkText(t, r.WriteText, want)
	checkKeys(t, r, `{"fma_peak":{`)
}

func checkText(t *testing.T, write func(w io.Writer) error, want string) {
	t.Helper()
	var b strings.Builder
	if err := write(&b); err != nil || b.String() != want {
		t.Errorf("WriteText = %v\n%q\nwant\n%q", err, b.String(), want)
	}
}

// checkKeys checks the start of the report's JSON: its keys in the order
// `ngc bench --json` has always written them.
func checkKeys(t *testing.T, r any, prefix string) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil || !strings.HasPrefix(string(b), prefix) {
		t.Errorf("JSON %s (%v), want it to start %s", b, err, prefix)
	}
}
