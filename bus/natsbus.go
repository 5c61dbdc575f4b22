package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// Errors of the NATS bus, besides the codec's.
var (
	// ErrAuth reports that the server refused the credentials.
	ErrAuth = errors.New("bus: authorization failed")
	// ErrDisconnected reports a lost connection to the NATS server; it is
	// delivered to the error handler, and wrapped by a Publish that failed
	// because the client, reconnecting, could not keep the frame.
	ErrDisconnected = errors.New("bus: disconnected")
)

// NATS is a Bus over a NATS connection: frames travel as binary frames
// (see AppendFrame) on NATS subjects, so actors can live in other processes
// and on other machines.
//
// Delivery is NATS core: at most once, in order per publishing connection.
// Each subscription has its own goroutine and a bounded queue (QueueLen
// frames, PendingBytes bytes); when it overflows, the client drops frames,
// which are counted in Stats.Dropped and reported as ErrSlowConsumer. Frames
// that fail to decode are counted in Stats.Rejected (by sender and reason)
// and reported as *FrameError. Publish never blocks on subscribers.
type NATS struct {
	nc *nats.Conn
	o  options
	st collector
	// encoders holds the encode buffers: a Publish takes one for as long
	// as it encodes and hands the frame to the client, so that at most
	// cap(encoders) encoded frames exist at a time (publishers that would
	// otherwise each hold one while they wait for the connection's lock),
	// and each buffer is reused, grown to the largest frame.
	encoders chan *[]byte
	closing  atomic.Bool
	url      atomic.Value // string: the server last connected to, for messages

	mu   sync.Mutex
	subs map[*natsSub]struct{}
}

// Connect connects to the NATS server(s) at url (comma-separated URLs are
// allowed, as in nats.Connect) and returns a bus over the connection.
func Connect(url string, opts ...Option) (*NATS, error) {
	if err := checkURLs(url); err != nil {
		return nil, err
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	b := &NATS{o: o, subs: make(map[*natsSub]struct{}), encoders: make(chan *[]byte, encoders())}
	for range cap(b.encoders) {
		b.encoders <- new([]byte)
	}
	nopts := append([]nats.Option(nil), o.nats...)
	if o.inProcess != nil {
		nopts = append(nopts, nats.InProcessServer(o.inProcess))
	}
	nopts = append(nopts,
		nats.ReconnectHandler(func(nc *nats.Conn) { b.url.Store(nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(b.onAsyncError),
		nats.DisconnectErrHandler(b.onDisconnect),
		nats.ClosedHandler(b.onClosed),
		nats.NoCallbacksAfterClientClose(),
	)
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
			errors.Is(err, nats.ErrAuthRevoked) {
			return nil, fmt.Errorf("bus: connect to %s: %w: %w", url, ErrAuth, err)
		}
		return nil, fmt.Errorf("bus: connect to %s: %w", url, err)
	}
	b.nc = nc
	b.url.Store(nc.ConnectedUrlRedacted())
	return b, nil
}

// Conn returns the underlying NATS connection, for what this package does
// not wrap. Closing it closes the bus.
func (b *NATS) Conn() *nats.Conn { return b.nc }

// Connected reports whether the connection to the server is up (not
// reconnecting, not closed).
func (b *NATS) Connected() bool { return b.nc.IsConnected() }

// MaxFrameSize returns the largest encoded frame the server accepts (its
// max_payload).
func (b *NATS) MaxFrameSize() int64 { return b.nc.MaxPayload() }

// Publish encodes f (with the bus's Compression) and publishes it on the
// literal subject. The encoded bytes are copied into the client's buffer, so
// Publish does not wait for subscribers; it may wait, until ctx ends, for
// one of the bus's few encode buffers while other publishers hold them. The
// frame must fit the bus's Limits and the server's max_payload
// (ErrFrameTooLarge). Publish takes ownership of f, like InProc.Publish,
// although this bus does not keep it.
func (b *NATS) Publish(ctx context.Context, subject string, f *Frame) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus: publish on %q: %w", subject, err)
	}
	if b.closing.Load() {
		return fmt.Errorf("bus: publish on %q: %w", subject, ErrClosed)
	}
	if err := ValidSubject(subject); err != nil {
		return fmt.Errorf("bus: publish: %w", err)
	}
	if err := f.Validate(b.o.limits); err != nil {
		return fmt.Errorf("bus: publish on %q: %w", subject, err)
	}
	var bp *[]byte
	select {
	case bp = <-b.encoders:
	case <-ctx.Done():
		return fmt.Errorf("bus: publish on %q: %w", subject, ctx.Err())
	}
	defer func() { b.encoders <- bp }()
	buf, err := AppendFrame((*bp)[:0], f, b.o.compression)
	if err != nil {
		return fmt.Errorf("bus: publish on %q: %w", subject, err)
	}
	*bp = buf
	if max := b.nc.MaxPayload(); max > 0 && int64(len(buf)) > max {
		return fmt.Errorf("bus: publish on %q: frame of %d bytes, server max_payload %d: %w",
			subject, len(buf), max, ErrFrameTooLarge)
	}
	if err := b.nc.Publish(subject, buf); err != nil {
		return fmt.Errorf("bus: publish on %q: %w", subject, natsErr(err))
	}
	b.st.addSent(f, f.WireSize(), len(buf))
	return nil
}

// encoders is the number of frames a NATS bus encodes at once: one per
// thread that can run Go code. The connection sends one frame at a time
// anyway.
func encoders() int { return max(runtime.GOMAXPROCS(0), 1) }

// natsErr wraps a nats.go error with the matching sentinel of this package.
func natsErr(err error) error {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%w: %w", ErrFrameTooLarge, err)
	case errors.Is(err, nats.ErrBadSubject):
		return fmt.Errorf("%w: %w", ErrSubject, err)
	case errors.Is(err, nats.ErrAuthorization):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting):
		// The client is reconnecting and could not keep the frame.
		return fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	return err
}

