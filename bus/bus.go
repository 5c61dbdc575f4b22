package bus

import "context"

// Bus carries frames between actors. Both implementations in this package,
// InProc and NATS, satisfy it with the same semantics except where their doc
// comments say otherwise.
//
// Ordering: the frames one goroutine publishes are handled by each matching
// subscription in publication order. Frames from different publishers have
// no mutual order.
//
// Queues: every subscription owns a bounded queue between the bus and its
// handler (see QueueLen). What happens when it is full depends on the bus:
// InProc blocks the publisher until there is room or its context ends
// (backpressure); NATS cannot block a remote publisher, so it drops the
// frame, counts it in Stats.Dropped and reports ErrSlowConsumer to the error
// handler. No frame is lost without being counted.
//
// Ownership: Publish takes ownership of the frame (see Frame).
type Bus interface {
	// Publish sends f on a literal subject (no wildcards). It returns once
	// the frame is queued for every matching local subscriber (InProc) or
	// handed to the client library (NATS); the context bounds any wait.
	Publish(ctx context.Context, subject string, f *Frame) error
	// Subscribe calls h for every frame published on a subject matching
	// the pattern ('*' one token, '>' the rest), one frame at a time, from
	// a goroutine owned by the subscription.
	Subscribe(subject string, h Handler, opts ...SubOption) (Subscription, error)
	// Flush waits until the frames published before it have got as far as
	// the bus can vouch for: handled by every local subscriber (InProc), or
	// processed by the server (NATS). Do not call it from a Handler.
	Flush(ctx context.Context) error
	// Stats returns a snapshot of the bus's counters.
	Stats() Stats
	// Close releases the bus. Later calls to Publish, Subscribe and Flush
	// fail with ErrClosed. Close does not wait for handlers that are
	// running; queued frames not yet handled are counted as dropped.
	// Closing twice is harmless.
	Close() error
}

// Handler receives one frame and the subject it was published on. The
// frame is shared and read-only (see Frame). Handlers of one subscription
// run one at a time, in order; a slow handler fills the subscription's
// queue.
type Handler func(subject string, f *Frame)

// Subscription is a subscriber's handle.
type Subscription interface {
	// Subject returns the subject pattern given to Subscribe.
	Subject() string
	// Unsubscribe stops delivery: no handler call starts after it returns
	// (one already running may still finish). Frames queued but not yet
	// handled are counted as dropped. A second call returns ErrClosed.
	Unsubscribe() error
}

// Compile-time checks.
var (
	_ Bus = (*InProc)(nil)
	_ Bus = (*NATS)(nil)
)
