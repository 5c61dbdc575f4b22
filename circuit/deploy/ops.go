package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves the metrics at /metrics on addr (host:port; port 0 picks a
// free one) until stop is called, logging the address it listens on and
// any failure of the endpoint to log.
func (m *Metrics) Serve(addr string, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err // "listen tcp ADDR: ..."
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	log.Info("metrics: http://"+l.Addr().String()+"/metrics", "metrics_addr", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// ErrorLog logs a bus's asynchronous errors (slow consumers, rejected
// frames, lost connections): the first Limit of them one by one, then one
// line with the running count every 100, and the total at the end. Its
// Report method is a bus error handler (bus.WithErrorHandler). It is safe
// for concurrent use.
type ErrorLog struct {
	mu         sync.Mutex
	log        *slog.Logger
	limit, n   int
	suppressed int
	muted      bool
}

// NewErrorLog returns an ErrorLog writing to log that shows the first limit
// errors in full.
func NewErrorLog(log *slog.Logger, limit int) *ErrorLog {
	return &ErrorLog{log: log, limit: limit}
}

// Report logs one error.
func (l *ErrorLog) Report(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.muted {
		return
	}
	l.n++
	if l.n <= l.limit {
		l.log.Warn("bus", "err", err)
		return
	}
	l.suppressed++
	if l.suppressed%100 == 0 {
		l.log.Warn(fmt.Sprintf("bus: %d more errors so far, the latest", l.suppressed), "err", err)
	}
}

// Mute drops later errors: the process is leaving, and the connection's
// end is no news.
func (l *ErrorLog) Mute() {
	l.mu.Lock()
	l.muted = true
	l.mu.Unlock()
}

// Close mutes the log and says how many errors were not shown.
func (l *ErrorLog) Close() {
	l.Mute()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suppressed > 0 {
		l.log.Warn(fmt.Sprintf("bus: %d more errors not shown", l.suppressed))
	}
}
