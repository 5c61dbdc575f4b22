package deploy

import (
	"context"
	"log/slog"
	"time"

	"github.com/convngc/convngc/bus"
)

// Host is a worker process's part of a run: the NATS server it joins
// through, the run and the node whose populations it hosts.
type Host struct {
	// URL is the NATS server's URL (comma-separated for a cluster).
	URL string
	// Run and Node name the run and this worker's node in its placement.
	Run, Node string
	// Wait bounds connecting to the server and joining the run (0: while
	// the context lasts); it does not bound the run.
	Wait time.Duration
	// BusOptions configure the connection (name, credentials, TLS, error
	// handler).
	BusOptions []bus.Option
	// Errors, when set, is the connection's error log (its Report the
	// connection's error handler): it is muted when the run ends, so that
	// closing the connection is not logged as a failure, and closed once
	// connected, when Serve returns.
	Errors *ErrorLog
	// Logger and Metrics are WithLogger and WithMetrics (nil: none).
	Logger  *slog.Logger
	Metrics *Metrics
}

// Serve connects (Connect, waiting for the server within Wait) and hosts
// the node's populations (Work) until the run ends (nil), fails, or ctx
// ends. It closes the connection when it returns.
func (h Host) Serve(ctx context.Context) error {
	connCtx := ctx
	if h.Wait > 0 {
		var cancel context.CancelFunc
		connCtx, cancel = context.WithTimeout(ctx, h.Wait)
		defer cancel()
	}
	b, err := Connect(connCtx, h.URL, h.Logger, h.BusOptions...)
	if err != nil {
		return err
	}
	defer b.Close()
	if h.Errors != nil {
		defer h.Errors.Close() // before the connection closes
	}
	err = Work(ctx, b, h.Run, h.Node, WithLogger(h.Logger), WithJoinTimeout(h.Wait), WithMetrics(h.Metrics))
	if h.Errors != nil {
		h.Errors.Mute()
	}
	return err
}
