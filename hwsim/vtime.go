package hwsim

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// The virtual-time engine drives the populations of package neuron — the
// same code the goroutine runner drives — from a priority queue of timed
// deliveries instead of goroutines and a bus, so a run on a mapped circuit
// is deterministic and its time is the hardware's, not the host's.
//
// Time. A message from population a to population b arrives
// latency.message + h·latency.hop + c·latency.chip_hop after it is sent,
// where h and c are the largest mesh and chip distances between the cores
// the Mapping gives a's and b's parts (the message is complete when its last
// value arrives). An update of a population (an error computation, a state
// correction, an ancestral prediction) takes the time its counted events
// take on the busiest of its cores — synaptic ops × spikes_per_value ×
// latency.synaptic_op plus unit updates × ticks_per_step × neurons_per_unit
// × latency.neuron_update, times the population's largest part's share of
// its units — and at least ticks_per_step × latency.tick. Inference events
// are those of one image: hardware runs one image at a time, and the
// engine's virtual time is that of one image's run (the images of a
// mini-batch follow the same schedule). Learning costs the whole batch's
// gradient operations and weight writes (× Mapping.Replication). Every
// latency and compute time is then stretched by a seeded jitter: × (1 +
// Jitter·u) + JitterTime·u′ with u, u′ uniform in [0, 1) drawn from a PCG
// generator in event order. A core computes one thing at a time: an update
// occupies every core its population has parts on until it completes, so
// populations that share a core take turns, and work that arrives while
// its cores are busy waits.
//
// Dynamics. SyncDynamics hands every delivered message to the population's
// Handle (the synchronous dataflow: each population waits for exactly the
// inputs of its step). AsyncDynamics wraps the populations in
// neuron.AsyncStatePop / neuron.AsyncErrorPop: a delivery is offered at once
// and, when the population is idle, it fires; after a firing it fires again
// once its computation is done, until nothing new is left (the goroutine
// runner's drain-then-fire loop). The engine plays the coordinator: it
// delivers the start messages at time 0 and collects outputs, probes and
// learning reports. A run ends when the queue is empty; missing outputs or
// populations that did not finish are an error naming them.
//
// Counting. Events are counted from what the populations emit, per phase
// (ancestral initialisation, each step or version, readout, learning), in
// the units of Counts: a delivered map message of a B-image mini-batch is B
// messages and its length in values; an error computation is the synaptic
// operations the population reports for it (neuron.Msg.Ops: under the
// dense encoding its prediction MACs, Σ over dendrites of C_up·k²·H_up·W_up
// per image, padding taps included) and its units; a state correction
// likewise its feedback (dense: Σ C_low·k²·H·W) and its units; the start of
// a state map (clamp, initial value or prediction) its units; a local update
// the gradient MACs and every kernel weight and bias written; a
// weight-transport message one message and its values. Sync dynamics count
// one barrier per image per step (what barrier-synchronised hardware pays);
// async none.
//
// Sigma-delta. Under the sigma-delta encoding (circuit.Circuit.Encoding) a
// map message carries only the units that changed: its values are its
// entries — the non-zero deltas, each an event (a graded spike on Loihi 2,
// SpiNNaker and the CPU; spikes_per_value spikes on the rate-coded Loihi and
// TrueNorth, where a delta becomes spikes as a value does) — and it counts
// as one message for each image it carries an entry for; a stream's frames
// arrive in the order sent (a link is FIFO: jitter delays a frame, never
// lets it overtake the one before). Receivers update
// their sums by the changes, so an update's synaptic operations are the
// changed units' taps (the population's own count), and its time shrinks
// with them. Neuron updates are still counted for every unit every step.
// Quantised messages (ValueBits) are not modelled with sigma-delta.

// Dynamics selects how the engine drives the populations.
type Dynamics int

const (
	// SyncDynamics: the synchronous dataflow (neuron.StatePop.Handle,
	// neuron.ErrorPop.Handle); it reproduces the batched reference.
	SyncDynamics Dynamics = iota
	// AsyncDynamics: populations fire on their own schedule with the
	// latest inputs (neuron.AsyncStatePop, neuron.AsyncErrorPop): error maps
	// on arrival, state maps by EngineConfig.FireOnArrival's rule.
	AsyncDynamics
)

// String names the dynamics.
func (d Dynamics) String() string {
	switch d {
	case SyncDynamics:
		return "sync"
	case AsyncDynamics:
		return "async"
	}
	return fmt.Sprintf("Dynamics(%d)", int(d))
}

// ErrSim reports a virtual-time run that cannot be set up or did not
// complete.
var ErrSim = errors.New("hwsim: virtual-time run")

// SimPop is a population as the engine takes it: a *neuron.StatePop or a
// *neuron.ErrorPop, built as the runners build them (for example by
// circuit.(*Circuit).Populations).
type SimPop interface {
	Ref() neuron.Ref
	Handle(m neuron.Msg, emit neuron.Emit) error
}

// Net is the circuit the engine drives.
type Net struct {
	// Pops are every population, in a fixed order (it breaks ties in the
	// schedule). Each is named in the Mapping by its Ref().String().
	Pops []SimPop
	// Route lists the populations a message of kind k from population
	// from reaches (circuit.(*Circuit).Receivers for the run's task and
	// learning choice). Its order is part of the schedule.
	Route func(k neuron.Kind, from neuron.Ref) []neuron.Ref
	// Batch is the number of images per mini-batch, Steps is T.
	Batch, Steps int
	// Denoise tells that the image layer is free after step 1 (the
	// reconstruction error is then not recorded: it needs z[0] = x).
	Denoise bool
	// Learn tells that the populations learn after every mini-batch.
	Learn bool
}

