package circuit

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/tensor"
)

// Sentinel errors of a run.
var (
	// ErrLost reports an actor, a node or a message that did not arrive
	// within the run's time bound.
	ErrLost = errors.New("circuit: lost")
	// ErrClosed reports use of a closed session.
	ErrClosed = errors.New("circuit: session closed")
)

// DefaultTimeout bounds how long a run waits without progress before it
// fails, naming what is missing.
const DefaultTimeout = 5 * time.Second

type options struct {
	run         string
	task        ngc.Task
	learn       bool
	batch       int
	timeout     time.Duration
	heartbeat   time.Duration
	placement   *Placement
	node        string
	coordinator bool
	seed        uint64
	seedSet     bool
	async       *AsyncConfig
	skipTops    int
	onStep      func(step, steps int)
	onResend    func(batch int)
	delay       func(from, to neuron.Ref) time.Duration
}

// Option configures a session.
type Option func(*options)

// RunID names the run; it is the first token of every subject, so several
// runs can share one NATS server. Default "run".
func RunID(id string) Option { return func(o *options) { o.run = id } }

// Task selects reconstruction (default) or denoising.
func Task(t ngc.Task) Option { return func(o *options) { o.task = t } }

// Learn applies the local update after every mini-batch (reconstruction
// task only, as in training).
func Learn() Option { return func(o *options) { o.learn = true } }

// Batch sets the mini-batch size every map message carries (default the
// config's batch).
func Batch(b int) Option { return func(o *options) { o.batch = b } }

// Timeout bounds how long the coordinator waits without progress (default
// DefaultTimeout) before it fails naming the missing actor, node or message.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Placed runs only the populations the placement gives to node in this
// process (the others run in `ngc worker` processes on the same bus).
func Placed(p *Placement, node string) Option {
	return func(o *options) { o.placement, o.node = p, node }
}

// Worker makes the session host actors only, without a coordinator.
func Worker() Option { return func(o *options) { o.coordinator = false } }

// TopSeed seeds the top states' initial values (default: the config's seed),
// drawn as the batched reference draws them.
func TopSeed(seed uint64) Option { return func(o *options) { o.seed, o.seedSet = seed, true } }

// Delay holds every message from population from for delay(from, to) at
// the receiving population to before it sees it: an injected link latency
// (see LinkDelay), in both modes. In sync mode the result is unchanged and
// only the timing moves. delay must be safe for concurrent use.
// AsyncConfig.Delay, when set, takes precedence in async mode.
func Delay(delay func(from, to neuron.Ref) time.Duration) Option {
	return func(o *options) { o.delay = delay }
}

// SkipTops draws and discards the initial top states of n mini-batches
// before the first one, so that a run resumed after n completed batches
// continues the stream of an uninterrupted run.
func SkipTops(n int) Option { return func(o *options) { o.skipTops = n } }

// StepProgress calls f from RunBatch's goroutine whenever every error map
// has reported a step of the mini-batch in flight (a version, in async
// mode): step runs from 1 to steps.
func StepProgress(f func(step, steps int)) Option { return func(o *options) { o.onStep = f } }

// OnResend calls f from RunBatch's goroutine whenever a synchronous batch
// that stalled for half the timeout starts a resend round (see RunBatch).
func OnResend(f func(batch int)) Option { return func(o *options) { o.onResend = f } }

// Session is a started circuit: the actors this process hosts, subscribed
// on a bus, and (unless Worker) the coordinator that feeds mini-batches and
// gathers outputs and probes.
type Session struct {
	c      *Circuit
	b      bus.Bus
	o      options
	set    *neuron.Settings
	assign map[neuron.Ref]string
	actors []*actor
	subs   []bus.Subscription

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
	failed  chan struct{}

	coord   chan neuron.Msg
	fed     []fedMsg     // the coordinator's messages of the batch in flight
	unsent  atomic.Int64 // messages not sent for a lost connection
	resends atomic.Int64 // resend rounds started
	probes  atomic.Int64 // probes the local error maps published
	ops     atomic.Int64 // synaptic operations of the local populations (neuron.Msg.Ops)
	hbMu    sync.Mutex
	lastHB  map[string]time.Time
	rng     *rand.Rand
	batch   int
	closed  bool
}

