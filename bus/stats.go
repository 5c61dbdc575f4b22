package bus

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Counts is a message and byte tally.
type Counts struct {
	// Msgs is the number of frames.
	Msgs uint64
	// Bytes is the sum of the frames' WireSize: header plus 4 bytes per
	// float (and a sparse delta frame's index list), the same figure on
	// every bus, so runs on different buses can be compared.
	Bytes uint64
	// WireBytes is what was actually handed to or read from the transport
	// after compression. It is 0 on the in-process bus, which does not
	// serialise frames.
	WireBytes uint64
}

// Stats is a snapshot of a bus's counters since it was created.
//
// Sent counts each successful Publish once, whether or not anyone
// subscribes (an in-process Publish that fails half-way through its
// subscribers is not counted as sent, though some may receive the frame).
// Received counts each handler call, so a frame delivered to three
// subscriptions counts three times. Per-sender maps are keyed by
// Frame.Sender; after MaxStatsKeys distinct names further ones are pooled
// under "(other)".
type Stats struct {
	Sent             Counts            // every frame published
	Received         Counts            // every frame handed to a handler
	SentBySender     map[string]Counts // Sent, split by Frame.Sender
	ReceivedBySender map[string]Counts // Received, split by Frame.Sender
	SentByKind       map[Kind]Counts   // Sent, split by Frame.Kind
	ReceivedByKind   map[Kind]Counts   // Received, split by Frame.Kind

	// Rejected counts frames that failed to decode or verify; they were
	// reported to the error handler and not delivered.
	Rejected uint64
	// RejectedBySender is keyed by the sender named in the bad frame's
	// header, "(unknown)" when the header could not be read that far, or
	// "(unreadable)" when the name is not printable UTF-8.
	RejectedBySender map[string]uint64
	// RejectedByReason is keyed by FrameError.Reason, RejectedBySubject by
	// the subject the bad frame arrived on ("(unknown)" if not known).
	RejectedByReason  map[string]uint64
	RejectedBySubject map[string]uint64

	// Dropped counts frames lost without a decode error: discarded from a
	// full queue (NATS slow consumer) or still queued at Unsubscribe or
	// Close.
	Dropped uint64
}

// MaxStatsKeys bounds the number of distinct senders (and reasons) each
// Stats map tracks, so a flood of garbage names cannot grow memory.
const MaxStatsKeys = 4096

const (
	otherKey      = "(other)"
	unknownKey    = "(unknown)"
	unreadableKey = "(unreadable)"
)

type counter struct {
	msgs, bytes, wire atomic.Uint64
}

func (c *counter) add(bytes, wire int) {
	c.msgs.Add(1)
	c.bytes.Add(uint64(bytes))
	c.wire.Add(uint64(wire))
}

func (c *counter) load() Counts {
	return Counts{Msgs: c.msgs.Load(), Bytes: c.bytes.Load(), WireBytes: c.wire.Load()}
}

// collector accumulates Stats. The totals and per-kind tallies are plain
// atomics; per-key maps take a read lock on the hot path and a write lock
// only the first time a key is seen.
type collector struct {
	sent, recv         counter
	sentKind, recvKind [256]counter
	rejected, dropped  atomic.Uint64

	mu                 sync.RWMutex
	sentBy, recvBy     map[string]*counter
	rejBy, rejByReason map[string]*atomic.Uint64
	rejBySubject       map[string]*atomic.Uint64
}

// lookup returns m[key], creating it (or pooling it under otherKey once m
// holds MaxStatsKeys entries) with mu held for writing only on a miss.
func lookup[T any](mu *sync.RWMutex, m *map[string]*T, key string) *T {
	mu.RLock()
	e := (*m)[key]
	mu.RUnlock()
	if e != nil {
		return e
	}
	mu.Lock()
	defer mu.Unlock()
	if *m == nil {
		*m = make(map[string]*T)
	}
	if e = (*m)[key]; e != nil {
		return e
	}
	if len(*m) >= MaxStatsKeys {
		key = otherKey
		if e = (*m)[key]; e != nil {
			return e
		}
	}
	e = new(T)
	(*m)[key] = e
	return e
}

func (c *collector) addSent(f *Frame, bytes, wire int) {
	c.sent.add(bytes, wire)
	c.sentKind[f.Kind].add(bytes, wire)
	lookup(&c.mu, &c.sentBy, f.Sender).add(bytes, wire)
}

func (c *collector) addReceived(f *Frame, bytes, wire int) {
	c.recv.add(bytes, wire)
	c.recvKind[f.Kind].add(bytes, wire)
	lookup(&c.mu, &c.recvBy, f.Sender).add(bytes, wire)
}

func (c *collector) addRejected(e *FrameError) {
	c.rejected.Add(1)
	lookup(&c.mu, &c.rejBy, senderKey(e.Sender)).Add(1)
	lookup(&c.mu, &c.rejByReason, e.Reason()).Add(1)
	lookup(&c.mu, &c.rejBySubject, senderKey(e.Subject)).Add(1)
}

// senderKey makes a possibly damaged sender name safe to use as a map key.
func senderKey(s string) string {
	if s == "" {
		return unknownKey
	}
	if !utf8.ValidString(s) {
		return unreadableKey
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return unreadableKey
		}
	}
	return s
}

func (c *collector) snapshot() Stats {
	s := Stats{
		Sent:             c.sent.load(),
		Received:         c.recv.load(),
		SentBySender:     make(map[string]Counts),
		ReceivedBySender: make(map[string]Counts),
		SentByKind:       make(map[Kind]Counts),
		ReceivedByKind:   make(map[Kind]Counts),
		Rejected:         c.rejected.Load(),
		RejectedBySender: make(map[string]uint64),
		RejectedByReason: make(map[string]uint64),
		Dropped:          c.dropped.Load(),

		RejectedBySubject: make(map[string]uint64),
	}
	for k := range c.sentKind {
		if n := c.sentKind[k].load(); n.Msgs > 0 {
			s.SentByKind[Kind(k)] = n
		}
		if n := c.recvKind[k].load(); n.Msgs > 0 {
			s.ReceivedByKind[Kind(k)] = n
		}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, v := range c.sentBy {
		s.SentBySender[k] = v.load()
	}
	for k, v := range c.recvBy {
		s.ReceivedBySender[k] = v.load()
	}
	for k, v := range c.rejBy {
		s.RejectedBySender[k] = v.Load()
	}
	for k, v := range c.rejByReason {
		s.RejectedByReason[k] = v.Load()
	}
	for k, v := range c.rejBySubject {
		s.RejectedBySubject[k] = v.Load()
	}
	return s
}
