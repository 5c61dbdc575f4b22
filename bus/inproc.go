package bus

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// InProc is a Bus inside one process: frames are handed over as pointers,
// never serialised, through one bounded channel per subscription.
//
// A full queue blocks Publish until there is room or the publisher's
// context ends (backpressure), so nothing is ever dropped while a
// subscription is alive. Actor graphs with cycles must therefore size
// queues for the frames that can be in flight, or a cycle of full queues
// holds until the contexts end.
//
// Stats count Bytes as the frames' WireSize, the size they would have on
// the wire uncompressed, so message and byte counts compare with NATS runs.
type InProc struct {
	o    options
	st   collector
	done chan struct{} // closed by Close

	mu     sync.RWMutex
	closed bool
	subs   []*inprocSub
	cache  map[string][]*inprocSub // literal subject → matching subscriptions
}

// maxMatchCache bounds the subject → subscriptions cache; it is cleared when
// full and whenever subscriptions change.
const maxMatchCache = 8192

// NewInProc returns an in-process bus. Options that concern NATS
// connections are ignored.
func NewInProc(opts ...Option) (*InProc, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return &InProc{o: o, done: make(chan struct{}), cache: make(map[string][]*inprocSub)}, nil
}

// delivery is one queue entry: a frame, or a Flush marker.
type delivery struct {
	subject string
	f       *Frame
	crc     uint32        // payload checksum at Publish, with WithVerify
	flush   chan struct{} // non-nil for a Flush marker
}

// Publish hands f to every subscription matching subject. It blocks while
// a matching subscription's queue is full, until there is room, ctx ends or
// the bus closes; when it returns an error, subscriptions earlier in line
// may already have the frame. Publish takes ownership of f.
func (b *InProc) Publish(ctx context.Context, subject string, f *Frame) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus: publish on %q: %w", subject, err)
	}
	if err := f.Validate(b.o.limits); err != nil {
		return fmt.Errorf("bus: publish on %q: %w", subject, err)
	}
	subs, err := b.match(subject)
	if err != nil {
		return fmt.Errorf("bus: publish: %w", err)
	}
	d := delivery{subject: subject, f: f}
	if b.o.verify {
		d.crc = floatsCRC(f.Payload)
	}
	for _, s := range subs {
		if err := s.enqueue(ctx, d); err != nil {
			return fmt.Errorf("bus: publish on %q to subscription %q: %w", subject, s.pattern, err)
		}
	}
	b.st.addSent(f, f.WireSize(), 0)
	return nil
}

// match returns the live subscriptions whose pattern matches subject.
func (b *InProc) match(subject string) ([]*inprocSub, error) {
	b.mu.RLock()
	subs, ok := b.cache[subject]
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		return subs, nil
	}
	if err := ValidSubject(subject); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	subs = nil
	for _, s := range b.subs {
		if Match(s.pattern, subject) {
			subs = append(subs, s)
		}
	}
	if len(b.cache) >= maxMatchCache {
		clear(b.cache)
	}
	b.cache[subject] = subs
	return subs, nil
}

// Subscribe calls h for each frame published on a subject matching the
// pattern, from a goroutine of its own, in publication order per
// publisher. The queue holds QueueLen frames (default WithQueueLen).
func (b *InProc) Subscribe(subject string, h Handler, opts ...SubOption) (Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("bus: subscribe to %q: nil handler", subject)
	}
	if err := ValidPattern(subject); err != nil {
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	so, err := b.o.subOptions(opts)
	if err != nil {
		return nil, err
	}
	s := &inprocSub{
		b:       b,
		pattern: subject,
		h:       h,
		ch:      make(chan delivery, so.queueLen),
		done:    make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("bus: subscribe to %q: %w", subject, ErrClosed)
	}
	b.subs = append(b.subs, s)
	clear(b.cache)
	b.mu.Unlock()
	go s.run()
	return s, nil
}