type actor struct {
	pop   population
	async asyncPop // nil in sync mode
	inbox chan neuron.Msg
	node  string
	// kept are the messages of the last two tags (batch, step) the actor
	// published, and toCoord those for the coordinator of its latest batch:
	// what a resend round publishes again (see resend).
	kept    []neuron.Msg
	toCoord []neuron.Msg
}

// keep records a published message for a resend round. A synchronous
// actor's buffers still hold its last two steps' values: it cannot move on
// before every receiver of its latest messages has answered.
func (a *actor) keep(m neuron.Msg) {
	switch m.Kind {
	case neuron.KindProbe, neuron.KindOutput, neuron.KindDone:
		if len(a.toCoord) > 0 && a.toCoord[0].Batch != m.Batch {
			a.toCoord = a.toCoord[:0]
		}
		a.toCoord = append(a.toCoord, m)
		return
	}
	t := tag(m.Batch, m.Step)
	if n := len(a.kept); n > 0 && tag(a.kept[n-1].Batch, a.kept[n-1].Step) != t {
		// A new tag: drop every message older than the previous tag.
		prev := tag(a.kept[n-1].Batch, a.kept[n-1].Step)
		i := 0
		for i < n && tag(a.kept[i].Batch, a.kept[i].Step) != prev {
			i++
		}
		a.kept = append(a.kept[:0], a.kept[i:]...)
	}
	a.kept = append(a.kept, m)
}