// EngineConfig configures a virtual-time engine.
type EngineConfig struct {
	Dynamics Dynamics
	// Budget is the corrections per state map per window under
	// AsyncDynamics (0: Net.Steps); MaxLag a staleness bound (0: none). See
	// neuron.NewAsyncStatePop.
	Budget, MaxLag int
	// FireOnArrival makes async state maps correct on any arrival (the
	// original rule, neuron.FireOnArrival) instead of when their own error
	// advances (neuron.FireOnOwnError, the default, as in the goroutine
	// runtime's circuit.AsyncConfig).
	FireOnArrival bool
	// Jitter stretches every latency and compute time by a factor
	// 1 + Jitter·u, and JitterTime adds JitterTime·u′ seconds (u, u′
	// uniform in [0, 1), drawn from Seed).
	Jitter, JitterTime float64
	// Seed seeds the jitter.
	Seed uint64
	// MaxEvents bounds the events of one mini-batch (0: 100,000,000).
	MaxEvents int64
	// ValueBits, when 2 to 31, quantises every map value a population
	// sends to another (φ(z), states, errors, predictions; not the clamped
	// image, probes, outputs or weights) to a ValueBits-wide signed
	// fixed-point code, as the hardware's message width would (Quantize;
	// Arch.ValueBits gives an architecture's width). Each image of a
	// message gets its own full scale, its largest magnitude: one shared
	// scale per image and message (block floating point), so nothing
	// saturates and the code's range is never wasted — the best a fixed
	// width can do. 0 or 32: exact float32 values.
	ValueBits int
}

// Sample is one point of a run's curves, taken at every probe.
type Sample struct {
	// Time is the virtual time in seconds, Messages the map messages
	// sent so far per image.
	Time     float64 `json:"time"`
	Messages int64   `json:"messages"`
	// Discrepancy is the total discrepancy ½Σ‖e‖² per image from the
	// latest probe of every error map.
	Discrepancy float64 `json:"discrepancy"`
	// ReconMSE is the mean squared reconstruction error per pixel on
	// [0,1], from the image error maps' latest probes (under
	// reconstruction z[0] = x, so ½‖e[0]‖² = ½‖x − x̂‖²); 0 under denoising.
	ReconMSE float64 `json:"recon_mse"`
}

// ActorCount is what one population did in one mini-batch.
type ActorCount struct {
	Name     string  `json:"name"`
	Updates  int     `json:"updates"`  // error computations and predictions, or state corrections
	Received int     `json:"received"` // messages delivered to it
	Sent     int     `json:"sent"`     // messages it sent to populations (per receiver)
	Bytes    int64   `json:"bytes"`    // payload bytes of those messages (4 per value)
	Busy     float64 `json:"busy"`     // virtual seconds spent computing
	MeanLag  float64 `json:"mean_lag"` // async: mean version lag of the inputs it used
	MaxLag   int     `json:"max_lag"`  // async: largest version lag
	Dropped  int     `json:"dropped"`  // async: inputs that arrived too late to be used
}

// BatchResult is one mini-batch run in virtual time.
type BatchResult struct {
	Dynamics Dynamics `json:"dynamics"`
	Batch    int      `json:"batch"`
	Images   int      `json:"images"`
	// Output is the prediction x̂ of the image layer, image-major
	// [B][C][H][W].
	Output []float32 `json:"-"`
	// Energy[t][l] is ½‖e[l]‖² per image of layer l at step t+1 (sync,
	// t = 0..T, the last the final prediction's) or version t+1 (async,
	// t = 0..Budget, every map's energy carried forward over the versions
	// it skipped), as circuit.Result.Energy.
	Energy [][]float64 `json:"energy"`
	// Counts by phase: the ancestral initialisation, every step (sync) or
	// version (async) t = 1..T at Steps[t−1], the readout (the final
	// errors and the output), and the local learning.
	Init    Counts   `json:"init"`
	Steps   []Counts `json:"steps"`
	Readout Counts   `json:"readout"`
	Learn   Counts   `json:"learn"`
	// Inference is Init + Steps + Readout; Total adds Learn.
	Inference Counts `json:"inference"`
	Total     Counts `json:"total"`
	// PacketHops counts mesh hops times packets (values × spikes per
	// value), ChipHops the chip crossings likewise.
	PacketHops float64 `json:"packet_hops"`
	ChipHops   float64 `json:"chip_hops"`
	// InitEnd, StepEnd[t−1] and InferenceEnd are the virtual times (s,
	// per image) at which the last event of the initialisation, of step
	// (version) t and of the readout ended; End is the last event's,
	// learning included.
	InitEnd      float64   `json:"init_end"`
	StepEnd      []float64 `json:"step_end"`
	InferenceEnd float64   `json:"inference_end"`
	End          float64   `json:"end"`
	// Timeline samples the total discrepancy and reconstruction error at
	// every probe once every error map has reported, in time order.
	Timeline []Sample `json:"timeline"`
	// StateLag and ErrorLag are the async staleness histograms (version
	// lag → inputs used; see neuron.AsyncStats); nil under sync.
	StateLag map[int]int `json:"state_lag,omitempty"`
	ErrorLag map[int]int `json:"error_lag,omitempty"`
	// Actors are the per-population counts, in Net.Pops order.
	Actors []ActorCount `json:"actors"`
	// Events is the number of events the engine processed.
	Events int64 `json:"events"`
}

// StepLatency is the mean virtual time per step (per version under async):
// (StepEnd[last] − InitEnd) / steps.
func (r *BatchResult) StepLatency() float64 {
	if len(r.StepEnd) == 0 {
		return 0
	}
	return (r.StepEnd[len(r.StepEnd)-1] - r.InitEnd) / float64(len(r.StepEnd))
}

