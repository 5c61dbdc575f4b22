package deploy

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// Option configures Run or Work, in the style of nats.go's options. Each
// option says which of the two it applies to; the other ignores it.
type Option func(*config)

type config struct {
	bus         bus.Bus
	run         string
	node        string
	placement   *circuit.Placement
	mode        string
	async       AsyncSettings
	encoding    neuron.Encoding
	val         *data.Set
	valEvery    int
	task        ngc.Task
	noiseStd    float64
	clip        bool
	learn       bool
	epochs      int
	batch       int
	seed        uint64
	timeout     time.Duration
	joinTimeout time.Duration
	log         *slog.Logger
	progress    func(Progress)
	journal     string
	resume      bool
	metrics     *Metrics
	remind      time.Duration // JoinReminder, shorter in tests
}

func newConfig(opts []Option) *config {
	c := &config{run: "run", node: "coordinator", mode: ModeSync, noiseStd: 0.1, clip: true, epochs: 1, seed: 1,
		timeout: circuit.DefaultTimeout, remind: JoinReminder}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// DefaultJoinTimeout bounds how long Run waits for the placement's workers
// to join.
const DefaultJoinTimeout = 2 * time.Minute

// WithBus runs over b (Run and Work). Run defaults to a private in-process
// bus, which reaches no other process; a placement with nodes in other
// processes needs a *bus.NATS. The bus stays the caller's: Run and Work do
// not close it.
func WithBus(b bus.Bus) Option { return func(c *config) { c.bus = b } }

// WithRunID names the run (Run; default "run"): the first token of every
// subject, shared with the workers, so several runs can share a server.
func WithRunID(id string) Option { return func(c *config) { c.run = id } }

// WithNode names the coordinator's node (Run; default "coordinator"): it
// hosts the populations the placement gives that node.
func WithNode(name string) Option { return func(c *config) { c.node = name } }

// WithPlacement assigns the populations to nodes (Run; default: all on the
// coordinator's node). The other nodes are hosted by Work.
func WithPlacement(p *circuit.Placement) Option { return func(c *config) { c.placement = p } }

// WithAsync runs the actors asynchronously with the given settings (Run;
// default: the synchronous, step-tagged dataflow).
func WithAsync(a AsyncSettings) Option {
	return func(c *config) { c.mode, c.async = ModeAsync, a }
}

// WithEncoding sends the populations' map messages with enc (Run, and
// Work through the manifest; default dense): sigma-delta sends only the
// units that moved by more than a threshold, and receivers update their
// sums by the changes (see neuron.Encoding).
func WithEncoding(enc neuron.Encoding) Option { return func(c *config) { c.encoding = enc } }

// WithValidation measures, when learning, the model the actors hold on the
// images of set (reconstruction by the batched reference, which the sync
// actors reproduce): before the first mini-batch, after every every-th
// and after the last (Run). Report.Curve records each measurement with the
// training done so far, so that configurations can be compared at equal
// image-updates, messages or wall time.
func WithValidation(set *data.Set, every int) Option {
	return func(c *config) { c.val, c.valEvery = set, every }
}

// WithLinkDelay injects a link latency in sync mode (Run): every message
// waits d plus a fixed share of jitter, drawn per link from the run's seed,
// at its receiver. The result does not change, only the timing. In async
// mode use AsyncSettings.Delay.
func WithLinkDelay(d, jitter time.Duration) Option {
	return func(c *config) { c.async.Delay, c.async.DelayJitter = d, jitter }
}

// WithDenoise runs the denoising task (Run; default: reconstruction): every
// image gets N(0, std²) noise on [0,1] pixels, clipped to [0,1] when clip.
func WithDenoise(std float64, clip bool) Option {
	return func(c *config) { c.task, c.noiseStd, c.clip = ngc.Denoise, std, clip }
}

// WithLearning trains while running (Run): the local update after every
// mini-batch, over epochs passes of the images in order, the last partial
// mini-batch skipped. Each batch's reconstruction is measured before its
// update. Report.Model holds the trained model.
func WithLearning(epochs int) Option { return func(c *config) { c.learn, c.epochs = true, epochs } }

// WithBatch sets the mini-batch size (Run; default the model's, at most the
// number of images).
func WithBatch(n int) Option { return func(c *config) { c.batch = n } }

// WithSeed seeds the denoising noise and the initial top states (Run;
// default 1), drawn as `ngc eval` draws them.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithTimeout fails the run when it makes no progress or a node is silent
// for d (Run, and Work through the manifest; default circuit.DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithJoinTimeout bounds the wait for workers to join (Run; default
// DefaultJoinTimeout) or for a coordinator to serve the run (Work; default:
// until the context ends).
func WithJoinTimeout(d time.Duration) Option { return func(c *config) { c.joinTimeout = d } }

// WithLogger sends events to l (Run and Work; default: discarded).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithProgress calls f after every step of every mini-batch and after every
// mini-batch (Run), from Run's goroutine.
func WithProgress(f func(Progress)) Option { return func(c *config) { c.progress = f } }

// WithJournal records the run in directory dir (Run): after every
// mini-batch, atomically, its outputs, energies and counters and, when
// learning, the parameters and Adam state.
func WithJournal(dir string) Option { return func(c *config) { c.journal = dir } }

// WithResume continues the run recorded by WithJournal's directory from its
// last completed mini-batch (Run). The other options must describe the same
// run (model, images, batch, task, mode, seed); ErrJournal otherwise.
func WithResume() Option { return func(c *config) { c.resume = true } }

// WithMetrics keeps m's Prometheus collectors current (Run and Work).
func WithMetrics(m *Metrics) Option { return func(c *config) { c.metrics = m } }

// Progress is how far a run has come.
type Progress struct {
	// Batch is the mini-batch in flight (1-based), Batches the run's total.
	Batch, Batches int
	// Step is the step of the batch in flight whose every error map has
	// reported (its version in async mode), Steps the window's T.
	Step, Steps int
	// Done is set once the batch is complete; Images and ImagesPerSecond
	// then count the batches completed so far, Energy is the batch's final
	// total discrepancy per image.
	Done            bool
	Images          int
	ImagesPerSecond float64
	Energy          float64
}

// Status is the progress as the mini-batches done and a line saying where
// the run is: "batch k/K step t/T" while batch k runs, "batch k/K energy E
// N img/s" once it is done.
func (p Progress) Status() (done int, line string) {
	if p.Done {
		return p.Batch, fmt.Sprintf("batch %d/%d energy %.1f %.0f img/s", p.Batch, p.Batches, p.Energy, p.ImagesPerSecond)
	}
	return p.Batch - 1, fmt.Sprintf("batch %d/%d step %d/%d", p.Batch, p.Batches, p.Step, p.Steps)
}
