package circuit

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// fedMsg is a message the coordinator published for the batch in flight:
// a clamped image map or a top map's initial state.
type fedMsg struct {
	kind  neuron.Kind
	ref   neuron.Ref
	batch int
	data  []float32
}

// syncBatch is what the coordinator has gathered of a synchronous batch.
type syncBatch struct {
	batch, img, outs, plane int
	errMaps, learners       []neuron.Ref
	res                     *Result
	out                     []float32
	probed                  map[neuron.Ref]map[int]bool // steps each error map reported
	lastProbe               map[neuron.Ref]int
	perStep                 []int
	shown                   int
	gotOut                  map[int]bool
	done                    map[neuron.Ref]bool
	waits                   map[neuron.Ref]actorWait // answers to the waiting query
}

// actorWait is an actor's answer to the waiting query.
type actorWait struct {
	batch, step int
	missing     []neuron.Wait
}

func (b *syncBatch) complete(T int, learn bool) bool {
	n := 0
	for _, st := range b.probed {
		n += len(st)
	}
	if n < len(b.errMaps)*(T+1) || len(b.gotOut) < b.outs {
		return false
	}
	return !learn || len(b.done) == len(b.learners)
}

// collectSync gathers a synchronous batch: every error map's probe at every
// step, the image outputs and, when learning, every learner's Done. When
// nothing arrives for half the timeout it asks every actor (and itself) to
// send again what it last sent, which repairs a message the bus lost (a
// dropped frame, a server restart); at three quarters it asks every actor
// what it waits for; at the timeout it fails naming the missing link.
func (s *Session) collectSync(ctx context.Context, batch, img, nOut int) (*Result, error) {
	g := s.c.Graph
	T := s.set.Steps
	iy := g.Layers[img]
	sb := &syncBatch{batch: batch, img: img, outs: iy.Maps, plane: iy.Size * iy.Size,
		res: &Result{Output: make([]float32, nOut), Energy: make([][]float64, T+1)}, out: make([]float32, nOut),
		probed: map[neuron.Ref]map[int]bool{}, lastProbe: map[neuron.Ref]int{}, perStep: make([]int, T+1),
		gotOut: map[int]bool{}, done: map[neuron.Ref]bool{}, waits: map[neuron.Ref]actorWait{}}
	for t := range sb.res.Energy {
		sb.res.Energy[t] = make([]float64, len(g.Layers))
	}
	for _, ref := range Populations(g) {
		switch {
		case ref.Role == neuron.ErrorRole:
			sb.errMaps = append(sb.errMaps, ref)
			sb.learners = append(sb.learners, ref)
		case ref.Role == neuron.BlockRole || len(g.Below(ref.Layer)) > 0:
			sb.learners = append(sb.learners, ref)
		}
	}
	tick := time.NewTicker(s.o.heartbeat / 2)
	defer tick.Stop()
	last := time.Now()
	resent, asked := false, false
	for !sb.complete(T, s.o.learn) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.failed:
			return nil, s.err
		case <-tick.C:
			if lost := s.silentNodes(time.Now().Add(-s.o.timeout), false); len(lost) > 0 {
				return nil, s.lostNodes(lost)
			}
			idle := time.Since(last)
			switch {
			case idle >= s.o.timeout:
				return nil, s.lostLink(sb)
			case !s.connected():
				// Nothing can be re-sent or asked while the bus is down;
				// the connection's return, or the timeout, decides.
			case idle >= s.o.timeout*3/4 && !asked:
				asked = true
				if err := s.control(ctx, "waiting", batch); err != nil {
					return nil, err
				}
			case idle >= s.o.timeout/2 && !resent:
				resent = true
				if err := s.resendRound(ctx, batch); err != nil {
					return nil, err
				}
			}
		case m := <-s.coord:
			progress, err := s.takeSync(sb, m)
			if err != nil {
				return nil, err
			}
			if progress {
				// Only news resets the clock: a tick, a duplicate or an
				// answer to the waiting query is not progress.
				last, resent, asked = time.Now(), false, false
				clear(sb.waits)
			}
		}
	}
	tensor.FromMapMajor(sb.res.Output, sb.out, s.o.batch, iy.Maps, sb.plane)
	return sb.res, nil
}

