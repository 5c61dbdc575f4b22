package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

func runRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "--model FILE [flags]",
		"Coordinate a run of the actor runtime: every feature map's state and error populations are\n"+
			"actors that talk only by messages over a bus. The coordinator loads the images, clamps\n"+
			"them, gathers the outputs and prints the paper's metrics (as `ngc eval`) and the runtime's\n"+
			"figures (messages, bytes, per-actor counts, msgs/s, bytes/s); it writes a JSON report and a\n"+
			"PNG grid. With --learn it also trains over the mini-batches (each batch's reconstruction is\n"+
			"measured before its update) and saves the trained model.\n\n"+
			"With no flags beyond --model every actor runs in this process on the in-process bus.\n"+
			"--bus embedded starts a NATS server in this process and prints its URL; --bus nats://...\n"+
			"joins an existing server. With --placement, the populations placed on other nodes run in\n"+
			"`ngc worker --bus URL --run ID --node NAME` processes, which get the circuit, parameters,\n"+
			"config and placement from this coordinator; a lost node fails the run within --timeout,\n"+
			"naming the node.")
	model := fs.String("model", "", "trained model (safetensors) to run (required)")
	var df dataFlags
	df.register(fs, 0)
	split := fs.String("split", "test", "split to run on: train, validation or test")
	task := fs.String("task", "recon", "recon (reconstruction) or denoise")
	noise := fs.Float64("noise-std", 0.1, "standard deviation of the denoising noise, on [0,1] pixels")
	noClip := fs.Bool("no-clip", false, "do not clip noisy pixels to [0,1]")
	learn := fs.Bool("learn", false, "train: apply the local update after every mini-batch (reconstruction only), in order, without shuffling")
	epochs := fs.Int("epochs", 1, "passes over the images with --learn (a last partial mini-batch is skipped)")
	save := fs.String("save", "", "where --learn writes the trained model (default: <model>-run.safetensors)")
	mode := fs.String("mode", "sync", "runner: sync (step-tagged dataflow, reproduces the batched reference) or async (actors fire on arrival with the latest inputs)")
	var as asyncSettings
	fs.IntVar(&as.Budget, "budget", 0, "--mode async: corrections per state map and mini-batch (0: T)")
	fs.IntVar(&as.MaxLag, "max-lag", 0, "--mode async: correct only with inputs at most this many versions old (0: no bound)")
	fs.DurationVar(&as.WallClock, "wall-clock", 0, "--mode async: end a mini-batch's corrections after this long (0: no bound)")
	fs.DurationVar(&as.Delay, "delay", 0, "--mode async: hold every message this long at its receiver (an injected link latency)")
	fs.DurationVar(&as.DelayJitter, "delay-jitter", 0, "--mode async: add to each link's delay a fixed share of this, drawn per link from --seed")
	busURL := fs.String("bus", "inproc", "inproc (this process only), embedded (a NATS server in this process), or a NATS URL nats://HOST:PORT")
	listen := fs.String("listen", "127.0.0.1:0", "address of the --bus embedded server; 0.0.0.0:4222 lets other machines join")
	placement := fs.String("placement", "", "placement JSON assigning populations to nodes (default: all on --node)")
	node := fs.String("node", "coordinator", "this process's node name: it hosts the populations the placement gives it")
	runID := fs.String("run", "run", "run id: the first token of every subject, shared with the workers")
	batch := fs.Int("batch", 0, "mini-batch size (0: the model's, at most the number of images)")
	steps := fs.Int("T", 0, "inference steps (0: the model's)")
	seed := fs.Uint64("seed", 1, "seed of the noise and the initial top states")
	timeout := fs.Duration("timeout", circuit.DefaultTimeout, "fail when the run makes no progress or a node is silent for this long")
	joinTimeout := fs.Duration("join-timeout", 2*time.Minute, "how long to wait for the placement's workers to join")
	out := fs.String("out", "", "JSON report path (default: <model>-run.json; the PNG grid goes beside it)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	var bf busFlags
	bf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *model == "":
		return fmt.Errorf("run: --model is required")
	case *timeout <= 0 || *joinTimeout <= 0:
		return fmt.Errorf("run: --timeout and --join-timeout must be positive")
	case *epochs < 1:
		return fmt.Errorf("run: --epochs %d must be at least 1", *epochs)
	case *batch < 0 || *steps < 0:
		return fmt.Errorf("run: --batch and --T must not be negative")
	case *save != "" && !*learn:
		return fmt.Errorf("run: --save needs --learn")
	case *busURL == "inproc" && bf.given():
		return fmt.Errorf("run: connection flags (--token, --user, --creds, --tls-*) need --bus embedded or a NATS URL")
	}
	t, err := parseTask(*task)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if *learn && t != ngc.Reconstruct {
		return fmt.Errorf("run: --learn trains on reconstruction; drop --task %s", *task)
	}
	as.DelaySeed = *seed
	if _, err := modeOptions(*mode, as); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	for name, v := range map[string]string{"--run": *runID, "--node": *node} {
		if err := bus.ValidToken(v); err != nil {
			return fmt.Errorf("run: %s: %w", name, err)
		}
	}
	sp, err := data.ParseSplit(*split)
	if err != nil {
		return err
	}
	m, err := ngc.Load(*model)
	if err != nil {
		return err
	}
	if *steps > 0 {
		if m, err = m.WithSteps(*steps); err != nil {
			return err
		}
	}
	c, err := circuit.FromModel(m)
	if err != nil {
		return err
	}
	p := circuit.Local(*node)
	if *placement != "" {
		if p, err = circuit.LoadPlacement(*placement); err != nil {
			return err
		}
	}
	assign, err := p.Assign(c.Graph)
	if err != nil {
		return err
	}
	remote := remoteNodes(assign, *node)
	if len(remote) > 0 && *busURL == "inproc" {
		return fmt.Errorf("run: the placement puts actors on %s, which the in-process bus cannot reach; use --bus embedded or --bus nats://HOST:PORT", strings.Join(remote, ", "))
	}
	set, err := df.load(ctx, sp)
	if err != nil {
		return err
	}
	if cfg := m.Config(); cfg.ImageSize != data.Height || cfg.ChannelsAt(0) != data.Channels {
		return fmt.Errorf("run: the model takes %d×%d images of %d channels, the data sets hold %d×%d×%d", cfg.ImageSize, cfg.ImageSize, cfg.ChannelsAt(0), data.Height, data.Width, data.Channels)
	}
	if set.Len() == 0 {
		return fmt.Errorf("run: %s has no images", set.Name)
	}
	B := m.Config().Batch
	if *batch > 0 {
		B = *batch
	}
	B = min(B, set.Len())
	params := c.Params
	if !*learn && params.Adam != nil {
		// Only learning actors need the optimiser's state.
		cp := *params
		cp.Adam = nil
		params = &cp
	}
	man := &manifest{Version: manifestVersion, Run: *runID, Mode: *mode, Async: as, Task: *task, Learn: *learn, Batch: B, Timeout: *timeout,
		Config: c.Config, Graph: c.Graph, Params: params, Placement: p}

	co := &coordinator{e: e, man: man, c: c, node: *node, remote: remote, assign: assign, seed: *seed, quiet: *quiet,
		errs: &errorLog{w: e.stderr, prefix: "run: ", limit: 5}, joined: map[string]string{}, joinCh: make(chan struct{}, 1),
		failure: make(chan error, 1), stop: make(chan struct{})}
	base := *out
	if base == "" {
		base = strings.TrimSuffix(*model, filepath.Ext(*model)) + "-run.json"
	}
	saveTo := *save
	if *learn && saveTo == "" {
		saveTo = strings.TrimSuffix(*model, filepath.Ext(*model)) + "-run.safetensors"
	}
	defer co.close()
	if err := co.open(*busURL, *listen, &bf); err != nil {
		return err
	}
	res, rt, err := co.run(ctx, set, runPlan{task: t, noise: *noise, noClip: *noClip, epochs: *epochs, joinTimeout: *joinTimeout})
	if err != nil {
		co.end(err)
		return err
	}
	if *learn {
		if err := co.saveModel(ctx, saveTo); err != nil {
			co.end(err)
			return err
		}
	}
	rt.gather(co)
	co.end(nil)

	printReport(e, set.Name, res)
	rt.print(e)
	if err := writeJSON(base, map[string]any{
		"command": append([]string{"ngc", "run"}, args...), "model": *model, "dataset": set.Name, "split": *split,
		"mode": *mode, "async": asyncFlags(*mode, as), "bus": co.busName, "run": *runID, "placement": p, "batch": B, "steps": c.Config.Steps,
		"learn": *learn, "noise_std": *noise, "clip": !*noClip, "seed": *seed, "result": res, "runtime": rt,
	}); err != nil {
		return err
	}
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if err := writeGrid(stem+".png", res, t == ngc.Denoise); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report: %s\ngrid: %s\n", base, stem+".png")
	if *learn {
		fmt.Fprintf(e.stdout, "model: %s\n", saveTo)
	}
	return nil
}