// Flush waits until every frame published before the call has been handled
// by every subscription (it sends a marker through each queue and waits
// for it), or ctx ends. Frames published by handlers meanwhile are not
// waited for. Calling Flush from a Handler of the same bus waits for
// itself until ctx ends.
func (b *InProc) Flush(ctx context.Context) error {
	b.mu.RLock()
	closed := b.closed
	subs := slices.Clone(b.subs)
	b.mu.RUnlock()
	if closed {
		return fmt.Errorf("bus: flush: %w", ErrClosed)
	}
	marks := make([]chan struct{}, len(subs))
	for i, s := range subs {
		marks[i] = make(chan struct{})
		if err := s.enqueue(ctx, delivery{flush: marks[i]}); err != nil {
			return fmt.Errorf("bus: flush: %w", err)
		}
	}
	for i, s := range subs {
		select {
		case <-marks[i]:
		case <-s.done:
		case <-b.done:
			return fmt.Errorf("bus: flush: %w", ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("bus: flush: waiting for %q: %w", s.pattern, ctx.Err())
		}
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (b *InProc) Stats() Stats { return b.st.snapshot() }

// Close stops every subscription and makes later calls fail with
// ErrClosed. Publishers blocked on a full queue return ErrClosed. Frames
// still queued are counted as dropped. Close does not wait for running
// handlers.
func (b *InProc) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	subs := b.subs
	b.subs = nil
	clear(b.cache)
	b.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	return nil
}

func (b *InProc) remove(s *inprocSub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.subs, s); i >= 0 {
		b.subs = slices.Delete(b.subs, i, i+1)
		clear(b.cache)
	}
}

// inprocSub is one subscription: a bounded queue and the goroutine that
// drains it into the handler.
type inprocSub struct {
	b       *InProc
	pattern string
	h       Handler
	ch      chan delivery
	done    chan struct{} // closed when the subscription stops

	stopping atomic.Bool // set once, by the first stop

	// mu is held for reading by every enqueue and for writing once, by
	// stop, so that after stop no enqueue can add to ch.
	mu      sync.RWMutex
	stopped bool
}

// Subject returns the pattern given to Subscribe.
func (s *inprocSub) Subject() string { return s.pattern }

// Unsubscribe stops the subscription. See Subscription.
func (s *inprocSub) Unsubscribe() error {
	if !s.stop() {
		return fmt.Errorf("bus: unsubscribe %q: %w", s.pattern, ErrClosed)
	}
	s.b.remove(s)
	return nil
}

// stop ends the subscription once; it reports whether this call did.
func (s *inprocSub) stop() bool {
	if !s.stopping.CompareAndSwap(false, true) {
		return false
	}
	close(s.done) // wakes enqueuers blocked on a full queue
	s.mu.Lock()   // waits for them to leave
	s.stopped = true
	s.mu.Unlock()
	// No enqueue can start now; whatever is queued is dropped. The run
	// goroutine may take some of it concurrently and drop it there.
	for {
		select {
		case d := <-s.ch:
			s.discard(d)
		default:
			return true
		}
	}
}

func (s *inprocSub) discard(d delivery) {
	if d.flush != nil {
		close(d.flush)
		return
	}
	s.b.st.dropped.Add(1)
}

// enqueue adds d to the queue, waiting for room. A subscription that
// unsubscribed silently takes nothing, as if it had done so before the
// publish; one stopped by Close fails with ErrClosed.
func (s *inprocSub) enqueue(ctx context.Context, d delivery) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.stopped {
		return s.stoppedErr()
	}
	select {
	case s.ch <- d:
		return nil
	default:
	}
	select {
	case s.ch <- d:
		return nil
	case <-s.done:
		return s.stoppedErr()
	case <-s.b.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stoppedErr is what enqueue returns for a stopped subscription.
func (s *inprocSub) stoppedErr() error {
	select {
	case <-s.b.done:
		return ErrClosed
	default:
		return nil
	}
}

func (s *inprocSub) run() {
	for {
		select {
		case <-s.done:
			return
		case d := <-s.ch:
			select {
			case <-s.done:
				s.discard(d)
				continue
			default:
			}
			if d.flush != nil {
				close(d.flush)
				continue
			}
			s.deliver(d)
		}
	}
}

func (s *inprocSub) deliver(d delivery) {
	b := s.b
	if b.o.verify {
		if got := floatsCRC(d.f.Payload); got != d.crc {
			e := &FrameError{Subject: d.subject, Sender: d.f.Sender, Err: fmt.Errorf(
				"payload modified after Publish (CRC %#08x, now %#08x): %w", d.crc, got, ErrChecksum)}
			b.st.addRejected(e)
			b.o.report(e)
			return
		}
	}
	b.st.addReceived(d.f, d.f.WireSize(), 0)
	s.h(d.subject, d.f)
}

// floatsCRC is the CRC-32C of p's little-endian encoding, the same value a
// frame header carries, computed without allocating.
func floatsCRC(p []float32) uint32 {
	var buf [1024]byte
	crc := uint32(0)
	for len(p) > 0 {
		n := min(len(p), len(buf)/4)
		for i, v := range p[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		crc = crc32.Update(crc, castagnoli, buf[:4*n])
		p = p[n:]
	}
	return crc
}
