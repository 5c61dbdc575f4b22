package neuron

import (
	"fmt"
	"math"
)

// sender is the sending end of one sigma-delta stream (a population's φ(z),
// z or e): per unit, the value its receivers hold.
type sender struct {
	enc    Encoding
	images int // images per message: the blocks a relative θ is taken over
	sent   []float32
	seq    uint32
	batch  int // window of the last frame (-1: none yet)
	idx    []uint32
	val    []float32
}

func newSender(enc Encoding, n, images int) *sender {
	if images < 1 || n%images != 0 {
		images = 1
	}
	return &sender{enc: enc, images: images, sent: make([]float32, n), batch: -1}
}

// encode returns the frame that brings the receivers from what they hold
// to x, for window batch (a new window starts from zero: a reset frame),
// and records what they then hold. The frame is sparse unless listing the
// units would take at least as many bytes as the whole map, and is the
// caller's to send: the sender keeps no reference to it.
func (s *sender) encode(x []float32, batch int) *Delta {
	reset := batch != s.batch
	if reset {
		clear(s.sent)
		s.batch = batch
	}
	d := &Delta{N: len(x), Seq: s.seq, Reset: reset}
	s.seq++
	s.idx, s.val = s.idx[:0], s.val[:0]
	per := len(x) / s.images
	theta := float32(s.enc.Threshold)
	bytes, prev := 0, -1
	for b := 0; b < s.images; b++ {
		lo := b * per
		xs, ss := x[lo:lo+per], s.sent[lo:lo+per]
		th := theta
		if s.enc.Relative {
			th = float32(s.enc.Threshold * rms(xs))
		}
		for k, v := range xs {
			old := ss[k]
			if math.Float32bits(v) == math.Float32bits(old) {
				continue
			}
			dv := v - old
			if th > 0 && float32(math.Abs(float64(dv))) <= th {
				continue // NaN differences fail the test and are sent
			}
			u := lo + k
			ix := uint32(u)
			if math.Float32bits(old+dv) == math.Float32bits(v) {
				s.val = append(s.val, dv)
			} else {
				ix |= AbsBit
				s.val = append(s.val, v)
			}
			s.idx = append(s.idx, ix)
			bytes += 4 + varintLen(uint64(u-prev-1)<<1|uint64(ix>>31))
			prev = u
			ss[k] = v
		}
	}
	if bytes >= 4*len(x) {
		// Listing the units costs more than the map: send it whole.
		d.Value = append([]float32(nil), x...)
		copy(s.sent, x)
		return d
	}
	d.Sparse = true
	d.Index = append(make([]uint32, 0, len(s.idx)), s.idx...)
	d.Value = append(make([]float32, 0, len(s.val)), s.val...)
	return d
}