// Engine runs a mapped circuit's populations in virtual time.
type Engine struct {
	m    *Mapping
	net  Net
	cfg  EngineConfig
	rng  *rand.Rand
	pops []*vpop
	idx  map[neuron.Ref]int
	// per (from, to) route, cached
	links map[[2]int]vlink
	// coreBusy is when each core finishes its current computation.
	coreBusy []float64
	// per (kind, from) receivers, cached
	routes map[routeKey][]int
	batch  int
}

type routeKey struct {
	k    neuron.Kind
	from int
}

type vlink struct {
	latency            float64 // seconds before jitter
	meanHops, meanChip float64
}

// vpop is one population with its geometry and its schedule state.
type vpop struct {
	ref   neuron.Ref
	name  string
	sync  SimPop
	state *neuron.StatePop
	err   *neuron.ErrorPop
	blk   *neuron.BlockPop // a residual block's map (sync dynamics only)
	as    *neuron.AsyncStatePop
	ae    *neuron.AsyncErrorPop

	unitsImg, plane int
	macsImg         int64 // prediction (error map) or feedback (state map) MACs per image
	weights         int64 // weights its local update writes
	share           float64

	busy        float64 // the end of its last computation
	cores       []int   // the cores its parts are on
	fireQueued  bool
	emitted     bool // emitted a state in the current window
	image       bool // an image state map, or the error map of an image layer
	gotWeights  bool
	depth       int // ancestral depth of its start (state) or max depth of its step-0 inputs (error)
	finished    int
	finalProbed bool
	count       ActorCount
}

// NewEngine prepares a virtual-time run of net on the mapping m (built with
// Map from the same circuit: every population must be placed, named by its
// Ref().String()).
func NewEngine(m *Mapping, net Net, cfg EngineConfig) (*Engine, error) {
	if m == nil || m.Arch == nil || len(m.Cores) == 0 {
		return nil, fmt.Errorf("%w: empty mapping", ErrSim)
	}
	if len(net.Pops) == 0 || net.Route == nil || net.Batch < 1 || net.Steps < 1 {
		return nil, fmt.Errorf("%w: a net needs populations, a route, a batch ≥ 1 and T ≥ 1", ErrSim)
	}
	if net.Learn && net.Denoise {
		return nil, fmt.Errorf("%w: learning runs the reconstruction task", ErrSim)
	}
	switch cfg.Dynamics {
	case SyncDynamics, AsyncDynamics:
	default:
		return nil, fmt.Errorf("%w: unknown dynamics %d", ErrSim, int(cfg.Dynamics))
	}
	if cfg.Budget == 0 {
		cfg.Budget = net.Steps
	}
	for _, v := range []float64{cfg.Jitter, cfg.JitterTime} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: jitter %g must be finite and not negative", ErrSim, v)
		}
	}
	if cfg.Budget < 1 || cfg.MaxLag < 0 || cfg.MaxEvents < 0 {
		return nil, fmt.Errorf("%w: budget %d, lag bound %d, event bound %d", ErrSim, cfg.Budget, cfg.MaxLag, cfg.MaxEvents)
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = 100_000_000
	}
	if cfg.ValueBits != 0 && (cfg.ValueBits < 2 || cfg.ValueBits > 32) {
		return nil, fmt.Errorf("%w: value width %d bits, want 2 to 32 (0: exact)", ErrSim, cfg.ValueBits)
	}
	e := &Engine{m: m, net: net, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5851f42d4c957f2d)),
		idx: map[neuron.Ref]int{}, links: map[[2]int]vlink{}, routes: map[routeKey][]int{}, coreBusy: make([]float64, len(m.Cores))}
	for i, sp := range net.Pops {
		if sp == nil {
			return nil, fmt.Errorf("%w: population %d is nil", ErrSim, i)
		}
		if enc, ok := sp.(interface{ Encoding() neuron.Encoding }); ok && enc.Encoding().Scheme == neuron.SigmaDelta &&
			cfg.ValueBits != 0 && cfg.ValueBits != 32 {
			return nil, fmt.Errorf("%w: quantised values (%d bits) are not modelled with %v messages", ErrSim, cfg.ValueBits, enc.Encoding())
		}
		p := &vpop{ref: sp.Ref(), name: sp.Ref().String(), sync: sp}
		if _, dup := e.idx[p.ref]; dup {
			return nil, fmt.Errorf("%w: population %s listed twice", ErrSim, p.name)
		}
		switch q := sp.(type) {
		case *neuron.StatePop:
			p.state = q
			p.plane = len(q.Z())
			for _, f := range q.Feedback() {
				p.macsImg += int64(f.Spec.InC) * int64(f.Spec.K*f.Spec.K) * int64(f.Spec.OutH*f.Spec.OutW)
				p.weights += int64(len(f.E))
			}
			if cfg.Dynamics == AsyncDynamics {
				a, err := neuron.NewAsyncStatePop(q, cfg.Budget, cfg.MaxLag)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrSim, err)
				}
				if !cfg.FireOnArrival {
					a.SetFireRule(neuron.FireOnOwnError)
				}
				p.as = a
			}
		case *neuron.ErrorPop:
			p.err = q
			p.plane = q.Plane()
			for _, d := range q.Dendrites() {
				if d.Block != nil {
					continue // a block's end: its maps hold the kernels
				}
				p.macsImg += int64(d.Spec.OutC) * int64(d.Spec.K*d.Spec.K) * int64(d.Spec.OutH*d.Spec.OutW)
				p.weights += int64(len(d.W))
			}
			if q.HasBias() {
				p.weights++
			}
			if cfg.Dynamics == AsyncDynamics {
				a, err := neuron.NewAsyncErrorPop(q, cfg.Budget)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrSim, err)
				}
				p.ae = a
			}
		case *neuron.BlockPop:
			if cfg.Dynamics == AsyncDynamics {
				return nil, fmt.Errorf("%w: population %s: residual blocks run in sync dynamics only", ErrSim, p.name)
			}
			p.blk = q
			in, out := q.Specs()
			p.plane = in.Batch * in.InH * in.InW
			p.macsImg = in.MACs() / int64(in.Batch)
			p.weights = int64(len(q.W()) + len(q.E()))
			if q.E() != nil {
				p.macsImg += out.MACs() / int64(out.Batch)
			}
		default:
			return nil, fmt.Errorf("%w: population %s is a %T, not a neuron.StatePop, ErrorPop or BlockPop", ErrSim, p.name, sp)
		}
		if p.plane%net.Batch != 0 {
			return nil, fmt.Errorf("%w: population %s holds %d values, not a multiple of the batch %d", ErrSim, p.name, p.plane, net.Batch)
		}
		p.unitsImg = p.plane / net.Batch
		parts := m.PartsOf(p.name)
		if len(parts) == 0 {
			return nil, fmt.Errorf("%w: population %s is not in the mapping", ErrSim, p.name)
		}
		total, most := 0, 0
		for _, pt := range parts {
			total += pt.Units
			most = max(most, pt.Units)
		}
		p.share = float64(most) / float64(total)
		for _, pt := range parts {
			if !slices.Contains(p.cores, pt.Core) {
				p.cores = append(p.cores, pt.Core)
			}
		}
		p.count.Name = p.name
		e.idx[p.ref] = i
		e.pops = append(e.pops, p)
	}
	return e, nil
}