// Start builds the populations this process hosts, subscribes them on b and
// starts them. With a coordinator (the default) and a placement naming other
// nodes, it waits (within the timeout) until every node has announced
// itself. The bus stays the caller's: Close does not close it.
func Start(ctx context.Context, c *Circuit, b bus.Bus, opts ...Option) (*Session, error) {
	o := options{run: "run", timeout: DefaultTimeout, heartbeat: 200 * time.Millisecond, node: "local", coordinator: true}
	for _, opt := range opts {
		opt(&o)
	}
	if err := bus.ValidToken(o.run); err != nil {
		return nil, fmt.Errorf("circuit: run id: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if o.async != nil && hasBlocks(c.Graph) {
		return nil, fmt.Errorf("%w: an asynchronous run was asked for", ErrBlocks)
	}
	rc, err := c.Config.Resolve()
	if err != nil {
		return nil, err
	}
	if o.batch == 0 {
		o.batch = rc.Batch
	}
	if o.learn && o.task != ngc.Reconstruct {
		return nil, fmt.Errorf("circuit: learning runs the reconstruction task")
	}
	if !o.seedSet {
		o.seed = rc.Seed
	}
	if o.placement == nil {
		o.placement = Local(o.node)
	}
	set, err := c.settings(o.batch, o.task == ngc.Denoise, o.learn)
	if err != nil {
		return nil, err
	}
	if o.async != nil {
		if o.async.Budget == 0 {
			o.async.Budget = rc.Steps
		}
		if o.async.Budget < 1 || o.async.WallClock < 0 || o.async.MaxLag < 0 {
			return nil, fmt.Errorf("circuit: asynchronous budget %d, lag bound %d and wall-clock bound %v must not be negative", o.async.Budget, o.async.MaxLag, o.async.WallClock)
		}
		// Populations fire at their own times: those of a layer share
		// their feedback or prediction product by the messages they hold.
		set.MessageConvs = newMessageConvs()
	} else {
		// The shared patches are keyed by step: only the lock-step
		// dataflow reads identical inputs across maps.
		set.Patches = newPatchCache()
	}
	assign, err := o.placement.Assign(c.Graph)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Session{c: c, b: b, o: o, set: set, assign: assign, ctx: sctx, cancel: cancel,
		failed: make(chan struct{}), lastHB: map[string]time.Time{}, rng: rand.New(rand.NewPCG(o.seed, 1))}
	if err := s.startActors(); err != nil {
		s.Close()
		return nil, err
	}
	if o.coordinator {
		s.skipTops(o.skipTops)
		if err := s.startCoordinator(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Session) startActors() error {
	g := s.c.Graph
	var rt routes
	for _, ref := range Populations(g) {
		if s.assign[ref] != s.o.node {
			continue
		}
		pop, err := s.c.population(ref, s.set)
		if err != nil {
			return err
		}
		a := &actor{pop: pop, inbox: make(chan neuron.Msg, s.inboxLen(ref)), node: s.o.node}
		if s.o.async != nil {
			if a.async, err = s.wrapAsync(pop); err != nil {
				return err
			}
		}
		for _, pat := range s.inputsOf(ref) {
			rt.add(pat, a)
		}
		s.actors = append(s.actors, a)
	}
	if err := s.subscribeRoutes(&rt); err != nil {
		return err
	}
	if len(s.actors) > 0 {
		if err := s.subscribeControl(); err != nil {
			return err
		}
	}
	for _, a := range s.actors {
		s.wg.Add(1)
		if a.async != nil {
			go s.runAsyncActor(a, a.async)
		} else {
			go s.runActor(a)
		}
	}
	if len(s.actors) > 0 {
		s.wg.Add(1)
		go s.heartbeats()
	}
	return nil
}

// subscribeControl subscribes the actors to the coordinator's control
// subjects: the parameter dump, and (sync) the resend and waiting rounds or
// (async) the wall-clock stop.
func (s *Session) subscribeControl() error {
	type control struct {
		subject string
		kind    neuron.Kind
	}
	controls := []control{{".ctl.dump", kindDump}}
	if s.o.async == nil {
		controls = append(controls, control{".ctl.resend", kindResend}, control{".ctl.waiting", kindWaiting})
	} else {
		controls = append(controls, control{".ctl.stop", kindStop})
	}
	for _, c := range controls {
		sub, err := s.b.Subscribe(s.o.run+c.subject, func(_ string, f *bus.Frame) {
			b, _ := untag(f.Step)
			for _, a := range s.actors {
				select {
				case a.inbox <- neuron.Msg{Kind: c.kind, Batch: b}:
				case <-s.ctx.Done():
				}
			}
		}, bus.QueueLen(16))
		if err != nil {
			return fmt.Errorf("circuit: subscribe %s: %w", c.subject, err)
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}

// Inbox lengths. A synchronous actor cannot run more than a step or two
// ahead of the actors it hears from (the dataflow is the barrier), so its
// inbox needs room for a few steps of messages from each input map, plus
// resent frames and control messages; an asynchronous one hears from
// actors that fire at their own pace, and keeps the deep inbox.
const (
	syncInboxPerMap = 8
	syncInboxExtra  = 64
	asyncInboxLen   = 4096
)

// inboxLen is the length of population ref's inbox: a synchronous actor's
// is sized by the number of maps it hears from (every map of every layer
// it reads, a few messages each), so that the subscriptions that deliver
// to it never wait on a full inbox.
func (s *Session) inboxLen(ref neuron.Ref) int {
	if s.o.async != nil {
		return asyncInboxLen
	}
	maps := 0
	for _, pat := range s.inputsOf(ref) {
		maps += s.patternMaps(pat)
	}
	return min(syncInboxPerMap*maps+syncInboxExtra, asyncInboxLen)
}

// queueLen is the length of the queue of the subscription to pattern,
// which forwards its frames to the inboxes of the actors that listen: sized
// as an inbox for the maps the pattern matches.
func (s *Session) queueLen(pattern string) int {
	if s.o.async != nil {
		return asyncInboxLen
	}
	return min(syncInboxPerMap*s.patternMaps(pattern)+syncInboxExtra, asyncInboxLen)
}

// patternMaps is the number of maps an input pattern of inputsOf matches:
// every map of a layer (run.kind.layer.*) or one.
func (s *Session) patternMaps(pattern string) int {
	rest, ok := strings.CutSuffix(pattern, ".*")
	if !ok {
		return 1
	}
	g := s.c.Graph
	l, err := strconv.Atoi(rest[strings.LastIndexByte(rest, '.')+1:])
	if err != nil || l < 0 || l >= len(g.Layers) {
		return 1
	}
	return max(g.Layers[l].Maps, 1)
}

// inputsOf lists the subject patterns population ref listens to.
func (s *Session) inputsOf(ref neuron.Ref) []string {
	g, run := s.c.Graph, s.o.run
	l, i := ref.Layer, ref.Index
	sub := func(kind string, layer int, idx string) string {
		return fmt.Sprintf("%s.%s.%d.%s", run, kind, layer, idx)
	}
	out, isBlock := s.c.blockSubjects(run, ref)
	if isBlock {
		return out
	}
	if ref.Role == neuron.ErrorRole {
		for _, si := range g.Above(l) {
			if g.Synapses[si].Block == nil {
				out = append(out, sub("phi", g.Synapses[si].From, "*"))
			}
		}
		return append(out, sub("z", l, fmt.Sprint(i)))
	}
	switch {
	case g.Layers[l].Image:
		out = append(out, sub("clamp", l, fmt.Sprint(i)))
	case g.Top(l):
		out = append(out, sub("init", l, fmt.Sprint(i)))
	default:
		out = append(out, sub("pred", l, fmt.Sprint(i)))
	}
	if !g.Top(l) && (!g.Layers[l].Image || s.o.task == ngc.Denoise) {
		out = append(out, sub("e", l, fmt.Sprint(i)))
	}
	for _, si := range g.Below(l) {
		if g.Synapses[si].Block != nil {
			continue // blockSubjects
		}
		out = append(out, sub("e", g.Synapses[si].To, "*"))
		if s.o.learn && s.c.tied() {
			out = append(out, sub("w", g.Synapses[si].To, "*"))
		}
	}
	return out
}

func (s *Session) runActor(a *actor) {
	defer s.wg.Done()
	emit := func(m neuron.Msg) error {
		a.keep(m)
		s.countProbe(m)
		return s.publishMsg(m, tag(m.Batch, m.Step))
	}
	ref := a.pop.Ref()
	// With link delays, messages wait in q until due (see Delay).
	var q delayQueue
	seq := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	handle := func(m neuron.Msg) error {
		if err := a.pop.Handle(m, emit); err != nil {
			return fmt.Errorf("circuit: %v: %w", ref, err)
		}
		return nil
	}
	for {
		var err error
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		case m := <-a.inbox:
			switch m.Kind {
			case kindDump:
				err = s.dump(a)
			case kindResend:
				err = s.resend(a)
			case kindWaiting:
				err = s.sayWaiting(a)
			default:
				if d := s.linkDelay(m.From, ref); d > 0 {
					seq++
					heap.Push(&q, delayed{due: time.Now().Add(d), seq: seq, m: m})
				} else {
					err = handle(m)
				}
			}
		}
		for now := time.Now(); err == nil && q.Len() > 0 && !q[0].due.After(now); {
			err = handle(heap.Pop(&q).(delayed).m)
		}
		if err != nil {
			s.fail(err)
			return
		}
		if q.Len() > 0 {
			timer.Reset(time.Until(q[0].due))
		}
	}
}

// linkDelay is the injected latency of the link from → to (0 without one).
func (s *Session) linkDelay(from, to neuron.Ref) time.Duration {
	if s.o.delay == nil {
		return 0
	}
	return s.o.delay(from, to)
}

// publish sends one message on its subject. A message the bus could not
// send because its connection is down is counted, not fatal: the
// coordinator's resend round repairs it once the connection is back.
func (s *Session) publish(k neuron.Kind, ref neuron.Ref, sender string, batch, step int, data []float32) error {
	return s.publishTagged(k, ref, sender, tag(batch, step), data)
}

func (s *Session) publishTagged(k neuron.Kind, ref neuron.Ref, sender string, t uint64, data []float32) error {
	return s.publishFrame(k, ref, &bus.Frame{Run: s.o.run, Sender: sender, Kind: busKind(k), Step: t, Shape: []int{len(data)}, Payload: data})
}

// publishMsg publishes a population's message with tag t, as a delta frame
// when it carries a sigma-delta payload, and counts its synaptic
// operations.
func (s *Session) publishMsg(m neuron.Msg, t uint64) error {
	s.ops.Add(m.Ops)
	if m.Delta == nil {
		return s.publishTagged(m.Kind, m.From, m.From.String(), t, m.Data)
	}
	f := &bus.Frame{Run: s.o.run, Sender: m.From.String(), Kind: busKind(m.Kind), Step: t, Shape: []int{m.Delta.N},
		Payload: m.Delta.Value, Delta: &bus.Delta{Seq: m.Delta.Seq, Reset: m.Delta.Reset, Sparse: m.Delta.Sparse, Index: m.Delta.Index}}
	return s.publishFrame(m.Kind, m.From, f)
}

// publishFrame sends f on the subject of kind k about map ref.
func (s *Session) publishFrame(k neuron.Kind, ref neuron.Ref, f *bus.Frame) error {
	if err := s.b.Publish(s.ctx, subjectOf(s.o.run, k, ref), f); err != nil {
		if errors.Is(err, bus.ErrDisconnected) && s.o.async == nil {
			s.unsent.Add(1)
			return nil
		}
		return fmt.Errorf("circuit: %s publishes %v: %w", f.Sender, k, err)
	}
	return nil
}

// resend publishes again, marked as resent, what the actor kept (its
// synaptic operations were counted the first time).
func (s *Session) resend(a *actor) error {
	for _, list := range [][]neuron.Msg{a.kept, a.toCoord} {
		for _, m := range list {
			m.Ops = 0
			if err := s.publishMsg(m, tagResent(m.Batch, m.Step)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sayWaiting tells the coordinator what the actor waits for: its batch and
// step, then (kind, role | stage<<8, layer, map) of every missing input,
// as uint32 bits in float32s.
func (s *Session) sayWaiting(a *actor) error {
	b, t, missing := a.pop.Waiting()
	u := func(v int) float32 { return math.Float32frombits(uint32(v)) }
	data := []float32{u(b), u(t)}
	for _, w := range missing[:min(len(missing), maxWaits)] {
		data = append(data, u(int(w.Kind)), u(int(w.From.Role)|w.From.Stage<<8), u(w.From.Layer), u(w.From.Index))
	}
	ref := a.pop.Ref()
	return s.publish(kindWaiting, ref, ref.String(), b, t, data)
}

// maxWaits bounds the inputs one actor lists in its answer.
const maxWaits = 64

// dump publishes the parameters an actor holds (see held): an error map's
// kernels (all dendrites) and bias; a state map's untied error kernels. With
// Adam the same values' first moments, then their second moments, then the
// step count follow (its bits as a uint32, carried in a float32's bits).
func (s *Session) dump(a *actor) error {
	ref := a.pop.Ref()
	data, opts := held(a.pop, s.c.tied())
	if data == nil {
		return nil
	}
	if moments, steps, ok := adamMoments(opts); ok {
		data = append(append(data, moments...), math.Float32frombits(uint32(steps)))
	}
	return s.publish(kindDump, ref, ref.String(), 0, 0, data)
}

func (s *Session) heartbeats() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.heartbeat)
	defer t.Stop()
	subject := s.o.run + ".ctl.hb." + s.o.node
	for {
		f := &bus.Frame{Run: s.o.run, Sender: s.o.node, Kind: bus.KindControl, Shape: []int{0}}
		if err := s.b.Publish(s.ctx, subject, f); err != nil && s.ctx.Err() == nil && !errors.Is(err, bus.ErrClosed) && !errors.Is(err, bus.ErrDisconnected) {
			s.fail(fmt.Errorf("circuit: node %s heartbeat: %w", s.o.node, err))
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fail records the first fatal error and stops the actors.
func (s *Session) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		close(s.failed)
	})
}

// Err returns the error that stopped the session's actors, if any.
func (s *Session) Err() error {
	select {
	case <-s.failed:
		return s.err
	default:
		return nil
	}
}

// Close stops the actors and drops the subscriptions. It does not close the bus.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// Wait blocks until the session fails or ctx ends (for workers).
func (s *Session) Wait(ctx context.Context) error {
	select {
	case <-s.failed:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// countProbe counts a local error map's probe: one per step it computed.
func (s *Session) countProbe(m neuron.Msg) {
	if m.Kind == neuron.KindProbe {
		s.probes.Add(1)
	}
}

// Steps returns how many steps this process's error maps have computed,
// averaged over them (each computes one error per step in sync mode, one
// per firing in async mode), and how many error maps it hosts. A rate of
// it is the node's steps per second.
func (s *Session) Steps() (steps float64, errorMaps int) {
	for _, a := range s.actors {
		if a.pop.Ref().Role == neuron.ErrorRole {
			errorMaps++
		}
	}
	if errorMaps == 0 {
		return 0, 0
	}
	return float64(s.probes.Load()) / float64(errorMaps), errorMaps
}

// SynapticOps returns the synaptic operations (multiply-accumulates of
// predictions and feedback, summed over the mini-batch's images) this
// process's populations have made: whole convolutions under the dense
// encoding, the changes' taps when sigma-delta receivers update their sums
// incrementally.
func (s *Session) SynapticOps() int64 { return s.ops.Load() }

// Heartbeats returns when the coordinator last heard each node's
// heartbeat (empty for a worker session).
func (s *Session) Heartbeats() map[string]time.Time {
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	out := make(map[string]time.Time, len(s.lastHB))
	for n, t := range s.lastHB {
		out[n] = t
	}
	return out
}

// Actors lists the populations hosted by this session.
func (s *Session) Actors() []neuron.Ref {
	out := make([]neuron.Ref, len(s.actors))
	for i, a := range s.actors {
		out[i] = a.pop.Ref()
	}
	return out
}

// --- coordinator ---

func (s *Session) startCoordinator(ctx context.Context) error {
	s.coord = make(chan neuron.Msg, 1<<14)
	for _, kind := range []string{"out", "probe", "done", "dump", "stats", "waiting"} {
		sub, err := s.b.Subscribe(s.o.run+"."+kind+".>", func(subject string, f *bus.Frame) {
			k, ref, err := parseSubject(subject)
			if err != nil {
				s.fail(err)
				return
			}
			b, t := untag(f.Step)
			select {
			case s.coord <- neuron.Msg{Kind: k, From: ref, Batch: b, Step: t, Data: f.Payload, Resent: resent(f.Step)}:
			case <-s.ctx.Done():
			}
		}, bus.QueueLen(1<<14))
		if err != nil {
			return fmt.Errorf("circuit: coordinator: %w", err)
		}
		s.subs = append(s.subs, sub)
	}
	sub, err := s.b.Subscribe(s.o.run+".ctl.hb.*", func(subject string, f *bus.Frame) {
		s.hbMu.Lock()
		s.lastHB[f.Sender] = time.Now()
		s.hbMu.Unlock()
	}, bus.QueueLen(1024))
	if err != nil {
		return fmt.Errorf("circuit: coordinator: %w", err)
	}
	s.subs = append(s.subs, sub)
	// Wait for every node that hosts populations to announce itself.
	deadline := time.Now().Add(s.o.timeout)
	for {
		missing := s.silentNodes(time.Now().Add(-s.o.timeout), true)
		if len(missing) == 0 {
			return s.b.Flush(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: node %s did not join run %q within %v", ErrLost, strings.Join(missing, ", "), s.o.run, s.o.timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.failed:
			return s.err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// silentNodes lists the nodes hosting populations whose last heartbeat is
// older than since (or missing).
func (s *Session) silentNodes(since time.Time, _ bool) []string {
	hosts := map[string]bool{}
	for _, n := range s.assign {
		hosts[n] = true
	}
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	var out []string
	for n := range hosts {
		if last, ok := s.lastHB[n]; !ok || last.Before(since) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Result is what the coordinator gathers for one mini-batch.
type Result struct {
	// Output is the prediction x̂ of the image layer after the last step,
	// image-major [B][C][H][W].
	Output []float32
	// Energy[t][l] is ½‖e[l]‖² per image of layer l (summed over its error
	// maps, averaged over the batch) at step t+1, t = 0..T; the last entry
	// is the final prediction's. Layers without error maps stay 0.
	Energy [][]float64
	// Params are the parameters after the batch when learning, gathered
	// from the actors (nil otherwise; see Session.Params).
	Params *Params
	// Async reports staleness, per-actor counts and the energy timeline of
	// an asynchronous batch (nil in sync mode). In async mode Energy has
	// Budget+1 entries indexed by version, each map's energy carried
	// forward over the versions it skipped.
	Async *AsyncReport
}

// Trace converts the energies to the batched reference's Trace.
func (r *Result) Trace() ngc.Trace {
	var tr ngc.Trace
	n := len(r.Energy)
	for t := 0; t < n-1; t++ {
		tr.Steps = append(tr.Steps, r.Energy[t])
	}
	if n > 0 {
		tr.Final = r.Energy[n-1]
	}
	return tr
}

func (s *Session) imageLayer() (int, error) {
	img := -1
	for l, ly := range s.c.Graph.Layers {
		if ly.Image {
			if img >= 0 {
				return 0, fmt.Errorf("circuit: the coordinator feeds one image layer, the graph has several")
			}
			img = l
		}
	}
	return img, nil
}

// RunBatch feeds one mini-batch (image-major [B][C][H][W], values in [0,1])
// through the actors and gathers the prediction and the energies. It fails
// with ErrLost, naming what is missing, when the run makes no progress for
// the session's timeout, and with the actor's error when one fails.
func (s *Session) RunBatch(ctx context.Context, x []float32) (*Result, error) {
	if !s.o.coordinator {
		return nil, fmt.Errorf("circuit: a worker session has no coordinator")
	}
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	g := s.c.Graph
	img, err := s.imageLayer()
	if err != nil {
		return nil, err
	}
	B := s.o.batch
	iy := g.Layers[img]
	plane := iy.Size * iy.Size
	if len(x) != B*iy.Maps*plane {
		return nil, fmt.Errorf("circuit: batch has %d floats, want %d (%d images of %d×%d×%d)", len(x), B*iy.Maps*plane, B, iy.Maps, iy.Size, iy.Size)
	}
	batch := s.batch
	s.batch++
	if err := s.feed(img, x, batch); err != nil {
		return nil, err
	}
	if s.o.async != nil {
		return s.collectAsync(ctx, batch, img, len(x))
	}
	return s.collectSync(ctx, batch, img, len(x))
}

// feed publishes the clamped input and the top layers' initial states.
func (s *Session) feed(img int, x []float32, batch int) error {
	g := s.c.Graph
	B := s.o.batch
	iy := g.Layers[img]
	plane := iy.Size * iy.Size
	mm := make([]float32, len(x))
	tensor.ToMapMajor(mm, x, B, iy.Maps, plane)
	s.fed = s.fed[:0]
	for l, ly := range g.Layers {
		if !g.Top(l) || ly.Image {
			continue
		}
		for i := 0; i < ly.Maps; i++ {
			z := s.topValues(B * ly.Size * ly.Size)
			ref := neuron.Ref{Role: neuron.StateRole, Layer: l, Index: i}
			s.fed = append(s.fed, fedMsg{neuron.KindInit, ref, batch, z})
			if err := s.publish(neuron.KindInit, ref, "coordinator", batch, 0, z); err != nil {
				return err
			}
		}
	}
	for c := 0; c < iy.Maps; c++ {
		ref := neuron.Ref{Role: neuron.StateRole, Layer: img, Index: c}
		x := mm[c*B*plane : (c+1)*B*plane]
		s.fed = append(s.fed, fedMsg{neuron.KindClamp, ref, batch, x})
		if err := s.publish(neuron.KindClamp, ref, "coordinator", batch, 0, x); err != nil {
			return err
		}
	}
	return nil
}

// topValues draws the initial values of one top map of a mini-batch, as
// the batched reference draws them.
func (s *Session) topValues(n int) []float32 {
	rc, _ := s.c.Config.Resolve()
	mu, sd := *rc.TopMean, *rc.TopStd
	z := make([]float32, n)
	for k := range z {
		if sd == 0 {
			z[k] = float32(mu)
		} else {
			z[k] = float32(mu + sd*s.rng.NormFloat64())
		}
	}
	return z
}

// skipTops discards the top states of n mini-batches (see SkipTops).
func (s *Session) skipTops(n int) {
	g := s.c.Graph
	for range n {
		for l, ly := range g.Layers {
			if g.Top(l) && !ly.Image {
				for range ly.Maps {
					s.topValues(s.o.batch * ly.Size * ly.Size)
				}
			}
		}
	}
}

// stalled explains a run that made no progress for the timeout.
func (s *Session) stalled(batch int, errMaps []neuron.Ref, lastProbe map[neuron.Ref]int, gotOut map[int]bool, outs int, learners []neuron.Ref, done map[neuron.Ref]bool) error {
	if lost := s.silentNodes(time.Now().Add(-s.o.timeout), false); len(lost) > 0 {
		return s.lostNodes(lost)
	}
	best := 0
	for _, st := range lastProbe {
		best = max(best, st)
	}
	var behind []string
	for _, r := range errMaps {
		if lastProbe[r] < best || best == 0 {
			behind = append(behind, fmt.Sprintf("%v (at step %d, on node %s)", r, lastProbe[r], s.assign[r]))
		}
	}
	if len(behind) == 0 && len(gotOut) < outs {
		for c := 0; c < outs; c++ {
			if !gotOut[c] {
				behind = append(behind, fmt.Sprintf("output of image map %d", c))
			}
		}
	}
	if len(behind) == 0 {
		for _, r := range learners {
			if !done[r] {
				behind = append(behind, fmt.Sprintf("%v (learning, on node %s)", r, s.assign[r]))
			}
		}
	}
	if len(behind) > 8 {
		behind = append(behind[:8], fmt.Sprintf("and %d more", len(behind)-8))
	}
	return fmt.Errorf("%w: batch %d made no progress for %v; waiting on %s", ErrLost, batch, s.o.timeout, strings.Join(behind, ", "))
}

func (s *Session) lostNodes(nodes []string) error {
	var hosted []string
	for _, n := range nodes {
		c := 0
		for _, m := range s.assign {
			if m == n {
				c++
			}
		}
		hosted = append(hosted, fmt.Sprintf("%s (%d actors)", n, c))
	}
	if !s.connected() {
		// The coordinator's own connection is down: the nodes are not to
		// blame for what it cannot hear.
		return fmt.Errorf("%w: the coordinator's connection to the bus is down; no heartbeat from node %s for %v", ErrLost, strings.Join(hosted, ", "), s.o.timeout)
	}
	return fmt.Errorf("%w: node %s sent no heartbeat for %v", ErrLost, strings.Join(hosted, ", "), s.o.timeout)
}

// Params gathers the current parameters from every actor (through the bus,
// so remote workers answer too), with the actors' Adam state when they use
// Adam (Params.Adam; nil with the normalised optimiser). Call it between
// batches.
func (s *Session) Params(ctx context.Context) (*Params, error) {
	if !s.o.coordinator {
		return nil, fmt.Errorf("circuit: a worker session has no coordinator")
	}
	p, want := s.c.zeroParams(), s.c.holders()
	p.Adam = newAdamState(p)
	p.Adam.Steps = -1 // not known until the first dump with moments
	withAdam := 0     // actors that sent their Adam moments
	if err := s.b.Publish(ctx, s.o.run+".ctl.dump", &bus.Frame{Run: s.o.run, Sender: "coordinator", Kind: bus.KindControl, Shape: []int{0}}); err != nil {
		return nil, fmt.Errorf("circuit: request parameters: %w", err)
	}
	timer := time.NewTimer(s.o.timeout)
	defer timer.Stop()
	for got := 0; got < want; {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.failed:
			return nil, s.err
		case <-timer.C:
			return nil, fmt.Errorf("%w: %d of %d actors did not send their parameters within %v", ErrLost, want-got, want, s.o.timeout)
		case m := <-s.coord:
			if m.Kind != kindDump {
				return nil, fmt.Errorf("%w: coordinator got %v from %v while gathering parameters", neuron.ErrProtocol, m.Kind, m.From)
			}
			moments, err := s.c.scatter(p, m.From, m.Data)
			if err != nil {
				return nil, err
			}
			if moments {
				withAdam++
			}
			got++
		}
	}
	switch withAdam {
	case want:
	case 0:
		p.Adam = nil // no actor uses Adam
	default:
		return nil, fmt.Errorf("%w: %d of %d actors sent their Adam state (a worker of another ngc build?)", neuron.ErrProtocol, withAdam, want)
	}
	return p, nil
}

// scatter puts one actor's dumped parameters (and, when it sent them and
// p.Adam is set, its Adam moments) into whole-layer form; moments reports
// whether the dump carried Adam moments.
func (c *Circuit) scatter(p *Params, ref neuron.Ref, data []float32) (moments bool, err error) {
	shs := c.ownShares(ref)
	if len(shs) == 0 {
		return false, fmt.Errorf("%w: %v sent parameters, but holds none of its own", neuron.ErrProtocol, ref)
	}
	total := sharesLen(shs)
	switch len(data) {
	case total:
	case 3*total + 1:
		moments = true
		if a := p.Adam; a != nil {
			steps := int(math.Float32bits(data[3*total]))
			if a.Steps >= 0 && steps != a.Steps {
				return false, fmt.Errorf("%w: %v has taken %d optimiser steps, another actor %d", neuron.ErrProtocol, ref, steps, a.Steps)
			}
			a.Steps = steps
			placeShares(shs, func(sh share) []float32 { m, _ := sh.moments(a); return m }, data[total:2*total])
			placeShares(shs, func(sh share) []float32 { _, v := sh.moments(a); return v }, data[2*total:3*total])
		}
	default:
		return false, fmt.Errorf("%w: %v sent %d values, want %d parameters (or %d with Adam's moments)", neuron.ErrProtocol, ref, len(data), total, 3*total+1)
	}
	placeShares(shs, func(sh share) []float32 { return sh.of(p) }, data[:total])
	return moments, nil
}