// takeSync files one message of a synchronous batch and says whether it
// was news.
func (s *Session) takeSync(sb *syncBatch, m neuron.Msg) (bool, error) {
	T := s.set.Steps
	B := s.o.batch
	if m.Kind == kindWaiting {
		w, err := decodeWait(m.From, m.Data)
		if err != nil {
			return false, err
		}
		sb.waits[m.From] = w
		return false, nil
	}
	if m.Batch != sb.batch {
		if m.Resent && m.Batch < sb.batch {
			return false, nil
		}
		return false, fmt.Errorf("%w: coordinator got %v from %v for batch %d during batch %d", neuron.ErrProtocol, m.Kind, m.From, m.Batch, sb.batch)
	}
	switch m.Kind {
	case neuron.KindProbe:
		if len(m.Data) != 1 || m.Step < 1 || m.Step > T+1 || m.From.Role != neuron.ErrorRole {
			return false, fmt.Errorf("%w: bad probe from %v", neuron.ErrProtocol, m.From)
		}
		if sb.probed[m.From] == nil {
			sb.probed[m.From] = map[int]bool{}
		}
		if sb.probed[m.From][m.Step] {
			if m.Resent {
				return false, nil
			}
			return false, fmt.Errorf("%w: %v sent the probe of step %d twice", neuron.ErrProtocol, m.From, m.Step)
		}
		sb.probed[m.From][m.Step] = true
		sb.res.Energy[m.Step-1][m.From.Layer] += float64(m.Data[0]) / float64(B)
		sb.lastProbe[m.From] = max(sb.lastProbe[m.From], m.Step)
		if sb.perStep[m.Step-1]++; s.o.onStep != nil && m.Step <= T {
			for sb.shown < T && sb.perStep[sb.shown] == len(sb.errMaps) {
				sb.shown++
				s.o.onStep(sb.shown, T)
			}
		}
	case neuron.KindOutput:
		if m.From.Layer != sb.img || len(m.Data) != B*sb.plane || m.From.Index < 0 || m.From.Index >= sb.outs {
			return false, fmt.Errorf("%w: bad output from %v", neuron.ErrProtocol, m.From)
		}
		if sb.gotOut[m.From.Index] {
			if m.Resent {
				return false, nil
			}
			return false, fmt.Errorf("%w: %v sent its output twice", neuron.ErrProtocol, m.From)
		}
		copy(sb.out[m.From.Index*B*sb.plane:], m.Data)
		sb.gotOut[m.From.Index] = true
	case neuron.KindDone:
		if sb.done[m.From] {
			return false, nil
		}
		sb.done[m.From] = true
	default:
		return false, fmt.Errorf("%w: coordinator got %v from %v", neuron.ErrProtocol, m.Kind, m.From)
	}
	return true, nil
}

// connected reports whether the bus can reach the other nodes now (a NATS
// bus may be reconnecting).
func (s *Session) connected() bool {
	c, ok := s.b.(interface{ Connected() bool })
	return !ok || c.Connected()
}

// control publishes a control message of the run on ctl.<what>.
func (s *Session) control(ctx context.Context, what string, batch int) error {
	f := &bus.Frame{Run: s.o.run, Sender: "coordinator", Kind: bus.KindControl, Step: tag(batch, 0), Shape: []int{0}}
	if err := s.b.Publish(ctx, s.o.run+".ctl."+what, f); err != nil {
		return fmt.Errorf("circuit: %s (batch %d): %w", what, batch, err)
	}
	return nil
}