// link returns the route between two populations' cores.
func (e *Engine) link(from, to int) vlink {
	key := [2]int{from, to}
	if l, ok := e.links[key]; ok {
		return l
	}
	ps, pd := e.m.PartsOf(e.pops[from].name), e.m.PartsOf(e.pops[to].name)
	ns, nd := 0, 0
	for _, p := range ps {
		ns += p.Units
	}
	for _, p := range pd {
		nd += p.Units
	}
	var l vlink
	maxH, maxC := 0, 0
	for _, a := range ps {
		for _, b := range pd {
			w := float64(a.Units) / float64(ns) * float64(b.Units) / float64(nd)
			h, c := e.m.hops(a.Core, b.Core)
			l.meanHops += w * float64(h)
			l.meanChip += w * float64(c)
			maxH, maxC = max(maxH, h), max(maxC, c)
		}
	}
	t := &e.m.Arch.Latency
	l.latency = t.Message.Value + float64(maxH)*t.Hop.Value + float64(maxC)*t.ChipHop.Value
	e.links[key] = l
	return l
}

// receivers returns the populations a message reaches, by index.
func (e *Engine) receivers(k neuron.Kind, from int) ([]int, error) {
	key := routeKey{k, from}
	if r, ok := e.routes[key]; ok {
		return r, nil
	}
	var out []int
	for _, ref := range e.net.Route(k, e.pops[from].ref) {
		i, ok := e.idx[ref]
		if !ok {
			return nil, fmt.Errorf("%w: %v from %s is routed to %v, which is not in the net", ErrSim, k, e.pops[from].name, ref)
		}
		out = append(out, i)
	}
	e.routes[key] = out
	return out, nil
}

// free returns when every core of population p is free.
func (e *Engine) free(p *vpop) float64 {
	f := 0.0
	for _, c := range p.cores {
		f = max(f, e.coreBusy[c])
	}
	return f
}

// jitter stretches a duration.
func (e *Engine) jitter(d float64) float64 {
	if e.cfg.Jitter > 0 {
		d *= 1 + e.cfg.Jitter*e.rng.Float64()
	}
	if e.cfg.JitterTime > 0 {
		d += e.cfg.JitterTime * e.rng.Float64()
	}
	return d
}

