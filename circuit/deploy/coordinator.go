package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// keepSamples is how many images' original, input and output a report keeps.
const keepSamples = 10

// Report is what Run measured. A failed run returns the part it completed.
type Report struct {
	// Result holds the paper's metrics over the completed mini-batches
	// (outputs against the clean originals, as `ngc eval`), the energy per
	// step and the first images' samples.
	Result ngc.EvalResult
	// Runtime holds the runtime's figures over every process.
	Runtime *Runtime
	// Model is the trained model when learning (parameters and Adam state
	// gathered from the actors), nil otherwise.
	Model *ngc.Model
	// Batches is the number of completed mini-batches of Of; Resumed of
	// them were taken from the journal.
	Batches, Of, Resumed int
	// Batch is the mini-batch size, Steps the window T.
	Batch, Steps int
	// Bus is "inproc" or "nats"; Placement the placement used.
	Bus       string
	Placement *circuit.Placement
	// Journal is the journal directory ("" without one).
	Journal string
	// Curve is the validation curve of a learning run (WithValidation).
	Curve []CurvePoint
}

// CurvePoint is one validation of a learning run: the model the actors
// held after Batches mini-batches, measured on the validation images.
type CurvePoint struct {
	Batches      int `json:"batches"`
	ImageUpdates int `json:"image_updates"`
	// Messages and Bytes are what this process's bus carried so far
	// (frames sent: every process's in one process, the coordinator's own
	// otherwise); SynapticOps are this process's populations'.
	Messages    uint64 `json:"messages"`
	Bytes       uint64 `json:"bytes"`
	SynapticOps int64  `json:"synaptic_ops"`
	// Seconds is the wall time of the mini-batches so far, validations
	// left out.
	Seconds float64 `json:"seconds"`
	// MSE, PSNR and SSIM are the validation reconstruction's metrics.
	MSE  float64 `json:"mse"`
	PSNR float64 `json:"psnr"`
	SSIM float64 `json:"ssim"`
}

// Run coordinates one run of model m over the images of set: it starts the
// actors the placement gives its node, waits for the workers of the other
// nodes to join, feeds the images through the circuit in mini-batches and
// measures the outputs. Without options every actor runs in this process on
// a private in-process bus, in sync mode, reconstructing.
//
// A run that cannot go on fails with an error naming the cause
// (circuit.ErrLost naming a node or a link, ErrRunInUse, ErrRefused, ...);
// the Report then holds the completed mini-batches.
func Run(ctx context.Context, m *ngc.Model, set *data.Set, opts ...Option) (*Report, error) {
	co, err := newCoordinator(m, set, newConfig(opts))
	if err != nil {
		return nil, err
	}
	defer co.close()
	if err := co.open(ctx); err != nil {
		return co.report(), err
	}
	err = co.run(ctx)
	co.rt.gather(co, err == nil)
	co.end(err)
	return co.report(), err
}

// coordinator is the state of one Run.
type coordinator struct {
	cfg    *config
	log    *slog.Logger
	set    *data.Set
	c      *circuit.Circuit
	man    *Manifest
	assign map[neuron.Ref]string
	remote []string
	B, per int // mini-batch size, batches per epoch
	total  int
	self   string // this process's instance

	b       bus.Bus
	ownBus  bool
	nc      *nats.Conn // nil on the in-process bus
	s       *circuit.Session
	journal *journal

	// The measurements so far.
	res   ngc.EvalResult
	acc   metrics.Accumulator
	rt    *Runtime
	noise *rand.Rand
	done  int // completed batches
	model *ngc.Model
	start *ngc.Model   // the model the run started from (validation before the first batch)
	curve []CurvePoint // validations (WithValidation)

	mu      sync.Mutex
	joined  map[string]string // node → the joined worker's instance
	joinCh  chan struct{}
	failure chan error // a worker's report
	subs    []*nats.Subscription
	stop    chan struct{}
	wg      sync.WaitGroup
	ended   bool
}

