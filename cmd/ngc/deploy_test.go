package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
	"github.com/convngc/convngc/ngc/optim"
)

// proc is an ngc process started by a test, its output captured line by line.
type proc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer // stdout and stderr, interleaved by line
	lines chan string
	done  chan struct{}
	code  int
}

// startNGC starts the built command in dir; the test's cleanup kills it if
// it is still running.
func startNGC(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(ngcBinary, args...), lines: make(chan string, 4096), done: make(chan struct{})}
	p.cmd.Dir = dir
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				p.mu.Lock()
				p.out.WriteString(sc.Text() + "\n")
				p.mu.Unlock()
				select {
				case p.lines <- sc.Text():
				default:
				}
			}
		}()
	}
	go func() {
		readers.Wait()
		err := p.cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// output returns everything the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %v; output:\n%s", p.name, d, p.output())
		return 0
	}
}

// waitLine waits up to d for a printed line matching re.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	timer := time.After(d)
	for {
		select {
		case l := <-p.lines:
			if re.MatchString(l) {
				return l
			}
		case <-p.done:
			// Drain what was printed before the exit.
			for {
				select {
				case l := <-p.lines:
					if re.MatchString(l) {
						return l
					}
				default:
					t.Fatalf("%s exited (code %d) before printing %q; output:\n%s", p.name, p.code, re, p.output())
				}
			}
		case <-timer:
			t.Fatalf("%s printed no %q within %v; output:\n%s", p.name, re, d, p.output())
		}
	}
}

// deployFixture is a small Conv-NGC model and a placement that splits its
// maps over the coordinator and two workers.
type deployFixture struct {
	dir, model, placement string
	m                     *ngc.Model
}