// asyncFlags returns the async settings for the report (nil in sync mode).
func asyncFlags(mode string, as asyncSettings) any {
	if mode != "async" {
		return nil
	}
	return map[string]any{"budget": as.Budget, "max_lag": as.MaxLag, "wall_clock": as.WallClock.String(),
		"delay": as.Delay.String(), "delay_jitter": as.DelayJitter.String()}
}

// remoteNodes lists the nodes other than self that host populations.
func remoteNodes(assign map[neuron.Ref]string, self string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range assign {
		if n != self && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// runPlan is what the coordinator does with the images.
type runPlan struct {
	task        ngc.Task
	noise       float64
	noClip      bool
	epochs      int
	joinTimeout time.Duration
}

// coordinator is the `ngc run` process: the bus, the session and, over
// NATS, the deployment protocol with the workers.
type coordinator struct {
	e      *env
	man    *manifest
	c      *circuit.Circuit
	node   string
	remote []string
	assign map[neuron.Ref]string
	seed   uint64
	quiet  bool

	busName string
	b       bus.Bus
	srv     *bus.Embedded
	nc      *nats.Conn // nil on the in-process bus
	errs    *errorLog
	s       *circuit.Session

	mu      sync.Mutex
	joined  map[string]string // node → the joined worker's instance
	joinCh  chan struct{}
	failure chan error // a worker's report
	subs    []*nats.Subscription
	stop    chan struct{}
	wg      sync.WaitGroup
	ended   bool
}

// open connects the bus and, over NATS, starts serving the manifest.
func (co *coordinator) open(url, listen string, bf *busFlags) error {
	switch url {
	case "inproc":
		b, err := bus.NewInProc(bus.WithErrorHandler(co.errs.report))
		if err != nil {
			return err
		}
		co.b, co.busName = b, "inproc"
		return nil
	case "embedded":
		sopts := []bus.EmbeddedOption{bus.ServerAddr(listen), bus.ServerName("ngc-" + co.man.Run)}
		if bf.token != "" {
			sopts = append(sopts, bus.ServerToken(bf.token))
		}
		if bf.user != "" || bf.creds != "" || bf.tlsCA != "" || bf.tlsCert != "" {
			return fmt.Errorf("run: the embedded server supports --token only; run nats-server for users, credentials or TLS")
		}
		srv, err := bus.StartEmbedded(sopts...)
		if err != nil {
			return fmt.Errorf("run: embedded NATS server: %w", err)
		}
		co.srv = srv
		b, err := srv.Connect(bus.WithName("ngc run "+co.man.Run), bus.WithErrorHandler(co.errs.report))
		if err != nil {
			srv.Shutdown()
			return fmt.Errorf("run: connect to the embedded server: %w", err)
		}
		co.b, co.nc, co.busName = b, b.Conn(), "embedded"
		fmt.Fprintf(co.e.stdout, "embedded NATS server: %s\n", srv.ClientURL())
	default:
		opts, err := bf.options("ngc run "+co.man.Run, co.errs.report)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		b, err := bus.Connect(url, opts...)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		co.b, co.nc, co.busName = b, b.Conn(), "nats"
	}
	return co.serve()
}

// serve answers the workers' manifest requests, listens for their failure
// reports and beats the coordinator's alive beacon.
func (co *coordinator) serve() error {
	body := encodeJSON(co.man)
	if limit := co.nc.MaxPayload(); int64(len(body)) > limit {
		return fmt.Errorf("run: the manifest (%s) exceeds the NATS server's max payload (%s)", humanBytes(float64(len(body))), humanBytes(float64(limit)))
	}
	hosts := map[string]bool{}
	for _, n := range co.remote {
		hosts[n] = true
	}
	sub, err := co.nc.Subscribe(deploySubject(co.man.Run, "manifest"), func(msg *nats.Msg) {
		var req joinRequest
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			_ = msg.Respond(encodeJSON(manifest{Error: "unreadable join request (run the same ngc build everywhere)"}))
			return
		}
		refuse := func(format string, args ...any) {
			_ = msg.Respond(encodeJSON(manifest{Error: fmt.Sprintf(format, args...)}))
		}
		if !hosts[req.Node] {
			refuse("run %q places no actor on node %q (worker nodes: %s)", co.man.Run, req.Node, strings.Join(co.remote, ", "))
			return
		}
		co.mu.Lock()
		first, prev := co.joined[req.Node] == "", co.joined[req.Node]
		if first {
			co.joined[req.Node] = req.Instance
		}
		co.mu.Unlock()
		if !first && prev != req.Instance {
			// A second process for one node would run its actors twice.
			refuse("node %s already joined run %q from %s", req.Node, co.man.Run, prev)
			return
		}
		if err := msg.Respond(body); err != nil {
			co.errs.report(fmt.Errorf("send the manifest to %s: %w", req.Node, err))
			return
		}
		if first {
			fmt.Fprintf(co.e.stderr, "run %s: node %s joined (%s)\n", co.man.Run, req.Node, req.Instance)
		}
		select {
		case co.joinCh <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("run: serve the manifest: %w", err)
	}
	co.subs = append(co.subs, sub)
	sub, err = co.nc.Subscribe(deploySubject(co.man.Run, "failed", "*"), func(msg *nats.Msg) {
		var n endNote
		if json.Unmarshal(msg.Data, &n) != nil {
			n.Error = "unreadable report"
		}
		node := strings.TrimPrefix(msg.Subject, deploySubject(co.man.Run, "failed")+".")
		select {
		case co.failure <- fmt.Errorf("%w: node %s stopped: %s", circuit.ErrLost, node, n.Error):
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("run: listen for workers: %w", err)
	}
	co.subs = append(co.subs, sub)
	co.wg.Add(1)
	go func() {
		defer co.wg.Done()
		t := time.NewTicker(aliveEvery)
		defer t.Stop()
		for {
			_ = co.nc.Publish(deploySubject(co.man.Run, "alive"), nil)
			select {
			case <-co.stop:
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// waitJoin waits until every worker node has fetched the manifest.
func (co *coordinator) waitJoin(ctx context.Context, bound time.Duration) error {
	if len(co.remote) == 0 {
		return nil
	}
	missing := func() []string {
		co.mu.Lock()
		defer co.mu.Unlock()
		var out []string
		for _, n := range co.remote {
			if co.joined[n] == "" {
				out = append(out, n)
			}
		}
		return out
	}
	if len(missing()) > 0 {
		url := "URL"
		if co.srv != nil {
			url = co.srv.ClientURL()
		}
		fmt.Fprintf(co.e.stderr, "run %s: waiting up to %v for workers %s (ngc worker --bus %s --run %s --node NAME)\n",
			co.man.Run, bound, strings.Join(missing(), ", "), url, co.man.Run)
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		left := missing()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("run: interrupted while waiting for workers: %w", ctx.Err())
		case <-timer.C:
			return fmt.Errorf("run: %w: node %s did not join run %q within %v", circuit.ErrLost, strings.Join(left, ", "), co.man.Run, bound)
		case <-co.joinCh:
		}
	}
}

// run starts the session and feeds the images through it.
func (co *coordinator) run(ctx context.Context, set *data.Set, plan runPlan) (ngc.EvalResult, *runtimeReport, error) {
	res := ngc.EvalResult{Task: plan.task.String()}
	if err := co.waitJoin(ctx, plan.joinTimeout); err != nil {
		return res, nil, err
	}
	opts, err := co.man.sessionOptions()
	if err != nil {
		return res, nil, fmt.Errorf("run: %w", err)
	}
	opts = append(opts, circuit.Placed(co.man.Placement, co.node), circuit.TopSeed(co.seed))
	// A worker's own report of its failure ends the run at once.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case err := <-co.failure:
			cancel(err)
		case <-rctx.Done():
		}
	}()
	cause := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("run %s: interrupted", co.man.Run)
		}
		if c := context.Cause(rctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return err
	}
	s, err := circuit.Start(rctx, co.c, co.b, opts...)
	if err != nil {
		return res, nil, cause(err)
	}
	co.s = s

	B, n := co.man.Batch, set.Len()
	per := (n + B - 1) / B
	if co.man.Learn {
		per = n / B
		if skip := n - per*B; skip > 0 {
			fmt.Fprintf(co.e.stderr, "run: --learn uses %d mini-batches of %d per epoch; the last %d images are skipped\n", per, B, skip)
		}
	}
	total := per * plan.epochs
	noise := rand.New(rand.NewPCG(co.seed, 0xda3e39cb94b95bdb)) // as ngc eval's corruption
	keep := 10
	var acc metrics.Accumulator
	rt := &runtimeReport{Bus: co.busName, Nodes: len(co.man.Placement.NodeNames())}
	in := make([]float32, B*data.ImageSize)
	clean := make([]float32, B*data.ImageSize)
	bar := newProgress(co.e, co.quiet, total, "run")
	defer bar.done()
	for k := 0; k < total; k++ {
		lo := (k % per) * B
		got := min(B, n-lo)
		copy(clean, set.Images[lo*data.ImageSize:(lo+got)*data.ImageSize])
		// A last partial batch is padded with its own first images; the
		// padding is not measured.
		for i := got; i < B; i++ {
			copy(clean[i*data.ImageSize:(i+1)*data.ImageSize], clean[(i%got)*data.ImageSize:])
		}
		if plan.task == ngc.Denoise {
			ngc.Corrupt(in, clean, plan.noise, plan.noClip, noise)
		} else {
			copy(in, clean)
		}
		start := time.Now()
		r, err := s.RunBatch(rctx, in)
		if err != nil {
			return res, nil, cause(err)
		}
		dt := time.Since(start)
		if r.Async != nil {
			if rt.Async == nil {
				rt.Async = newAsyncSummary(r.Async)
			}
			rt.Async.add(r.Async)
		}
		rt.Seconds += dt.Seconds()
		rt.Batches++
		rt.Images += got
		sz := got * data.ImageSize
		if err := acc.Add(clean[:sz], r.Output[:sz], metrics.Shape{N: got, C: data.Channels, H: data.Height, W: data.Width}); err != nil {
			return res, nil, err
		}
		tr := r.Trace()
		if res.Energy == nil {
			res.Energy = make([]float64, len(tr.Steps))
			res.EnergyLayers = make([][]float64, len(tr.Steps))
			for t := range res.EnergyLayers {
				res.EnergyLayers[t] = make([]float64, len(tr.Steps[t]))
			}
		}
		for t, layers := range tr.Steps {
			for l, v := range layers {
				res.EnergyLayers[t][l] += v * float64(got)
				res.Energy[t] += v * float64(got)
			}
		}
		if kept := len(res.Original) / data.ImageSize; kept < keep {
			take := min(keep-kept, got) * data.ImageSize
			res.Original = append(res.Original, clean[:take]...)
			res.Corrupted = append(res.Corrupted, in[:take]...)
			res.Output = append(res.Output, r.Output[:take]...)
		}
		res.Images += got
		if co.nc != nil {
			_ = co.nc.Publish(deploySubject(co.man.Run, "batch"), encodeJSON(batchNote{Batch: k + 1, Of: total, Images: got, Seconds: dt.Seconds()}))
		}
		bar.set(k+1, describe("batch %d/%d energy %.1f %.0f img/s", k+1, total, sum(tr.Final), float64(rt.Images)/rt.Seconds))
	}
	for t := range res.Energy {
		res.Energy[t] /= float64(res.Images)
		for l := range res.EnergyLayers[t] {
			res.EnergyLayers[t][l] /= float64(res.Images)
		}
	}
	res.Report = acc.Report()
	res.Seconds = rt.Seconds
	return res, rt, nil
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// saveModel gathers the trained parameters and the optimiser's state from
// the actors and writes them as a model with the run's config, so that
// training resumes from it as from a batched checkpoint.
func (co *coordinator) saveModel(ctx context.Context, path string) error {
	p, err := co.s.Params(ctx)
	if err != nil {
		return err
	}
	out, err := co.c.ToModel(p)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return out.Save(path)
}

// end tells the workers the run is over (err nil) or failed.
func (co *coordinator) end(err error) {
	if co.nc == nil || co.ended {
		return
	}
	co.ended = true
	n := endNote{OK: err == nil}
	if err != nil {
		n.Error = strings.TrimPrefix(err.Error(), "run: ")
	}
	_ = co.nc.Publish(deploySubject(co.man.Run, "end"), encodeJSON(n))
	_ = co.nc.FlushTimeout(2 * time.Second)
}

// close stops the session, the deployment protocol, the bus and the
// embedded server, in that order.
func (co *coordinator) close() {
	if co.s != nil {
		co.s.Close()
	}
	co.end(fmt.Errorf("the coordinator stopped"))
	co.errs.mute()
	close(co.stop)
	co.wg.Wait()
	for _, s := range co.subs {
		_ = s.Unsubscribe()
	}
	if co.b != nil {
		co.b.Close()
	}
	if co.srv != nil {
		// Give the workers a moment to read the end of the run and leave
		// before their server goes.
		for deadline := time.Now().Add(2 * time.Second); len(co.remote) > 0 && co.srv.Server().NumClients() > 1 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		co.srv.Shutdown()
	}
	if n := co.errs.Suppressed(); n > 0 {
		fmt.Fprintf(co.e.stderr, "run: %d more bus errors not shown\n", n)
	}
}

// counts is a message and byte tally in the report.
type counts struct {
	Msgs  uint64 `json:"msgs"`
	Bytes uint64 `json:"bytes"`
}

// runtimeReport holds the runtime's figures of a run, over every process.
type runtimeReport struct {
	Bus             string  `json:"bus"`
	Nodes           int     `json:"nodes"`
	Batches         int     `json:"batches"`
	Images          int     `json:"images"`
	Seconds         float64 `json:"seconds"` // wall time of the mini-batches
	ImagesPerSecond float64 `json:"images_per_second"`
	// Messages and Bytes count every frame published (Bytes: header plus 4
	// bytes per float); WireBytes what went over NATS after compression.
	Messages          uint64  `json:"messages"`
	Bytes             uint64  `json:"bytes"`
	WireBytes         uint64  `json:"wire_bytes"`
	Deliveries        uint64  `json:"deliveries"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	BytesPerSecond    float64 `json:"bytes_per_second"`
	Dropped           uint64  `json:"dropped"`
	Rejected          uint64  `json:"rejected"`
	// PerActor is what each population sent; PerNode sums it by node;
	// Control is what the coordinator (clamps, initial states) and the
	// nodes' heartbeats sent.
	PerActor map[string]counts `json:"per_actor"`
	PerNode  map[string]counts `json:"per_node"`
	Control  map[string]counts `json:"control"`
	// Missing lists the nodes whose counters could not be gathered.
	Missing []string `json:"missing_nodes,omitempty"`
	// Async sums the asynchronous runner's reports (nil in sync mode).
	Async *asyncSummary `json:"async,omitempty"`
}

// asyncSummary adds up the asynchronous mini-batches' reports.
type asyncSummary struct {
	Budget int `json:"budget"`
	MaxLag int `json:"max_lag"`
	// Stopped counts the mini-batches the wall-clock bound ended.
	Stopped int `json:"batches_stopped"`
	// StateLag and ErrorLag are the version-lag histograms of the inputs
	// used (see circuit.AsyncReport), over every batch, with their means
	// and maxima.
	StateLag     map[int]int `json:"state_lag"`
	ErrorLag     map[int]int `json:"error_lag"`
	MeanStateLag float64     `json:"mean_state_lag"`
	MaxStateLag  int         `json:"max_state_lag"`
	MeanErrorLag float64     `json:"mean_error_lag"`
	MaxErrorLag  int         `json:"max_error_lag"`
	// Updates and DroppedInputs are per actor, over every batch.
	Updates       map[string]int `json:"updates_per_actor"`
	DroppedInputs map[string]int `json:"dropped_inputs_per_actor"`
}

func newAsyncSummary(r *circuit.AsyncReport) *asyncSummary {
	return &asyncSummary{Budget: r.Budget, MaxLag: r.MaxLag, StateLag: map[int]int{}, ErrorLag: map[int]int{},
		Updates: map[string]int{}, DroppedInputs: map[string]int{}}
}

func (a *asyncSummary) add(r *circuit.AsyncReport) {
	if r.Stopped {
		a.Stopped++
	}
	for k, n := range r.StateLag {
		a.StateLag[k] += n
	}
	for k, n := range r.ErrorLag {
		a.ErrorLag[k] += n
	}
	for _, st := range r.Actors {
		a.Updates[st.Actor] += st.Updates
		a.DroppedInputs[st.Actor] += st.Dropped
	}
	a.MeanStateLag, a.MaxStateLag = circuit.LagSummary(a.StateLag)
	a.MeanErrorLag, a.MaxErrorLag = circuit.LagSummary(a.ErrorLag)
}

// gather adds up the counters of the coordinator and of every worker.
func (rt *runtimeReport) gather(co *coordinator) {
	all := []nodeStats{statsOf(co.node, len(co.s.Actors()), co.b.Stats())}
	for _, n := range co.remote {
		msg, err := co.nc.Request(deploySubject(co.man.Run, "stats", n), nil, 2*time.Second)
		var ns nodeStats
		if err == nil {
			err = json.Unmarshal(msg.Data, &ns)
		}
		if err != nil {
			rt.Missing = append(rt.Missing, n)
			fmt.Fprintf(co.e.stderr, "run: no counters from node %s: %v\n", n, err)
			continue
		}
		all = append(all, ns)
	}
	names := map[string]string{}
	for ref, n := range co.assign {
		names[ref.String()] = n
	}
	rt.PerActor, rt.PerNode, rt.Control = map[string]counts{}, map[string]counts{}, map[string]counts{}
	for _, ns := range all {
		rt.Messages += ns.Sent.Msgs
		rt.Bytes += ns.Sent.Bytes
		rt.WireBytes += ns.Sent.WireBytes
		rt.Deliveries += ns.Received.Msgs
		rt.Dropped += ns.Dropped
		rt.Rejected += ns.Rejected
		for sender, c := range ns.BySender {
			node, actor := names[sender]
			dst := rt.Control
			if actor {
				dst = rt.PerActor
				pn := rt.PerNode[node]
				pn.Msgs += c.Msgs
				pn.Bytes += c.Bytes
				rt.PerNode[node] = pn
			}
			x := dst[sender]
			x.Msgs += c.Msgs
			x.Bytes += c.Bytes
			dst[sender] = x
		}
	}
	if rt.Seconds > 0 {
		rt.ImagesPerSecond = float64(rt.Images) / rt.Seconds
		rt.MessagesPerSecond = float64(rt.Messages) / rt.Seconds
		rt.BytesPerSecond = float64(rt.Bytes) / rt.Seconds
	}
}

// print writes the runtime's figures.
func (rt *runtimeReport) print(e *env) {
	fmt.Fprintf(e.stdout, "runtime (%s bus, %d nodes): %d images in %d mini-batches in %.2f s (%.1f img/s)\n",
		rt.Bus, rt.Nodes, rt.Images, rt.Batches, rt.Seconds, rt.ImagesPerSecond)
	wire := ""
	if rt.WireBytes > 0 {
		wire = fmt.Sprintf(", %s on the wire", humanBytes(float64(rt.WireBytes)))
	}
	fmt.Fprintf(e.stdout, "  %d messages (%.0f msg/s), %s (%s/s)%s; %d deliveries, %d dropped, %d rejected\n",
		rt.Messages, rt.MessagesPerSecond, humanBytes(float64(rt.Bytes)), humanBytes(rt.BytesPerSecond), wire,
		rt.Deliveries, rt.Dropped, rt.Rejected)
	if len(rt.PerActor) > 0 {
		lo, hi := ^uint64(0), uint64(0)
		var loName, hiName string
		for _, name := range sortedKeys(rt.PerActor) {
			c := rt.PerActor[name]
			if c.Msgs < lo {
				lo, loName = c.Msgs, name
			}
			if c.Msgs > hi {
				hi, hiName = c.Msgs, name
			}
		}
		fmt.Fprintf(e.stdout, "  %d actors sent %d (%s) to %d (%s) messages each\n", len(rt.PerActor), lo, loName, hi, hiName)
	}
	if a := rt.Async; a != nil {
		dropped := 0
		for _, n := range a.DroppedInputs {
			dropped += n
		}
		fmt.Fprintf(e.stdout, "  async (budget %d): input lag of state maps mean %.2f max %d, of error maps mean %.2f max %d; %d inputs came too late; %d of %d batches stopped by the wall clock\n",
			a.Budget, a.MeanStateLag, a.MaxStateLag, a.MeanErrorLag, a.MaxErrorLag, dropped, a.Stopped, rt.Batches)
	}
	for _, n := range sortedKeys(rt.PerNode) {
		c := rt.PerNode[n]
		fmt.Fprintf(e.stdout, "  node %s: %d messages, %s\n", n, c.Msgs, humanBytes(float64(c.Bytes)))
	}
}

func sortedKeys(m map[string]counts) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