// newCoordinator checks the configuration against the model and the
// images and prepares the manifest (and the journal).
func newCoordinator(m *ngc.Model, set *data.Set, cfg *config) (*coordinator, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if m == nil || set == nil {
		return nil, fmt.Errorf("%w: no model or no images", ErrConfig)
	}
	if err := m.Config().CheckImages(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("%w: %s has no images", ErrConfig, set.Name)
	}
	c, err := circuit.FromModel(m)
	if err != nil {
		return nil, err
	}
	p := cfg.placement
	if p == nil {
		p = circuit.Local(cfg.node)
	}
	assign, err := p.Assign(c.Graph)
	if err != nil {
		return nil, err
	}
	co := &coordinator{cfg: cfg, log: cfg.log.With("run", cfg.run), set: set, c: c, assign: assign, start: m,
		remote: remoteNodes(assign, cfg.node), self: instance(), joined: map[string]string{},
		joinCh: make(chan struct{}, 1), failure: make(chan error, 1), stop: make(chan struct{}),
		noise: rand.New(rand.NewPCG(cfg.seed, 0xda3e39cb94b95bdb))} // as ngc eval's corruption
	co.B = m.Config().Batch
	if cfg.batch > 0 {
		co.B = cfg.batch
	}
	co.B = min(co.B, set.Len())
	n := set.Len()
	co.per = (n + co.B - 1) / co.B
	if cfg.learn {
		co.per = n / co.B
	}
	co.total = co.per * cfg.epochs
	co.res = ngc.EvalResult{Task: cfg.task.String()}
	co.rt = &Runtime{Nodes: len(p.NodeNames()), Encoding: cfg.encoding.String()}
	if cfg.async.DelaySeed == 0 {
		cfg.async.DelaySeed = cfg.seed
	}
	if err := co.openJournal(m, p); err != nil {
		return nil, err
	}
	params := co.c.Params
	if !cfg.learn && params.Adam != nil {
		// Only learning actors need the optimiser's state.
		cp := *params
		cp.Adam = nil
		params = &cp
	}
	co.man = &Manifest{Version: ManifestVersion, Run: cfg.run, Mode: cfg.mode, Async: cfg.async, Task: taskName(cfg.task),
		Learn: cfg.learn, Batch: co.B, Timeout: cfg.timeout, Config: co.c.Config, Graph: co.c.Graph, Params: params,
		Placement: p, Coordinator: co.self, Encoding: cfg.encoding}
	if _, err := co.man.sessionOptions(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return co, nil
}

// check reports contradictory options.
func (c *config) check() error {
	if c.joinTimeout == 0 {
		c.joinTimeout = DefaultJoinTimeout
	}
	switch {
	case c.timeout <= 0 || c.joinTimeout < 0:
		return fmt.Errorf("%w: the timeout and the join timeout must be positive", ErrConfig)
	case c.epochs < 1:
		return fmt.Errorf("%w: %d epochs, want at least 1", ErrConfig, c.epochs)
	case c.batch < 0:
		return fmt.Errorf("%w: negative batch size %d", ErrConfig, c.batch)
	case c.learn && c.task != ngc.Reconstruct:
		return fmt.Errorf("%w: learning trains on reconstruction, not on denoising", ErrConfig)
	case c.resume && c.journal == "":
		return fmt.Errorf("%w: resuming needs the journal's directory", ErrConfig)
	case c.val != nil && (!c.learn || c.valEvery < 1 || c.val.Len() == 0):
		return fmt.Errorf("%w: validation needs learning, a period of at least 1 mini-batch and images", ErrConfig)
	}
	if err := c.encoding.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	for name, v := range map[string]string{"run id": c.run, "node": c.node} {
		if err := bus.ValidToken(v); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
		}
	}
	return nil
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

// open takes the bus and, over NATS, checks that the run id is free and
// starts serving the manifest.
func (co *coordinator) open(ctx context.Context) error {
	co.b = co.cfg.bus
	if co.b == nil {
		b, err := bus.NewInProc(bus.WithErrorHandler(func(err error) { co.log.Warn("bus", "err", err) }))
		if err != nil {
			return err
		}
		co.b, co.ownBus = b, true
	}
	co.rt.Bus = "inproc"
	nb, ok := co.b.(*bus.NATS)
	if !ok {
		if len(co.remote) > 0 {
			return fmt.Errorf("%w: the placement puts actors on %s, which the in-process bus cannot reach", ErrNeedsNATS, strings.Join(co.remote, ", "))
		}
		return nil
	}
	co.nc, co.rt.Bus = nb.Conn(), "nats"
	if err := co.checkFree(ctx); err != nil {
		return err
	}
	return co.serve()
}

// checkFree listens for another coordinator's beacon on the run id.
func (co *coordinator) checkFree(ctx context.Context) error {
	heard := make(chan string, 1)
	sub, err := co.nc.Subscribe(subject(co.cfg.run, "alive"), func(m *nats.Msg) {
		select {
		case heard <- string(m.Data):
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("deploy: listen for another coordinator: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	t := time.NewTimer(inUseListen)
	defer t.Stop()
	select {
	case other := <-heard:
		if other == "" {
			other = "another coordinator"
		}
		return fmt.Errorf("%w: %s serves run %q; choose another --run", ErrRunInUse, other, co.cfg.run)
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("deploy: interrupted: %w", ctx.Err())
	}
}

// end tells the workers the run is over (err nil) or failed.
func (co *coordinator) end(err error) {
	if co.nc == nil || co.ended {
		return
	}
	co.ended = true
	n := EndNote{OK: err == nil}
	if err != nil {
		n.Error = err.Error()
	}
	_ = co.nc.Publish(subject(co.cfg.run, "end"), encodeJSON(n))
	if co.nc.IsConnected() { // a flush cannot succeed while reconnecting
		_ = co.nc.FlushTimeout(2 * time.Second)
	}
}

// close stops the session, the deployment protocol and a private bus.
func (co *coordinator) close() {
	if co.s != nil {
		co.s.Close()
	}
	co.end(errors.New("the coordinator stopped"))
	close(co.stop)
	co.wg.Wait()
	for _, s := range co.subs {
		_ = s.Unsubscribe()
	}
	if co.ownBus {
		co.b.Close()
	}
}

// report assembles the Report of what was done so far.
func (co *coordinator) report() *Report {
	r := &Report{Result: co.res, Runtime: co.rt, Model: co.model, Batches: co.done, Of: co.total, Batch: co.B,
		Steps: co.c.Config.Steps, Bus: co.rt.Bus, Placement: co.man.Placement, Curve: co.curve}
	if co.journal != nil {
		r.Journal, r.Resumed = co.journal.dir, co.journal.resumed
	}
	r.Result.Report = co.acc.Report()
	r.Result.Seconds = co.rt.Seconds
	if r.Result.Images > 0 {
		r.Result.Energy = append([]float64(nil), co.res.Energy...)
		r.Result.EnergyLayers = make([][]float64, len(co.res.EnergyLayers))
		for t := range r.Result.Energy {
			r.Result.Energy[t] /= float64(r.Result.Images)
			r.Result.EnergyLayers[t] = append([]float64(nil), co.res.EnergyLayers[t]...)
			for l := range r.Result.EnergyLayers[t] {
				r.Result.EnergyLayers[t][l] /= float64(r.Result.Images)
			}
		}
	}
	return r
}