func rms(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

// deltaIn is the receiving end of one sigma-delta stream: the value the
// receiver holds per unit (r), and the changes (pend) of the units listed in
// dirty that its sums have not taken in yet.
type deltaIn struct {
	r, pend []float32
	dirty   []int32
	mark    []bool
	// reset: a reset or whole frame arrived since the sums were last
	// computed, so they must be recomputed whole (pend is not kept
	// meanwhile).
	reset   bool
	next    uint32 // the next frame expected
	started bool
	held    []heldDelta // frames that arrived before an earlier one
}

type heldDelta struct {
	d       *Delta
	version int
}

// maxHeld bounds the frames a receiver holds while waiting for an earlier
// one; more means the earlier one was lost.
const maxHeld = 64

func newDeltaIn(n int) *deltaIn {
	return &deltaIn{r: make([]float32, n), pend: make([]float32, n), mark: make([]bool, n), reset: true}
}

// deltaStatus says what offer did with a frame.
type deltaStatus uint8

const (
	deltaApplied   deltaStatus = iota // applied (with any held frames it released)
	deltaDuplicate                    // already applied: ignored
	deltaHeld                         // early: held until the frames before it arrive
)

// offer takes frame d of version (the message's step or version). In order
// it is applied at once, with any held frames that follow it; a reset frame
// is applied whatever came before. An earlier frame is a duplicate. A later
// one is an error when strict (the synchronous dataflow cannot produce one:
// a frame was lost) and is held otherwise, up to maxHeld frames. latest is
// the version of the last frame applied.
func (s *deltaIn) offer(d *Delta, version int, strict bool) (st deltaStatus, latest int, err error) {
	if err := d.check(len(s.r)); err != nil {
		return 0, 0, err
	}
	switch {
	case s.started && d.Seq < s.next:
		return deltaDuplicate, 0, nil
	case s.started && d.Seq > s.next && !d.Reset:
		if strict {
			return 0, 0, fmt.Errorf("frame %d arrived, frame %d was lost", d.Seq, s.next)
		}
		if len(s.held) >= maxHeld {
			return 0, 0, fmt.Errorf("frame %d never arrived (%d later frames held)", s.next, len(s.held))
		}
		for _, h := range s.held {
			if h.d.Seq == d.Seq {
				return deltaDuplicate, 0, nil
			}
		}
		s.held = append(s.held, heldDelta{d, version})
		return deltaHeld, 0, nil
	case !s.started && !d.Reset:
		if strict {
			return 0, 0, fmt.Errorf("frame %d arrived before the stream's reset", d.Seq)
		}
		s.held = append(s.held, heldDelta{d, version})
		if len(s.held) > maxHeld {
			return 0, 0, fmt.Errorf("no reset frame among %d frames", len(s.held))
		}
		return deltaHeld, 0, nil
	}
	s.apply(d)
	latest = version
	for again := true; again; {
		again = false
		for i := 0; i < len(s.held); i++ {
			h := s.held[i]
			switch {
			case h.d.Seq < s.next:
				s.held = append(s.held[:i], s.held[i+1:]...)
				i--
			case h.d.Seq == s.next:
				s.held = append(s.held[:i], s.held[i+1:]...)
				s.apply(h.d)
				latest = max(latest, h.version)
				again = true
				i--
			}
		}
	}
	return deltaApplied, latest, nil
}

// apply brings r to what the sender meant with d, recording the changes
// for the receiver's sums.
func (s *deltaIn) apply(d *Delta) {
	s.started, s.next = true, d.Seq+1
	if d.Reset {
		clear(s.r)
		s.clearPending()
		s.reset = true
	}
	if !d.Sparse {
		// A whole map: the sender found most units changed, so the sums
		// are recomputed whole rather than by the changes.
		copy(s.r, d.Value)
		s.clearPending()
		s.reset = true
		return
	}
	for k, ix := range d.Index {
		u := int(ix &^ AbsBit)
		if ix&AbsBit != 0 {
			s.set(u, d.Value[k])
			continue
		}
		s.r[u] += d.Value[k]
		s.touch(u, d.Value[k])
	}
}

// set gives unit u the new value v.
func (s *deltaIn) set(u int, v float32) {
	old := s.r[u]
	if math.Float32bits(old) == math.Float32bits(v) {
		return
	}
	s.r[u] = v
	s.touch(u, v-old)
}

// touch records a change of unit u for the receiver's sums.
func (s *deltaIn) touch(u int, dv float32) {
	if s.reset {
		return // the sums will be recomputed whole
	}
	if !s.mark[u] {
		s.mark[u] = true
		s.dirty = append(s.dirty, int32(u))
	}
	s.pend[u] += dv
}

// clearPending forgets the changes: the receiver's sums took them in (or
// are recomputed whole).
func (s *deltaIn) clearPending() {
	for _, u := range s.dirty {
		s.pend[u] = 0
		s.mark[u] = false
	}
	s.dirty = s.dirty[:0]
}

// rebased marks the sums as recomputed from r.
func (s *deltaIn) rebased() {
	s.clearPending()
	s.reset = false
}