// Subscribe calls h for each frame received on a subject matching the
// pattern. Frames are decoded under the bus's Limits on the subscription's
// goroutine; bad frames are rejected, counted and reported, never passed
// to h. The receiver owns each decoded frame but, by the bus contract,
// treats it as read-only.
func (b *NATS) Subscribe(subject string, h Handler, opts ...SubOption) (Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("bus: subscribe to %q: nil handler", subject)
	}
	if b.closing.Load() {
		return nil, fmt.Errorf("bus: subscribe to %q: %w", subject, ErrClosed)
	}
	if err := ValidPattern(subject); err != nil {
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	so, err := b.o.subOptions(opts)
	if err != nil {
		return nil, err
	}
	s := &natsSub{b: b, pattern: subject, h: h, dec: Decoder{Limits: b.o.limits}}
	ns, err := b.nc.Subscribe(subject, s.onMsg)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe to %q: %w", subject, natsErr(err))
	}
	if err := ns.SetPendingLimits(so.queueLen, so.pendingBytes); err != nil {
		_ = ns.Unsubscribe()
		return nil, fmt.Errorf("bus: subscribe to %q: %w", subject, natsErr(err))
	}
	s.sub = ns
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// Flush waits until the server has processed everything published so far
// (a PING/PONG round trip). It does not wait for remote handlers. When ctx
// has no deadline, DefaultFlushTimeout applies.
func (b *NATS) Flush(ctx context.Context) error {
	if b.closing.Load() {
		return fmt.Errorf("bus: flush: %w", ErrClosed)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFlushTimeout)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: flush: %w", natsErr(err))
	}
	return nil
}

// Stats returns a snapshot of the counters. Dropped includes the frames
// the client discarded for slow consumers so far.
func (b *NATS) Stats() Stats {
	s := b.st.snapshot()
	b.mu.Lock()
	for sub := range b.subs {
		if n, err := sub.sub.Dropped(); err == nil {
			s.Dropped += uint64(n)
		}
	}
	b.mu.Unlock()
	return s
}

// Close closes the connection without draining: frames still queued for
// handlers are counted as dropped. Closing twice is harmless.
func (b *NATS) Close() error {
	if !b.closing.CompareAndSwap(false, true) {
		return nil
	}
	b.mu.Lock()
	subs := b.subs
	b.subs = make(map[*natsSub]struct{})
	b.mu.Unlock()
	for s := range subs {
		s.retire()
	}
	b.nc.Close()
	return nil
}