// event is a delivery (msg set) or an asynchronous firing.
type event struct {
	t     float64
	seq   int64
	to    int // receiving population, or -1 for the coordinator
	from  int // sending population of a probe for the coordinator
	fire  bool
	depth int
	msg   neuron.Msg
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// phase indices of a run's counts: 0 init, 1..n steps, n+1 readout, n+2 learn.
type runState struct {
	res      *BatchResult
	q        eventQueue
	seq      int64
	n        int // steps (sync T) or versions (async budget)
	phases   []Counts
	ends     []float64
	probes   []map[int]float64 // [pop] version → energy (async)
	latest   []float64         // latest energy per pop, per image
	probed   []bool            // the pop has reported an energy
	nProbed  int
	errPops  int
	latestE  float64 // Σ latest
	latestE0 float64 // Σ latest of image error maps
	imgVals  int     // values per image of the image layer (C·H·W)
	imgLayer int
	outMM    []float32
	outs     int
	outMaps  int
	dones    int
	msgs     int64 // map messages sent so far (per image)
	buf      []neuron.Msg
	// lastDelta is when the last sigma-delta frame on each link (from, to)
	// arrives: frames of a stream never overtake one another.
	lastDelta map[[2]int]float64
}

// RunBatch runs one mini-batch from the coordinator's start messages
// (KindClamp and KindInit, each addressed by the state map it is for in
// Msg.From and tagged with the batch number, as
// circuit.(*Circuit).StartMessages returns them) until nothing is left to
// happen, and returns its outputs, energies, counts and times. Mini-batches
// are numbered from 0 and run in order; the populations keep their state
// (and learnt weights) from one to the next.
func (e *Engine) RunBatch(start []neuron.Msg) (*BatchResult, error) {
	B := e.net.Batch
	n := e.net.Steps
	if e.cfg.Dynamics == AsyncDynamics {
		n = e.cfg.Budget
	}
	res := &BatchResult{Dynamics: e.cfg.Dynamics, Batch: e.batch, Images: B}
	rs := &runState{res: res, n: n, phases: make([]Counts, n+3), ends: make([]float64, n+3),
		latest: make([]float64, len(e.pops)), probed: make([]bool, len(e.pops)), imgLayer: -1, lastDelta: map[[2]int]float64{}}
	if e.cfg.Dynamics == AsyncDynamics {
		rs.probes = make([]map[int]float64, len(e.pops))
		res.StateLag, res.ErrorLag = map[int]int{}, map[int]int{}
	}
	clear(e.coreBusy)
	for _, p := range e.pops {
		if p.err != nil {
			rs.errPops++
		}
		p.busy, p.fireQueued, p.emitted, p.gotWeights, p.depth, p.finalProbed = 0, false, false, false, 0, false
		p.count = ActorCount{Name: p.name}
		if p.as != nil {
			p.finished, _ = p.as.Finished()
		} else if p.ae != nil {
			p.finished, _ = p.ae.Finished()
		}
	}
	if len(start) == 0 {
		return nil, fmt.Errorf("%w: batch %d has no start messages", ErrSim, e.batch)
	}
	for _, m := range start {
		i, ok := e.idx[m.From]
		if !ok || (m.Kind != neuron.KindClamp && m.Kind != neuron.KindInit) || m.Batch != e.batch || e.pops[i].state == nil {
			return nil, fmt.Errorf("%w: start message %v for %v (batch %d) is not a clamp or initial value of a state map of batch %d",
				ErrSim, m.Kind, m.From, m.Batch, e.batch)
		}
		if m.Kind == neuron.KindClamp {
			if rs.imgLayer >= 0 && rs.imgLayer != m.From.Layer {
				return nil, fmt.Errorf("%w: clamps for layers %d and %d", ErrSim, rs.imgLayer, m.From.Layer)
			}
			rs.imgLayer = m.From.Layer
			rs.outMaps++
			rs.imgVals += len(m.Data) / B
			e.pops[i].image = true
		}
		rs.push(event{t: 0, to: i, msg: m})
	}
	if rs.imgLayer < 0 {
		return nil, fmt.Errorf("%w: batch %d clamps no image map", ErrSim, e.batch)
	}
	for _, p := range e.pops {
		if p.err != nil && p.ref.Layer == rs.imgLayer {
			p.image = true
		}
	}
	rs.outMM = make([]float32, B*rs.imgVals)
	for rs.q.Len() > 0 {
		if res.Events >= e.cfg.MaxEvents {
			return nil, fmt.Errorf("%w: batch %d exceeded %d events", ErrSim, e.batch, e.cfg.MaxEvents)
		}
		res.Events++
		ev := heap.Pop(&rs.q).(event)
		if err := e.process(rs, ev); err != nil {
			return nil, err
		}
	}
	if err := e.finish(rs); err != nil {
		return nil, err
	}
	e.batch++
	return res, nil
}

func (rs *runState) push(ev event) {
	rs.seq++
	ev.seq = rs.seq
	heap.Push(&rs.q, ev)
}

// process handles one event: a delivery or a firing.
func (e *Engine) process(rs *runState, ev event) error {
	if ev.to < 0 {
		return e.probe(rs, ev.from, ev.msg, ev.t)
	}
	p := e.pops[ev.to]
	if !ev.fire {
		if f := e.free(p); e.cfg.Dynamics == SyncDynamics && f > ev.t {
			// Busy: the message waits in the population's inbox.
			ev.t = f
			rs.push(ev)
			return nil
		}
		p.count.Received++
		m := ev.msg
		switch {
		case m.Kind == neuron.KindPred:
			p.depth = ev.depth
		case (m.Kind == neuron.KindPhi || m.Kind == neuron.KindHidden) && (p.err != nil || p.blk != nil):
			p.depth = max(p.depth, ev.depth)
		case m.Kind == neuron.KindWeights:
			p.gotWeights = true
		}
		if e.cfg.Dynamics == SyncDynamics {
			rs.buf = rs.buf[:0]
			if err := p.sync.Handle(m, rs.collect); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrSim, p.name, err)
			}
			return e.emitted(rs, ev.to, ev.t)
		}
		var err error
		if p.as != nil {
			err = p.as.Offer(m)
		} else {
			err = p.ae.Offer(m)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSim, p.name, err)
		}
		if !p.fireQueued {
			p.fireQueued = true
			rs.push(event{t: max(ev.t, e.free(p)), to: ev.to, fire: true})
		}
		return nil
	}
	if f := e.free(p); f > ev.t {
		// Another population took the core meanwhile.
		ev.t = f
		rs.push(ev)
		return nil
	}
	p.fireQueued = false
	rs.buf = rs.buf[:0]
	var fired bool
	var err error
	if p.as != nil {
		fired, err = p.as.Fire(rs.collect)
	} else {
		fired, err = p.ae.Fire(rs.collect)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSim, p.name, err)
	}
	// A firing that emitted did something, whatever it reports (an
	// AsyncStatePop's last correction before learning reports false).
	if !fired && len(rs.buf) == 0 {
		return nil
	}
	if err := e.emitted(rs, ev.to, ev.t); err != nil {
		return err
	}
	p.fireQueued = true
	rs.push(event{t: p.busy, to: ev.to, fire: true})
	return nil
}

