package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/ngc"
)

// TestResumeAfterLostWorker: a training run over two worker processes
// loses worker b during mini-batch 2 of 4; the coordinator fails within the
// timeout, writes its partial report and says where its journal is; with
// the workers relaunched, `ngc run --resume` finishes the run, and its
// metrics, energies and trained model (kernels, biases, Adam state) equal
// those of an uninterrupted run bit for bit.
func TestResumeAfterLostWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	f := newDeployFixture(t)
	srv, err := bus.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	args := func(run, out string, extra ...string) []string {
		return append([]string{"run", "--model", f.model, "--max-images", "16", "--batch", "4", "--T", "40", "--learn",
			"--bus", url, "--placement", f.placement, "--run", run, "--timeout", "2s", "--quiet",
			"--out", out + ".json", "--save", out + ".safetensors"}, extra...)
	}
	workers := func(run string) []*proc {
		return []*proc{
			startNGC(t, f.dir, "worker a", "worker", "--bus", url, "--run", run, "--node", "a"),
			startNGC(t, f.dir, "worker b", "worker", "--bus", url, "--run", run, "--node", "b"),
		}
	}
	finish := func(coord *proc, ws []*proc) {
		t.Helper()
		if code := coord.wait(t, time.Minute); code != 0 {
			t.Fatalf("ngc run: exit %d\n%s", code, coord.output())
		}
		for _, w := range ws {
			if code := w.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("%s: exit %d\n%s", w.name, code, w.output())
			}
		}
	}

	ws := workers("whole")
	finish(startNGC(t, f.dir, "coordinator", args("whole", "whole")...), ws)

	ws = workers("cut")
	coord := startNGC(t, f.dir, "coordinator", args("cut", "cut")...)
	ws[1].waitLine(t, regexp.MustCompile(`batch 1/4`), time.Minute)
	if err := ws[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := coord.wait(t, 30*time.Second); code == 0 {
		t.Fatalf("the run survived losing worker b:\n%s", coord.output())
	}
	out := coord.output()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "ngc: ") || !strings.Contains(last, "node b") {
		t.Errorf("last line %q does not blame node b", last)
	}
	if !strings.Contains(out, "partial report: cut.json") || !strings.Contains(out, "journal: cut.journal") {
		t.Errorf("the failed run does not say where its report and journal are:\n%s", out)
	}
	var partial struct {
		Status string `json:"status"`
		Done   int    `json:"batches_done"`
	}
	readJSON(t, filepath.Join(f.dir, "cut.json"), &partial)
	// The kill comes as worker b logs batch 1, so during batch 2 (a
	// machine stalled for a whole batch could let batch 2 finish first).
	if partial.Status != "failed" || partial.Done < 1 || partial.Done > 2 {
		t.Errorf("partial report: status %q after %d batches, want failed after 1", partial.Status, partial.Done)
	}
	t.Logf("killed worker b during mini-batch %d of 4", partial.Done+1)
	ws[0].wait(t, 10*time.Second)

	ws = workers("cut")
	finish(startNGC(t, f.dir, "coordinator", args("cut", "cut", "--resume")...), ws)

	whole, cut := readRunReport(t, filepath.Join(f.dir, "whole.json")), readRunReport(t, filepath.Join(f.dir, "cut.json"))
	if whole.Result.Report != cut.Result.Report || whole.Result.Images != 16 || cut.Result.Images != 16 {
		t.Errorf("resumed metrics %+v (%d images), uninterrupted %+v (%d)", cut.Result.Report, cut.Result.Images, whole.Result.Report, whole.Result.Images)
	}
	for s := range whole.Result.Energy {
		if cut.Result.Energy[s] != whole.Result.Energy[s] {
			t.Errorf("step %d: energy %v resumed, %v uninterrupted", s+1, cut.Result.Energy[s], whole.Result.Energy[s])
		}
	}
	a, err := ngc.Load(filepath.Join(f.dir, "cut.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ngc.Load(filepath.Join(f.dir, "whole.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, a, b)
}

// sameBits checks that two models' kernels, biases and Adam state are equal.
func sameBits(t *testing.T, a, b *ngc.Model) {
	t.Helper()
	for l := 1; l <= b.Config().Layers(); l++ {
		if d := maxAbsDiff(a.Synapses(l).W, b.Synapses(l).W); d != 0 {
			t.Errorf("layer %d: kernels differ by %g", l, d)
		}
		if d := maxAbsDiff(a.Synapses(l).Bias, b.Synapses(l).Bias); d != 0 {
			t.Errorf("layer %d: biases differ by %g", l, d)
		}
	}
	sameModels(t, "resumed", a, b)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsEndpoint: `ngc run --metrics-addr` answers /metrics during a
// run, and --log-format json writes one JSON object per log line.
func TestMetricsEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	f := newDeployFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	coord := startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "2000", "--batch", "4",
		"--metrics-addr", addr, "--log-format", "json", "--out", "m.json", "--quiet")
	coord.waitLine(t, regexp.MustCompile(`metrics: http://`), 30*time.Second)
	// Every series must show up while the run goes; they appear as the
	// first mini-batches complete (the energy gauge after a step's energy
	// has been gathered), so poll until all are there.
	wants := []string{`ngc_batch{node="coordinator"}`, "ngc_frames_sent_total", "ngc_bytes_received_total", "ngc_steps_total",
		"ngc_node_steps_total", "ngc_step{", "ngc_energy{", "ngc_heartbeat_age_seconds", "go_goroutines"}
	missing := func(body string) []string {
		var m []string
		for _, w := range wants {
			if !strings.Contains(body, w) {
				m = append(m, w)
			}
		}
		return m
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); len(missing(body)) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %v after 30 s:\n%s", missing(body), body)
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	if code := coord.wait(t, time.Minute); code != 0 {
		t.Fatalf("ngc run: exit %d\n%s", code, coord.output())
	}
	logged := 0
	for _, line := range strings.Split(coord.output(), "\n") {
		if strings.HasPrefix(line, "{") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
				t.Errorf("log line %q: %v", line, err)
			}
			logged++
		}
	}
	if logged == 0 {
		t.Errorf("no JSON log line:\n%s", coord.output())
	}
}