func newDeployFixture(t *testing.T) *deployFixture {
	t.Helper()
	dir := t.TempDir()
	// Layers: 4 maps 8×8 (top), 6 maps 16×16, the 3 colour channels 32×32.
	m, err := ngc.New(ngc.Config{Channels: []int{4, 6, 3}, Steps: 5, Batch: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Two batched updates first, so that the checkpoint carries Adam state
	// for the workers to resume (the training subtest checks they do).
	ws, err := m.NewWorkspace(4)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 2 {
		x := make([]float32, 4*data.ImageSize)
		for i := range x {
			x[i] = r.Float32()
		}
		if err := m.TrainBatch(ws, x, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	f := &deployFixture{dir: dir, model: filepath.Join(dir, "m.safetensors"), placement: filepath.Join(dir, "placement.json"), m: m}
	if err := m.Save(f.model); err != nil {
		t.Fatal(err)
	}
	// Layer 1's maps are split between the workers, so every step crosses
	// both ways between a and b; the coordinator hosts the image states.
	p := `{"nodes": {
		"coordinator": ["z.0.*"],
		"a": ["e.0.*", "z.1.0", "z.1.1", "z.1.2", "e.1.0", "e.1.1", "e.1.2"],
		"b": ["z.1.3", "z.1.4", "z.1.5", "e.1.3", "e.1.4", "e.1.5", "z.2.*"]}}`
	if err := os.WriteFile(f.placement, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// testImages loads what `ngc run --max-images n` loads.
func testImages(t *testing.T, n int) *data.Set {
	t.Helper()
	set, err := data.Load(context.Background(), data.Options{Dataset: data.ColorMNISTName, Split: data.Test, MaxImages: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// runReport is the part of `ngc run`'s JSON report the tests read.
type runReport struct {
	Result struct {
		Report metrics.Report `json:"metrics"`
		Images int            `json:"images"`
		Energy []float64      `json:"energy_per_step"`
	} `json:"result"`
	Runtime deploy.Runtime `json:"runtime"`
}

func readRunReport(t *testing.T, path string) runReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r runReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Tolerances against the batched reference. The actors compute the same
// float32 kernels in another summation order: outputs agree to about 1e-6
// on [0,1] pixels (circuit's own tests bound them by 1e-5), so metrics on
// the [0,255] scale and energies agree to a relative 1e-4, and kernels after
// a training batch to 1e-5 absolute.
const (
	relTol    = 1e-4
	weightTol = 1e-5
)

func closeRel(a, b float64) bool { return math.Abs(a-b) <= relTol*(1+math.Abs(b)) }

// TestDeployAcrossProcesses runs `ngc run` in one process, then the
// coordinator and two `ngc worker` processes on loopback: reconstruction
// over the embedded server of `ngc run --bus embedded`, started after the
// workers; then, over a token-protected server, training, refusal of a
// second worker for one node and of an unknown node, the asynchronous
// runner, and a worker killed mid-run, which fails the run within the
// bound naming the node, after which a restarted run succeeds.
func TestDeployAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	f := newDeployFixture(t)
	const B = 4

	t.Run("in-process", func(t *testing.T) {
		out, stderr, code := runNGC(t, f.dir, "run", "--model", f.model, "--max-images", "8", "--batch", "4", "--out", "inproc.json", "--quiet")
		if code != 0 {
			t.Fatalf("ngc run: exit %d\n%s\n%s", code, out, stderr)
		}
		got := readRunReport(t, filepath.Join(f.dir, "inproc.json"))
		f.checkRecon(t, got, "in-process")
		if got.Runtime.Bus != "inproc" || len(got.Runtime.PerActor) != 22 || got.Runtime.PerNode["coordinator"].Msgs == 0 {
			t.Errorf("runtime figures: %+v", got.Runtime)
		}
	})

	t.Run("reconstruction", func(t *testing.T) {
		// The workers start first and wait for the coordinator's embedded
		// server to come up on an agreed port.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		url := "nats://" + addr
		a := startNGC(t, f.dir, "worker a", "worker", "--bus", url, "--run", "recon", "--node", "a")
		b := startNGC(t, f.dir, "worker b", "worker", "--bus", url, "--run", "recon", "--node", "b")
		a.waitLine(t, regexp.MustCompile(`waiting for the NATS server`), 30*time.Second)
		coord := startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "8", "--batch", "4",
			"--bus", "embedded", "--listen", addr, "--placement", f.placement, "--run", "recon", "--timeout", "5s",
			"--out", "recon.json", "--quiet")
		if line := coord.waitLine(t, regexp.MustCompile(`^embedded NATS server: `), 30*time.Second); line != "embedded NATS server: "+url {
			t.Errorf("coordinator printed %q, want the server at %s", line, url)
		}
		if code := coord.wait(t, time.Minute); code != 0 {
			t.Fatalf("ngc run: exit %d\n%s", code, coord.output())
		}
		for _, w := range []*proc{a, b} {
			if code := w.wait(t, 10*time.Second); code != 0 || !strings.Contains(w.output(), "batch 2/2") {
				t.Fatalf("%s: exit %d\n%s", w.name, code, w.output())
			}
		}
		got := readRunReport(t, filepath.Join(f.dir, "recon.json"))

		f.checkRecon(t, got, "over the workers")
		rt := got.Runtime
		if rt.Nodes != 3 || rt.Messages == 0 || rt.Bytes == 0 || rt.MessagesPerSecond <= 0 || len(rt.PerActor) != 22 ||
			rt.PerNode["a"].Msgs == 0 || rt.PerNode["b"].Msgs == 0 || rt.Dropped != 0 || rt.Rejected != 0 || len(rt.Missing) > 0 {
			t.Errorf("runtime figures: %+v", rt)
		}
		if st, err := os.Stat(filepath.Join(f.dir, "recon.png")); err != nil || st.Size() == 0 {
			t.Errorf("no PNG grid: %v", err)
		}
	})

	// The other runs share one external, token-protected server.
	srv, err := bus.StartEmbedded(bus.ServerToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	workers := func(t *testing.T, run string) (a, b *proc) {
		a = startNGC(t, f.dir, "worker a", "worker", "--bus", url, "--token", "s3cret", "--run", run, "--node", "a")
		b = startNGC(t, f.dir, "worker b", "worker", "--bus", url, "--token", "s3cret", "--run", run, "--node", "b")
		return a, b
	}

	t.Run("training", func(t *testing.T) {
		a, b := workers(t, "learn")
		coord := startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "8", "--batch", "4",
			"--bus", url, "--token", "s3cret", "--placement", f.placement, "--run", "learn", "--learn",
			"--save", "trained.safetensors", "--out", "learn.json", "--quiet")
		if code := coord.wait(t, time.Minute); code != 0 {
			t.Fatalf("ngc run --learn: exit %d\n%s", code, coord.output())
		}
		for _, w := range []*proc{a, b} {
			if code := w.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("%s: exit %d\n%s", w.name, code, w.output())
			}
		}
		ref, err := ngc.Load(f.model)
		if err != nil {
			t.Fatal(err)
		}
		set := testImages(t, 8)
		ws, err := ref.NewWorkspace(B)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for lo := 0; lo < 8; lo += B {
			if err := ref.TrainBatch(ws, set.Images[lo*data.ImageSize:(lo+B)*data.ImageSize], rng, nil); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ngc.Load(filepath.Join(f.dir, "trained.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		for l := 1; l <= 2; l++ {
			g, w, before := got.Synapses(l), ref.Synapses(l), f.m.Synapses(l)
			d := maxAbsDiff(g.W, w.W)
			t.Logf("layer %d: kernels trained over the workers differ from batched training by at most %.2g", l, d)
			if d > weightTol {
				t.Errorf("layer %d: kernels trained by the workers differ from batched training by %g", l, d)
			}
			if d := maxAbsDiff(g.Bias, w.Bias); d > weightTol {
				t.Errorf("layer %d: biases differ by %g", l, d)
			}
			if maxAbsDiff(g.W, before.W) == 0 {
				t.Errorf("layer %d: training changed no kernel", l)
			}
			gw, _, _ := got.Optimizers(l)
			rw, _, _ := ref.Optimizers(l)
			ga, ra := gw.(*optim.Adam), rw.(*optim.Adam)
			if ga.T != ra.T || ga.T != 4 {
				t.Errorf("layer %d: Adam steps %d over the workers, %d batched, want 4 (2 resumed + 2)", l, ga.T, ra.T)
			}
			if d := maxAbsDiff(ga.V, ra.V); d > weightTol {
				t.Errorf("layer %d: Adam second moments differ by %g", l, d)
			}
		}
	})

	t.Run("refused workers", func(t *testing.T) {
		coord := startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "4", "--batch", "4",
			"--bus", url, "--token", "s3cret", "--placement", f.placement, "--run", "dup", "--out", "dup.json", "--quiet")
		a := startNGC(t, f.dir, "worker a", "worker", "--bus", url, "--token", "s3cret", "--run", "dup", "--node", "a")
		coord.waitLine(t, regexp.MustCompile(`node a joined`), 30*time.Second)
		for _, c := range []struct{ node, want string }{{"a", "already joined"}, {"c", "places no actor on node"}} {
			w := startNGC(t, f.dir, "worker "+c.node, "worker", "--bus", url, "--token", "s3cret", "--run", "dup", "--node", c.node)
			if code := w.wait(t, 30*time.Second); code == 0 || !strings.Contains(w.output(), c.want) {
				t.Errorf("second worker for node %s: exit %d, want %q\n%s", c.node, code, c.want, w.output())
			}
		}
		b := startNGC(t, f.dir, "worker b", "worker", "--bus", url, "--token", "s3cret", "--run", "dup", "--node", "b")
		if code := coord.wait(t, time.Minute); code != 0 {
			t.Fatalf("ngc run: exit %d\n%s", code, coord.output())
		}
		for _, w := range []*proc{a, b} {
			if code := w.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("%s: exit %d\n%s", w.name, code, w.output())
			}
		}
	})

	t.Run("async", func(t *testing.T) {
		a, b := workers(t, "async")
		coord := startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "8", "--batch", "4",
			"--bus", url, "--token", "s3cret", "--placement", f.placement, "--run", "async", "--mode", "async",
			"--delay", "1ms", "--delay-jitter", "2ms", "--out", "async.json", "--quiet")
		if code := coord.wait(t, time.Minute); code != 0 {
			t.Fatalf("ngc run --mode async: exit %d\n%s", code, coord.output())
		}
		for _, w := range []*proc{a, b} {
			if code := w.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("%s: exit %d\n%s", w.name, code, w.output())
			}
		}
		r := readRunReport(t, filepath.Join(f.dir, "async.json"))
		sync := readRunReport(t, filepath.Join(f.dir, "recon.json"))
		as := r.Runtime.Async
		t.Logf("async over the workers: MSE %.2f (sync %.2f); state-input lag mean %.2f max %d",
			r.Result.Report.MSE, sync.Result.Report.MSE, as.MeanStateLag, as.MaxStateLag)
		if r.Result.Images != 8 || as == nil || as.Budget != 5 || len(as.Updates) != 22 || len(as.StateLag) == 0 {
			t.Fatalf("async report: %d images, %+v", r.Result.Images, as)
		}
		// An untrained model's reconstruction is poor either way; the
		// asynchronous one must stay of the same order as the sync one.
		if m := r.Result.Report.MSE; math.IsNaN(m) || m > 2*sync.Result.Report.MSE {
			t.Errorf("async MSE %v, sync %v", m, sync.Result.Report.MSE)
		}
	})

	t.Run("lost worker, then restart", func(t *testing.T) {
		const timeout = 2 * time.Second
		a, b := workers(t, "kill")
		// Enough batches that the run is still going when b dies.
		coord := startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "2000", "--batch", "4",
			"--bus", url, "--token", "s3cret", "--placement", f.placement, "--run", "kill", "--timeout", timeout.String(),
			"--out", "kill.json", "--quiet")
		b.waitLine(t, regexp.MustCompile(`batch 3/500`), time.Minute)
		if err := b.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		code := coord.wait(t, timeout+30*time.Second)
		took := time.Since(killed)
		lines := strings.Split(strings.TrimSpace(coord.output()), "\n")
		last := lines[len(lines)-1]
		t.Logf("coordinator failed %v after the kill: %s", took.Round(time.Millisecond), last)
		if code == 0 || !strings.HasPrefix(last, "ngc: ") || !strings.Contains(last, "lost") || !strings.Contains(last, "node b") {
			t.Fatalf("after killing worker b: exit %d, want a failure naming node b; output:\n%s", code, coord.output())
		}
		// The bound: the timeout, plus a heartbeat period and the slack of
		// a machine shared with other work.
		if took > timeout+3*time.Second {
			t.Errorf("the coordinator took %v to notice, bound %v", took, timeout)
		}
		if code := a.wait(t, 10*time.Second); code == 0 || !strings.Contains(a.output(), "failed at the coordinator") {
			t.Errorf("surviving worker a: exit %d\n%s", code, a.output())
		}

		a, b = workers(t, "kill2")
		coord = startNGC(t, f.dir, "coordinator", "run", "--model", f.model, "--max-images", "8", "--batch", "4",
			"--bus", url, "--token", "s3cret", "--placement", f.placement, "--run", "kill2", "--timeout", timeout.String(),
			"--out", "kill2.json", "--quiet")
		if code := coord.wait(t, time.Minute); code != 0 {
			t.Fatalf("restarted run: exit %d\n%s", code, coord.output())
		}
		for _, w := range []*proc{a, b} {
			if code := w.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("%s: exit %d\n%s", w.name, code, w.output())
			}
		}
		if r := readRunReport(t, filepath.Join(f.dir, "kill2.json")); r.Result.Images != 8 {
			t.Errorf("restarted run measured %d images, want 8", r.Result.Images)
		}
	})
}

// checkRecon compares a reconstruction run over the fixture's first 8 test
// images in mini-batches of 4 with the batched reference on the same images
// and top-state stream (`ngc run --seed 1` draws them as rand.NewPCG(1, 1)).
func (f *deployFixture) checkRecon(t *testing.T, got runReport, where string) {
	t.Helper()
	const B, n = 4, 8
	set := testImages(t, n)
	ws, err := f.m.NewWorkspace(B)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var acc metrics.Accumulator
	var tr ngc.Trace
	energy := make([]float64, f.m.Config().Steps)
	for lo := 0; lo < n; lo += B {
		x := set.Images[lo*data.ImageSize : (lo+B)*data.ImageSize]
		if err := f.m.Infer(ws, x, ngc.Reconstruct, rng, &tr); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(x))
		ws.Output(out)
		if err := acc.Add(x, out, metrics.Shape{N: B, C: data.Channels, H: data.Height, W: data.Width}); err != nil {
			t.Fatal(err)
		}
		for s, e := range tr.Total() {
			energy[s] += e * B / n
		}
	}
	want := acc.Report()
	t.Logf("actors %s: MSE %.4f PSNR %.4f SSIM %.5f; batched: MSE %.4f PSNR %.4f SSIM %.5f", where,
		got.Result.Report.MSE, got.Result.Report.PSNR, got.Result.Report.SSIM, want.MSE, want.PSNR, want.SSIM)
	if got.Result.Images != n || !closeRel(got.Result.Report.MSE, want.MSE) || !closeRel(got.Result.Report.PSNR, want.PSNR) ||
		!closeRel(got.Result.Report.SSIM, want.SSIM) || !closeRel(got.Result.Report.SSIMGaussian, want.SSIMGaussian) {
		t.Errorf("metrics %s %+v (%d images), batched %+v", where, got.Result.Report, got.Result.Images, want)
	}
	if len(got.Result.Energy) != len(energy) {
		t.Fatalf("energy trace has %d steps, want %d", len(got.Result.Energy), len(energy))
	}
	for s := range energy {
		if !closeRel(got.Result.Energy[s], energy[s]) {
			t.Errorf("step %d: energy %v %s, batched %v", s+1, got.Result.Energy[s], where, energy[s])
		}
	}
}

// TestDeployErrors: misuse of run and worker fails at once with one line.
func TestDeployErrors(t *testing.T) {
	f := newDeployFixture(t)
	small, err := ngc.New(ngc.Config{Channels: []int{2, 3}, ImageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	smallPath := filepath.Join(f.dir, "small.safetensors")
	if err := small.Save(smallPath); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "--model", smallPath, "--max-images", "4"},
		{"run"},
		{"run", "--model", f.model, "--mode", "eventual"},
		{"run", "--model", f.model, "--task", "denoise", "--learn"},
		{"run", "--model", f.model, "--placement", f.placement, "--max-images", "4"},
		{"run", "--model", f.model, "--run", "a.b"},
		{"run", "--model", f.model, "--token", "x"},
		{"worker", "--node", "a"},
		{"worker", "--bus", "inproc", "--node", "a"},
		{"worker", "--bus", "nats://127.0.0.1:1", "--node", "a", "--tls-ca", "missing.pem"},
		{"worker", "--bus", "nats://127.0.0.1:1", "--node", "a", "--tls-cert", "c.pem"},
	} {
		_, stderr, code := runNGC(t, f.dir, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ngc: ") {
			t.Errorf("ngc %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