// collect is the populations' Emit: it keeps a copy of every message (a
// population may reuse its buffers once its receivers have the values).
func (rs *runState) collect(m neuron.Msg) error {
	m.Data = slices.Clone(m.Data)
	m.Delta = m.Delta.Clone()
	rs.buf = append(rs.buf, m)
	return nil
}

// imagesWith returns the images of a B-image message that carry at least
// one value: all of them for dense data and whole frames, those a sparse
// sigma-delta frame lists a unit of.
func imagesWith(m neuron.Msg, B int) int64 {
	d := m.Delta
	if d == nil || !d.Sparse {
		return int64(B)
	}
	per := d.N / B
	if per == 0 {
		return int64(B)
	}
	n, last := int64(0), -1
	for _, ix := range d.Index {
		if b := int(ix&^neuron.AbsBit) / per; b != last {
			n++
			last = b
		}
	}
	return n
}

// phaseOf says which phase an event with step tag (sync) or version (async)
// t belongs to, for a map message of kind k.
func (rs *runState) msgPhase(k neuron.Kind, t int, async bool) int {
	switch k {
	case neuron.KindPred:
		return 0
	case neuron.KindWeights:
		return rs.n + 2
	case neuron.KindError, neuron.KindPerturb:
		if t > rs.n {
			return rs.n + 2
		}
		return max(t, 1)
	}
	// state and φ(z): an async state of version k is read by errors of
	// version k+1, the sync tag t by errors of step t.
	if async {
		t++
	}
	if t > rs.n {
		return rs.n + 1
	}
	return t
}

// emitted accounts for and routes what population i emitted in one call
// that started at time start.
func (e *Engine) emitted(rs *runState, i int, start float64) error {
	p := e.pops[i]
	if len(rs.buf) == 0 {
		return nil
	}

	B := int64(e.net.Batch)
	async := e.cfg.Dynamics == AsyncDynamics
	a := &e.m.Arch.Values
	spv, tps, npu := a.SpikesPerValue.Value, a.TicksPerStep.Value, a.NeuronsPerUnit.Value
	lat := &e.m.Arch.Latency
	res := rs.res
	// Compute: what the call did.
	type work struct {
		ops       int64 // synaptic operations, whole batch
		units     int64 // per image
		updates   int
		learnMACs int64 // whole batch
		weights   int64
		phase     int
	}
	var w []work
	add := func(x work) { w = append(w, x) }
	if p.blk != nil {
		// A block's map: its activity of step t (units updated and the
		// forward MACs), its perturbation (the error MACs), its update.
		for _, m := range rs.buf {
			switch m.Kind {
			case neuron.KindHidden:
				add(work{ops: m.Ops, units: int64(p.unitsImg), updates: 1, phase: min(m.Step, rs.n+1)})
			case neuron.KindPerturb:
				add(work{ops: m.Ops, phase: rs.msgPhase(m.Kind, m.Step, async)})
			case neuron.KindDone:
				add(work{learnMACs: B * p.macsImg, weights: p.weights, phase: rs.n + 2})
			}
		}
	} else if p.err != nil {
		for _, m := range rs.buf {
			switch m.Kind {
			case neuron.KindPred:
				add(work{ops: m.Ops, units: int64(p.unitsImg), updates: 1, phase: 0})
			case neuron.KindProbe:
				ph := m.Step
				if ph > rs.n {
					ph = rs.n + 1
				}
				add(work{ops: m.Ops, units: int64(p.unitsImg), updates: 1, phase: ph})
			case neuron.KindDone:
				add(work{learnMACs: B * p.macsImg, weights: p.weights, phase: rs.n + 2})
			}
		}
	} else {
		// Group the state's emissions by version: the first group of a
		// window is its start, later ones are corrections (whose synaptic
		// operations the group's first message carries).
		seen := map[int]bool{}
		started := false
		for _, m := range rs.buf {
			switch m.Kind {
			case neuron.KindPhi, neuron.KindState:
				if seen[m.Step] {
					if m.Ops > 0 && len(w) > 0 {
						w[len(w)-1].ops += m.Ops
					}
					continue
				}
				seen[m.Step] = true
				if !p.emitted {
					if !started {
						add(work{units: int64(p.unitsImg), phase: 0})
						started = true
					}
					continue
				}
				k := m.Step
				if !async {
					k--
				}
				clamped := 0
				if p.image {
					clamped = 1
				}
				if k >= 1+clamped {
					add(work{ops: m.Ops, units: int64(p.unitsImg), updates: 1, phase: min(k, rs.n)})
				}
			case neuron.KindDone:
				if !p.gotWeights { // untied: E learnt in place
					add(work{learnMACs: B * p.macsImg, weights: p.weights, phase: rs.n + 2})
				}
			}
		}
		// The start emits every group of its window at once (sync: steps 0
		// and 1).
		for _, m := range rs.buf {
			if m.Kind == neuron.KindPhi || m.Kind == neuron.KindState {
				p.emitted = true
			}
		}
	}
	dur := 0.0
	for _, x := range w {
		c := &rs.phases[x.phase]
		c.SynapticOps += x.ops + x.learnMACs
		c.NeuronUpdates += B * x.units
		c.WeightUpdates += x.weights
		p.count.Updates += x.updates
		macs := float64(x.ops) / float64(B) // per image: hardware runs one image at a time
		d := p.share * (macs*spv*lat.SynapticOp.Value + float64(x.units)*tps*npu*lat.NeuronUpdate.Value)
		if x.learnMACs > 0 || x.weights > 0 {
			d += p.share * (float64(x.learnMACs)*spv*lat.SynapticOp.Value + float64(x.weights)*e.m.Replication()*lat.WeightUpdate.Value)
		} else {
			d = max(d, tps*lat.Tick.Value)
		}
		dur += d
	}
	if dur > 0 {
		dur = e.jitter(dur)
	}
	done := start + dur
	p.count.Busy += dur
	p.busy = max(p.busy, done)
	for _, c := range p.cores {
		e.coreBusy[c] = max(e.coreBusy[c], done)
	}
	for _, x := range w {
		rs.ends[x.phase] = max(rs.ends[x.phase], done)
	}
	// Route.
	for _, m := range rs.buf {
		switch m.Kind {
		case neuron.KindProbe:
			// The coordinator takes the probe when the computation ends.
			rs.push(event{t: done, to: -1, from: i, msg: m})
			continue
		case neuron.KindOutput:
			if m.From.Layer != rs.imgLayer || len(m.Data) != int(B)*rs.imgVals/rs.outMaps || m.From.Index >= rs.outMaps {
				return fmt.Errorf("%w: bad output from %s", ErrSim, p.name)
			}
			copy(rs.outMM[m.From.Index*len(m.Data):], m.Data)
			rs.outs++
			rs.ends[rs.n+1] = max(rs.ends[rs.n+1], done)
			continue
		case neuron.KindDone:
			rs.dones++
			continue
		}
		to, err := e.receivers(m.Kind, i)
		if err != nil {
			return err
		}
		if err := e.quantize(&m); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSim, p.name, err)
		}
		ph := rs.msgPhase(m.Kind, m.Step, async)
		c := &rs.phases[ph]
		depth := 0
		switch {
		case m.Kind == neuron.KindPred:
			depth = p.depth + 1
		case p.state != nil || p.blk != nil:
			depth = p.depth
		}
		vals, imgs := int64(m.Values()), imagesWith(m, int(B))
		for _, j := range to {
			l := e.link(i, j)
			arrive := done + e.jitter(l.latency)
			if m.Delta != nil {
				// A stream's frames build on one another: the link delivers
				// them in order (hardware links are FIFO), whatever the jitter.
				arrive = max(arrive, rs.lastDelta[[2]int{i, j}])
				rs.lastDelta[[2]int{i, j}] = arrive
			}
			if m.Kind == neuron.KindWeights {
				c.WeightTransportMsgs++
				c.WeightTransportValues += vals
			} else {
				c.Messages += imgs
				c.Values += vals
				rs.msgs++
			}
			res.PacketHops += float64(vals) * spv * l.meanHops
			res.ChipHops += float64(vals) * spv * l.meanChip
			p.count.Sent++
			p.count.Bytes += int64(m.PayloadBytes())
			rs.ends[ph] = max(rs.ends[ph], arrive)
			rs.push(event{t: arrive, to: j, depth: depth, msg: m})
		}
	}
	return nil
}