// resendRound publishes again the coordinator's inputs of the batch and
// asks every actor to do the same with what it last sent.
func (s *Session) resendRound(ctx context.Context, batch int) error {
	s.resends.Add(1)
	if s.o.onResend != nil {
		s.o.onResend(batch)
	}
	for _, m := range s.fed {
		if err := s.publishTagged(m.kind, m.ref, "coordinator", tagResent(m.batch, 0), m.data); err != nil {
			return err
		}
	}
	return s.control(ctx, "resend", batch)
}

// Resends returns how many resend rounds the coordinator started: each is a
// synchronous batch that stalled for half the timeout.
func (s *Session) Resends() int { return int(s.resends.Load()) }

// decodeWait reads an actor's answer to the waiting query.
func decodeWait(ref neuron.Ref, data []float32) (actorWait, error) {
	if len(data) < 2 || (len(data)-2)%4 != 0 || len(data) > 2+4*maxWaits {
		return actorWait{}, fmt.Errorf("%w: %v sent %d waiting values", neuron.ErrProtocol, ref, len(data))
	}
	u := func(i int) int { return int(int32(math.Float32bits(data[i]))) }
	w := actorWait{batch: u(0), step: u(1)}
	for i := 2; i < len(data); i += 4 {
		w.missing = append(w.missing, neuron.Wait{Kind: neuron.Kind(u(i)),
			From: neuron.Ref{Role: neuron.Role(u(i+1) & 0xff), Stage: u(i+1) >> 8, Layer: u(i + 2), Index: u(i + 3)}})
	}
	return w, nil
}

// lostLink explains a synchronous batch that made no progress for the
// timeout although every node kept sending heartbeats: it names the links
// whose sender has sent the step its receiver still waits for (a lost
// message), or else the actors that fell behind.
func (s *Session) lostLink(sb *syncBatch) error {
	var lost []string
	receivers := make([]neuron.Ref, 0, len(sb.waits))
	for r := range sb.waits {
		receivers = append(receivers, r)
	}
	sort.Slice(receivers, func(i, j int) bool { return receivers[i].String() < receivers[j].String() })
	for _, r := range receivers {
		w := sb.waits[r]
		if w.batch != sb.batch {
			continue
		}
		for _, in := range w.missing {
			if in.From == (neuron.Ref{}) {
				lost = append(lost, fmt.Sprintf("%v from the coordinator → %v at step %d", in.Kind, r, w.step))
				continue
			}
			sw, ok := sb.waits[in.From]
			if ok && sentAlready(in, sw, sb.batch, w.step) {
				lost = append(lost, fmt.Sprintf("%v of %v → %v at step %d", in.Kind, in.From, r, w.step))
			}
		}
	}
	silent := 0
	for _, ref := range Populations(s.c.Graph) {
		if _, ok := sb.waits[ref]; !ok {
			silent++
		}
	}
	if len(lost) > 0 {
		more := ""
		if len(lost) > 4 {
			more = fmt.Sprintf(" (and %d more)", len(lost)-4)
			lost = lost[:4]
		}
		return fmt.Errorf("%w: batch %d made no progress for %v; sent but never arrived, even when sent again: %s%s",
			ErrLost, sb.batch, s.o.timeout, strings.Join(lost, "; "), more)
	}
	err := s.stalled(sb.batch, sb.errMaps, sb.lastProbe, sb.gotOut, sb.outs, sb.learners, sb.done)
	if silent > 0 {
		return fmt.Errorf("%w (%d actors did not say what they wait for)", err, silent)
	}
	return err
}

// sentAlready reports whether a sender that answered sw has already
// published input in of the receiver's step: a state map publishes φ(z)
// and z of step t when it reaches step t, an error map its error of step t
// when it moves to step t+1.
func sentAlready(in neuron.Wait, sw actorWait, batch, step int) bool {
	if sw.batch != batch {
		return sw.batch > batch
	}
	switch in.Kind {
	case neuron.KindPhi, neuron.KindState:
		return sw.step >= step
	case neuron.KindError, neuron.KindWeights, neuron.KindPred:
		return sw.step > step || (in.Kind == neuron.KindPred && sw.step >= 1)
	}
	return false
}
