package circuit

import (
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// AsyncConfig configures the asynchronous mode: actors fire on arrival,
// using the latest value from each sender (see neuron.AsyncStatePop).
type AsyncConfig struct {
	// Budget is the number of corrections every state map makes per
	// mini-batch (0: the config's T).
	Budget int
	// MaxLag, when positive, bounds staleness: a state map corrects only
	// with inputs at most MaxLag versions old, waiting for fresher ones
	// otherwise (stale-synchronous). 0: fire on any arrival.
	MaxLag int
	// WallClock ends a mini-batch's corrections after this long: every state
	// map then announces its current state as final (0: no bound).
	WallClock time.Duration
	// FireOnArrival makes state maps correct on any arrival (the original
	// rule, neuron.FireOnArrival) instead of when their own error advances
	// (neuron.FireOnOwnError, the default: over a network, where arrivals
	// trickle in one by one, the original rule runs every map at the
	// staleness bound).
	FireOnArrival bool
	// Delay, when set, holds every message from population `from` for
	// Delay(from, to) at the receiving population `to` before it sees it.
	// It must be safe for concurrent use.
	Delay func(from, to neuron.Ref) time.Duration
}

// Async runs the session's actors asynchronously.
func Async(cfg AsyncConfig) Option {
	return func(o *options) { c := cfg; o.async = &c }
}

// LinkDelay returns a per-link delay for AsyncConfig.Delay: every link
// (sender, receiver) gets a fixed delay drawn uniformly from
// [base, base+jitter] by a hash of the link and the seed, so the same seed
// gives the same delays on every node and in every run.
func LinkDelay(base, jitter time.Duration, seed uint64) func(from, to neuron.Ref) time.Duration {
	return func(from, to neuron.Ref) time.Duration {
		if jitter <= 0 {
			return base
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%d|%v|%v", seed, from, to)
		// FNV mixes its last bytes into the low bits only: finish with the
		// splitmix64 mixer before taking the high bits.
		x := h.Sum64()
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		u := float64(x>>11) / (1 << 53)
		return base + time.Duration(u*float64(jitter))
	}
}

// ActorStats are one actor's counts for one asynchronous mini-batch.
type ActorStats struct {
	Ref      neuron.Ref `json:"-"`
	Actor    string     `json:"actor"`
	Node     string     `json:"node"`
	Updates  int        `json:"updates"`  // corrections (state) or error computations (error)
	Received int        `json:"received"` // input messages
	Dropped  int        `json:"dropped"`  // inputs that arrived too late to be used
	Sent     int        `json:"sent"`     // messages published
	Bytes    int64      `json:"bytes"`    // payload bytes published
	MeanLag  float64    `json:"mean_lag"` // mean version lag of the inputs it used
	MaxLag   int        `json:"max_lag"`  // largest version lag of the inputs it used
}

// EnergySample is the total discrepancy (per image, summed over layers, from
// the latest probe of every error map) at one moment of an asynchronous run.
type EnergySample struct {
	Seconds float64 `json:"seconds"`
	Energy  float64 `json:"energy"`
}

// AsyncReport is what the coordinator gathers about an asynchronous
// mini-batch beyond outputs and energies.
type AsyncReport struct {
	// Budget is the corrections per state map, MaxLag the staleness bound
	// (0: none); Stopped tells whether the
	// wall-clock bound ended the window before every budget was spent.
	Budget  int  `json:"budget"`
	MaxLag  int  `json:"max_lag"`
	Stopped bool `json:"stopped"`
	// Seconds is the wall time from feeding the batch to the last report.
	Seconds float64 `json:"seconds"`
	// StateLag[k] counts the inputs state maps corrected with that were k
	// versions old (0: as fresh as lock-step); ErrorLag[k] counts the inputs
	// error maps combined that were k versions behind the freshest one.
	StateLag map[int]int `json:"state_lag"`
	ErrorLag map[int]int `json:"error_lag"`
	// Actors are the per-actor counts, sorted by name.
	Actors []ActorStats `json:"actors"`
	// Timeline is the total discrepancy over wall time.
	Timeline []EnergySample `json:"timeline"`
}

// Messages returns the messages and payload bytes all actors sent.
func (r *AsyncReport) Messages() (msgs int, bytes int64) {
	for _, a := range r.Actors {
		msgs += a.Sent
		bytes += a.Bytes
	}
	return msgs, bytes
}

// LagSummary returns the mean and the maximum of a lag histogram.
func LagSummary(h map[int]int) (mean float64, maxLag int) {
	n := 0
	for l, c := range h {
		mean += float64(l * c)
		n += c
		maxLag = max(maxLag, l)
	}
	if n > 0 {
		mean /= float64(n)
	}
	return mean, maxLag
}

// asyncPop is what the asynchronous runner drives.
type asyncPop interface {
	Ref() neuron.Ref
	Offer(neuron.Msg) error
	Fire(neuron.Emit) (bool, error)
	Finished() (int, neuron.AsyncStats)
}

func (s *Session) wrapAsync(pop population) (asyncPop, error) {
	budget := s.o.async.Budget
	switch p := pop.(type) {
	case *neuron.StatePop:
		a, err := neuron.NewAsyncStatePop(p, budget, s.o.async.MaxLag)
		if err == nil && !s.o.async.FireOnArrival {
			a.SetFireRule(neuron.FireOnOwnError)
		}
		return a, err
	case *neuron.ErrorPop:
		return neuron.NewAsyncErrorPop(p, budget)
	}
	return nil, fmt.Errorf("circuit: %v cannot run asynchronously", pop.Ref())
}

// delayed is a message held back until its due time.
type delayed struct {
	due time.Time
	seq int
	m   neuron.Msg
}

type delayQueue []delayed

func (q delayQueue) Len() int { return len(q) }
func (q delayQueue) Less(i, j int) bool {
	if q[i].due.Equal(q[j].due) {
		return q[i].seq < q[j].seq
	}
	return q[i].due.Before(q[j].due)
}
func (q delayQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *delayQueue) Push(x any)   { *q = append(*q, x.(delayed)) }
func (q *delayQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// runAsyncActor is the goroutine of one asynchronous population: it takes
// every message waiting in its inbox (after its link delay, if any), then
// fires once, and repeats; at the end of each mini-batch it reports its
// counts to the coordinator.
func (s *Session) runAsyncActor(a *actor, ap asyncPop) {
	defer s.wg.Done()
	ref := ap.Ref()
	var sent int
	var bytes int64
	emit := func(m neuron.Msg) error {
		sent++
		bytes += int64(m.PayloadBytes())
		s.countProbe(m)
		return s.publishMsg(m, tag(m.Batch, m.Step))
	}
	var q delayQueue
	seq := 0
	delay := s.o.async.Delay
	if delay == nil {
		delay = s.o.delay
	}
	reported := 0
	handle := func(m neuron.Msg) error {
		switch m.Kind {
		case kindDump:
			return s.dump(a)
		case kindStop:
			if sp, ok := ap.(*neuron.AsyncStatePop); ok {
				return sp.Stop(m.Batch, emit)
			}
			return nil
		}
		if delay != nil {
			if d := delay(m.From, ref); d > 0 {
				seq++
				heap.Push(&q, delayed{due: time.Now().Add(d), seq: seq, m: m})
				return nil
			}
		}
		return ap.Offer(m)
	}
	fire := func() error {
		for {
			fired, err := ap.Fire(emit)
			if err != nil {
				return err
			}
			if n, st := ap.Finished(); n > reported {
				reported = n
				if err := s.publishStats(ref, n-1, st, sent, bytes); err != nil {
					return err
				}
				sent, bytes = 0, 0
			}
			if !fired {
				return nil
			}
		}
	}
	var timer *time.Timer
	var timerC <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case m := <-a.inbox:
			if err := handle(m); err != nil {
				s.fail(fmt.Errorf("circuit: %v: %w", ref, err))
				return
			}
		drain:
			for {
				select {
				case m := <-a.inbox:
					if err := handle(m); err != nil {
						s.fail(fmt.Errorf("circuit: %v: %w", ref, err))
						return
					}
				default:
					break drain
				}
			}
		case <-timerC:
			timerC = nil
		}
		now := time.Now()
		for q.Len() > 0 && !q[0].due.After(now) {
			if err := ap.Offer(heap.Pop(&q).(delayed).m); err != nil {
				s.fail(fmt.Errorf("circuit: %v: %w", ref, err))
				return
			}
		}
		if err := fire(); err != nil {
			s.fail(fmt.Errorf("circuit: %v: %w", ref, err))
			return
		}
		if q.Len() > 0 && timerC == nil {
			d := time.Until(q[0].due)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			timerC = timer.C
		}
	}
}

// Stats payload: counts as uint32 bit patterns (exact in a float32 frame),
// then (lag, count) pairs.
func (s *Session) publishStats(ref neuron.Ref, batch int, st neuron.AsyncStats, sent int, bytes int64) error {
	u := func(v int64) float32 { return math.Float32frombits(uint32(v)) }
	data := []float32{u(int64(st.Updates)), u(int64(st.Received)), u(int64(st.Dropped)), u(int64(sent)), u(bytes & 0xffffffff), u(bytes >> 32)}
	for _, p := range st.Lags() {
		data = append(data, u(int64(p[0])), u(int64(p[1])))
	}
	return s.publish(kindStats, ref, ref.String(), batch, 0, data)
}

func decodeStats(ref neuron.Ref, node string, data []float32) (ActorStats, [][2]int, error) {
	if len(data) < 6 || len(data)%2 != 0 {
		return ActorStats{}, nil, fmt.Errorf("%w: %v sent %d statistics values", neuron.ErrProtocol, ref, len(data))
	}
	u := func(i int) int64 { return int64(math.Float32bits(data[i])) }
	st := ActorStats{Ref: ref, Actor: ref.String(), Node: node, Updates: int(u(0)), Received: int(u(1)), Dropped: int(u(2)),
		Sent: int(u(3)), Bytes: u(4) | u(5)<<32}
	var lags [][2]int
	h := map[int]int{}
	for i := 6; i < len(data); i += 2 {
		l, n := int(int32(u(i))), int(u(i+1))
		lags = append(lags, [2]int{l, n})
		h[l] += n
	}
	st.MeanLag, st.MaxLag = LagSummary(h)
	return st, lags, nil
}

// collectAsync gathers an asynchronous mini-batch: the final probe (version
// Budget+1) of every error map, the image outputs, the learners' Done and
// every actor's statistics. It publishes the stop control when the
// wall-clock bound passes, and fails like RunBatch when nothing happens for
// the timeout.
func (s *Session) collectAsync(ctx context.Context, batch int, img int, nOut int) (*Result, error) {
	g := s.c.Graph
	B := s.o.batch
	U := s.o.async.Budget
	iy := g.Layers[img]
	plane := iy.Size * iy.Size
	start := time.Now()
	var errMaps, learners []neuron.Ref
	all := Populations(g)
	for _, ref := range all {
		if ref.Role == neuron.ErrorRole {
			errMaps = append(errMaps, ref)
			learners = append(learners, ref)
		} else if len(g.Below(ref.Layer)) > 0 {
			learners = append(learners, ref)
		}
	}
	// probes[ref][v] = energy of map ref's last error of version v.
	probes := map[neuron.Ref]map[int]float64{}
	latest := map[neuron.Ref]float64{}
	finals := map[neuron.Ref]bool{}
	gotOut := map[int]bool{}
	done := map[neuron.Ref]bool{}
	stats := map[neuron.Ref]bool{}
	rep := &AsyncReport{Budget: U, MaxLag: s.o.async.MaxLag, StateLag: map[int]int{}, ErrorLag: map[int]int{}}
	out := make([]float32, nOut)
	total := 0.0
	shown := 0                      // versions reported to onStep
	reached := map[neuron.Ref]int{} // latest version probed per error map
	complete := func() bool {
		if len(finals) < len(errMaps) || len(gotOut) < iy.Maps || len(stats) < len(all) {
			return false
		}
		return !s.o.learn || len(done) == len(learners)
	}
	timer := time.NewTimer(s.o.timeout)
	defer timer.Stop()
	hb := time.NewTicker(s.o.heartbeat)
	defer hb.Stop()
	var wall <-chan time.Time
	if d := s.o.async.WallClock; d > 0 {
		wt := time.NewTimer(d)
		defer wt.Stop()
		wall = wt.C
	}
	for !complete() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.failed:
			return nil, s.err
		case <-hb.C:
			if lost := s.silentNodes(time.Now().Add(-s.o.timeout), false); len(lost) > 0 {
				return nil, s.lostNodes(lost)
			}
			continue
		case <-wall:
			wall = nil
			rep.Stopped = true
			if err := s.b.Publish(ctx, s.o.run+".ctl.stop", &bus.Frame{Run: s.o.run, Sender: "coordinator", Kind: bus.KindControl, Step: tag(batch, 0), Shape: []int{0}}); err != nil {
				return nil, fmt.Errorf("circuit: stop batch %d: %w", batch, err)
			}
			continue
		case <-timer.C:
			return nil, s.asyncStalled(batch, errMaps, finals, stats, all)
		case m := <-s.coord:
			if m.Batch != batch {
				return nil, fmt.Errorf("%w: coordinator got %v from %v for batch %d during batch %d", neuron.ErrProtocol, m.Kind, m.From, m.Batch, batch)
			}
			switch m.Kind {
			case neuron.KindProbe:
				if len(m.Data) != 1 || m.Step < 1 || m.Step > U+1 || finals[m.From] {
					return nil, fmt.Errorf("%w: bad probe from %v (version %d)", neuron.ErrProtocol, m.From, m.Step)
				}
				e := float64(m.Data[0]) / float64(B)
				if probes[m.From] == nil {
					probes[m.From] = map[int]float64{}
				}
				probes[m.From][m.Step] = e
				total += e - latest[m.From]
				latest[m.From] = e
				rep.Timeline = append(rep.Timeline, EnergySample{Seconds: time.Since(start).Seconds(), Energy: total})
				if m.Step == U+1 {
					finals[m.From] = true
				}
				if s.o.onStep != nil && m.Step > reached[m.From] {
					reached[m.From] = m.Step
					// The version every error map has reached.
					low := U + 1
					for _, r := range errMaps {
						low = min(low, reached[r])
					}
					for ; shown < min(low, U); shown++ {
						s.o.onStep(shown+1, U)
					}
				}
			case neuron.KindOutput:
				if m.From.Layer != img || len(m.Data) != B*plane || gotOut[m.From.Index] {
					return nil, fmt.Errorf("%w: bad output from %v", neuron.ErrProtocol, m.From)
				}
				copy(out[m.From.Index*B*plane:], m.Data)
				gotOut[m.From.Index] = true
			case neuron.KindDone:
				done[m.From] = true
			case kindStats:
				st, lags, err := decodeStats(m.From, s.assign[m.From], m.Data)
				if err != nil {
					return nil, err
				}
				if stats[m.From] {
					return nil, fmt.Errorf("%w: %v reported batch %d twice", neuron.ErrProtocol, m.From, batch)
				}
				stats[m.From] = true
				rep.Actors = append(rep.Actors, st)
				h := rep.ErrorLag
				if m.From.Role == neuron.StateRole {
					h = rep.StateLag
				}
				for _, p := range lags {
					h[p[0]] += p[1]
				}
			default:
				return nil, fmt.Errorf("%w: coordinator got %v from %v", neuron.ErrProtocol, m.Kind, m.From)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(s.o.timeout)
	}
	rep.Seconds = time.Since(start).Seconds()
	sort.Slice(rep.Actors, func(i, j int) bool { return rep.Actors[i].Actor < rep.Actors[j].Actor })
	res := &Result{Output: make([]float32, nOut), Energy: make([][]float64, U+1), Async: rep}
	for v := range res.Energy {
		res.Energy[v] = make([]float64, len(g.Layers))
	}
	// Fill every map's energy forward over the versions it skipped.
	for ref, pv := range probes {
		cur := 0.0
		for v := 1; v <= U+1; v++ {
			if e, ok := pv[v]; ok {
				cur = e
			}
			res.Energy[v-1][ref.Layer] += cur
		}
	}
	tensor.FromMapMajor(res.Output, out, B, iy.Maps, plane)
	return res, nil
}

// asyncStalled explains an asynchronous batch that made no progress.
func (s *Session) asyncStalled(batch int, errMaps []neuron.Ref, finals, stats map[neuron.Ref]bool, all []neuron.Ref) error {
	if lost := s.silentNodes(time.Now().Add(-s.o.timeout), false); len(lost) > 0 {
		return s.lostNodes(lost)
	}
	var behind []string
	for _, r := range errMaps {
		if !finals[r] {
			behind = append(behind, fmt.Sprintf("%v (no final error, on node %s)", r, s.assign[r]))
		}
	}
	if len(behind) == 0 {
		for _, r := range all {
			if !stats[r] {
				behind = append(behind, fmt.Sprintf("%v (no report, on node %s)", r, s.assign[r]))
			}
		}
	}
	if len(behind) > 8 {
		behind = append(behind[:8], fmt.Sprintf("and %d more", len(behind)-8))
	}
	return fmt.Errorf("%w: asynchronous batch %d made no progress for %v; waiting on %s", ErrLost, batch, s.o.timeout, strings.Join(behind, ", "))
}