// quantize replaces a map message's data by its quantised copy when the
// engine quantises (see EngineConfig.ValueBits); the sender's own buffer is
// left alone.
func (e *Engine) quantize(m *neuron.Msg) error {
	bits := e.cfg.ValueBits
	if bits == 0 || bits == 32 || len(m.Data) == 0 {
		return nil
	}
	switch m.Kind {
	case neuron.KindPhi, neuron.KindState, neuron.KindError, neuron.KindPred:
	default:
		return nil
	}
	B := e.net.Batch
	if len(m.Data)%B != 0 {
		return fmt.Errorf("a %v message of %d values does not split into %d images", m.Kind, len(m.Data), B)
	}
	q := make([]float32, len(m.Data))
	n := len(m.Data) / B
	for k := 0; k < B; k++ {
		src, dst := m.Data[k*n:(k+1)*n], q[k*n:(k+1)*n]
		scale := float32(0)
		for _, v := range src {
			scale = max(scale, float32(math.Abs(float64(v))))
		}
		if !(scale > 0) || math.IsInf(float64(scale), 0) {
			copy(dst, src) // all zero (or not finite: left for the caller to see)
			continue
		}
		// Full scale one step above the largest magnitude, so that it is
		// represented rather than saturated.
		scale = float32(float64(scale) / (1 - math.Ldexp(1, 1-bits)))
		if err := Quantize(dst, src, bits, scale); err != nil {
			return err
		}
	}
	m.Data = q
	return nil
}

// probe records an error map's energy.
func (e *Engine) probe(rs *runState, i int, m neuron.Msg, t float64) error {
	p := e.pops[i]
	B := float64(e.net.Batch)
	if len(m.Data) != 1 || m.Step < 1 || m.Step > rs.n+1 {
		return fmt.Errorf("%w: bad probe from %s (step %d)", ErrSim, p.name, m.Step)
	}
	en := float64(m.Data[0]) / B
	res := rs.res
	if e.cfg.Dynamics == SyncDynamics {
		if res.Energy == nil {
			res.Energy = make([][]float64, rs.n+1)
			for k := range res.Energy {
				res.Energy[k] = make([]float64, e.layers())
			}
		}
		res.Energy[m.Step-1][p.ref.Layer] += en
	} else {
		if rs.probes[i] == nil {
			rs.probes[i] = map[int]float64{}
		}
		rs.probes[i][m.Step] = en
	}

	if m.Step == rs.n+1 {
		p.finalProbed = true
	}
	if !rs.probed[i] {
		rs.probed[i] = true
		rs.nProbed++
	}
	rs.latestE += en - rs.latest[i]
	if p.image {
		rs.latestE0 += en - rs.latest[i]
	}
	rs.latest[i] = en
	if rs.nProbed < rs.errPops {
		return nil // the total is not defined before every error map has reported
	}
	s := Sample{Time: t, Messages: rs.msgs, Discrepancy: rs.latestE}
	if !e.net.Denoise && rs.imgVals > 0 {
		s.ReconMSE = 2 * rs.latestE0 / float64(rs.imgVals)
	}
	res.Timeline = append(res.Timeline, s)
	return nil
}