// onAsyncError receives nats.go's asynchronous errors.
func (b *NATS) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		subj := ""
		dropped := 0
		if sub != nil {
			subj = sub.Subject
			dropped, _ = sub.Dropped()
		}
		b.o.report(fmt.Errorf("bus: subscription %q (%d frames dropped so far): %w", subj, dropped, ErrSlowConsumer))
		return
	}
	b.o.report(fmt.Errorf("bus: %w", natsErr(err)))
}

func (b *NATS) onDisconnect(nc *nats.Conn, err error) {
	if b.closing.Load() {
		return
	}
	if err == nil {
		err = errors.New("connection lost")
	}
	url, _ := b.url.Load().(string)
	if url == "" {
		url = "the NATS server"
	}
	b.o.report(fmt.Errorf("bus: %s: %w: %w", url, ErrDisconnected, err))
}

func (b *NATS) onClosed(nc *nats.Conn) {
	if b.closing.Load() {
		return
	}
	err := nc.LastError()
	if err == nil {
		err = errors.New("connection closed")
	}
	b.o.report(fmt.Errorf("bus: connection closed by the client library: %w: %w", ErrClosed, err))
}

func (b *NATS) reject(e *FrameError) {
	b.st.addRejected(e)
	b.o.report(e)
}

// natsSub is one NATS subscription with its decoder.
type natsSub struct {
	b       *NATS
	pattern string
	h       Handler
	sub     *nats.Subscription
	dec     Decoder // used only on the subscription's goroutine
	gone    atomic.Bool
	busy    atomic.Int64 // 1 while onMsg runs: nats.go counts that frame as pending
}

// Subject returns the pattern given to Subscribe.
func (s *natsSub) Subject() string { return s.pattern }

// Unsubscribe stops delivery. See Subscription.
func (s *natsSub) Unsubscribe() error {
	s.b.mu.Lock()
	_, live := s.b.subs[s]
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	if !live {
		return fmt.Errorf("bus: unsubscribe %q: %w", s.pattern, ErrClosed)
	}
	if err := s.retire(); err != nil {
		return fmt.Errorf("bus: unsubscribe %q: %w", s.pattern, natsErr(err))
	}
	return nil
}

// retire unsubscribes and moves the subscription's drop counts into the
// bus's: frames the client dropped, and those still queued.
func (s *natsSub) retire() error {
	s.gone.Store(true)
	pending, _, _ := s.sub.Pending()
	dropped, _ := s.sub.Dropped()
	err := s.sub.Unsubscribe()
	queued := int64(pending) - s.busy.Load() // the frame in the handler is not lost
	s.b.st.dropped.Add(uint64(max(queued, 0) + int64(max(dropped, 0))))
	return err
}

func (s *natsSub) onMsg(m *nats.Msg) {
	s.busy.Store(1)
	defer s.busy.Store(0)
	if s.gone.Load() {
		return // counted as pending by retire
	}
	// nats.go hands every subscription a private copy of each message
	// (Conn.processMsg copies it out of the read buffer, or assembles a
	// large one in a new buffer), so the frame may take m.Data over
	// instead of copying its payload once more.
	f, err := s.dec.decodeOwned(m.Data)
	if err != nil {
		var fe *FrameError
		if !errors.As(err, &fe) {
			fe = &FrameError{Err: err}
		}
		fe.Subject = m.Subject
		s.b.reject(fe)
		return
	}
	s.b.st.addReceived(f, f.WireSize(), len(m.Data))
	s.h(m.Subject, f)
}

// ErrScheme reports a server URL whose scheme is not one a NATS client
// speaks.
var ErrScheme = errors.New("bus: unsupported URL scheme")

// checkURLs refuses, before any connection is tried, a server URL whose
// scheme NATS does not speak (nats, tls, ws, wss; a bare host:port means
// nats).
func checkURLs(urls string) error {
	for _, u := range strings.Split(urls, ",") {
		u = strings.TrimSpace(u)
		scheme, _, found := strings.Cut(u, "://")
		if !found {
			continue
		}
		switch strings.ToLower(scheme) {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%w %q in %s (want nats://, tls://, ws:// or wss://)", ErrScheme, scheme, u)
		}
	}
	return nil
}