func (e *Engine) layers() int {
	n := 0
	for _, p := range e.pops {
		if p.blk == nil { // a block's map is named by its synapse
			n = max(n, p.ref.Layer+1)
		}
	}
	return n
}

// finish checks that the batch completed and assembles the result.
func (e *Engine) finish(rs *runState) error {
	res := rs.res
	B := int64(e.net.Batch)
	var missing []string
	learners := 0
	for _, p := range e.pops {
		if p.err != nil || p.blk != nil || (p.state != nil && p.macsImg > 0) {
			learners++
		}
		switch {
		case e.cfg.Dynamics == AsyncDynamics:
			var n int
			var st neuron.AsyncStats
			if p.as != nil {
				n, st = p.as.Finished()
			} else {
				n, st = p.ae.Finished()
			}
			if n != p.finished+1 {
				missing = append(missing, p.name+" (window not finished)")
				continue
			}
			h := res.ErrorLag
			if p.state != nil {
				h = res.StateLag
			}
			cnt := 0
			for l, c := range st.Lag {
				h[l] += c
				p.count.MeanLag += float64(l * c)
				cnt += c
				p.count.MaxLag = max(p.count.MaxLag, l)
			}
			if cnt > 0 {
				p.count.MeanLag /= float64(cnt)
			}
			p.count.Dropped = st.Dropped
		case p.err != nil && !p.finalProbed:
			missing = append(missing, p.name+" (no final error)")
		}
	}
	if rs.outs != rs.outMaps {
		missing = append(missing, fmt.Sprintf("%d of %d image outputs", rs.outMaps-rs.outs, rs.outMaps))
	}
	if e.net.Learn && rs.dones != learners {
		missing = append(missing, fmt.Sprintf("%d of %d local updates", learners-rs.dones, learners))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if len(missing) > 8 {
			missing = append(missing[:8], fmt.Sprintf("and %d more", len(missing)-8))
		}
		return fmt.Errorf("%w: batch %d ended with nothing left to happen, missing %s", ErrSim, e.batch, strings.Join(missing, ", "))
	}
	if e.cfg.Dynamics == AsyncDynamics {
		res.Energy = make([][]float64, rs.n+1)
		for k := range res.Energy {
			res.Energy[k] = make([]float64, e.layers())
		}
		for i, pv := range rs.probes {
			if pv == nil {
				continue
			}
			cur := 0.0
			for v := 1; v <= rs.n+1; v++ {
				if en, ok := pv[v]; ok {
					cur = en
				}
				res.Energy[v-1][e.pops[i].ref.Layer] += cur
			}
		}
	}
	res.Output = make([]float32, len(rs.outMM))
	tensor.FromMapMajor(res.Output, rs.outMM, int(B), rs.outMaps, rs.imgVals/rs.outMaps)

	// Phases: steps and barriers.
	sync := e.cfg.Dynamics == SyncDynamics
	depth := 0
	for _, p := range e.pops {
		if p.state != nil {
			depth = max(depth, p.depth)
		}
	}
	label := func(c *Counts, what string, steps int64) {
		c.Label = fmt.Sprintf("%s, %s", what, e.cfg.Dynamics)
		c.Images = B
		c.Steps = steps * B
		if sync {
			c.Barriers = c.Steps
		}
	}
	label(&rs.phases[0], "initialisation", int64(depth))
	res.Init = rs.phases[0]
	res.Steps = make([]Counts, rs.n)
	res.StepEnd = make([]float64, rs.n)
	unit := "step"
	if !sync {
		unit = "version"
	}
	for t := 1; t <= rs.n; t++ {
		label(&rs.phases[t], fmt.Sprintf("%s %d", unit, t), 1)
		res.Steps[t-1] = rs.phases[t]
		res.StepEnd[t-1] = rs.ends[t]
	}
	label(&rs.phases[rs.n+1], "readout", 1)
	res.Readout = rs.phases[rs.n+1]
	res.Learn = rs.phases[rs.n+2]
	res.Learn.Label = fmt.Sprintf("learning, %s", e.cfg.Dynamics)
	res.Learn.Images = B
	res.Inference = res.Init
	for _, c := range res.Steps {
		res.Inference = res.Inference.Add(c)
	}
	res.Inference = res.Inference.Add(res.Readout)
	res.Inference.Images = B
	res.Inference.Label = fmt.Sprintf("inference, T=%d, %s", rs.n, e.cfg.Dynamics)
	res.Total = res.Inference.Add(res.Learn)
	res.Total.Images = B
	res.Total.Label = fmt.Sprintf("inference and learning, T=%d, %s", rs.n, e.cfg.Dynamics)
	if !e.net.Learn {
		res.Total.Label = res.Inference.Label
	}
	// Times: a phase ends no earlier than the phases before it.
	res.InitEnd = rs.ends[0]
	prev := res.InitEnd
	for t := range res.StepEnd {
		res.StepEnd[t] = max(res.StepEnd[t], prev)
		prev = res.StepEnd[t]
	}
	res.InferenceEnd = max(rs.ends[rs.n+1], prev)
	res.End = max(res.InferenceEnd, rs.ends[rs.n+2])
	for _, p := range e.pops {
		res.End = max(res.End, p.busy)
		res.Actors = append(res.Actors, p.count)
	}
	return nil
}
